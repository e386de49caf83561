/** Answers a `prompts/get`: validates the arguments and renders the prompt. */
import { toGetPromptResult } from "../results.ts";
import type { PluginInstance } from "./plugin-instance.ts";
import { ValidationFailure } from "./validation-failure.ts";
import type { CallRequest } from "../worker-protocol.ts";
import type { CallContext } from "../../api.ts";

export async function getPrompt({ plugin }: PluginInstance, req: CallRequest, ctx: CallContext): Promise<unknown> {
  const pr = plugin.prompts.get(req.target);
  if (!pr) throw new Error(`unknown prompt ${req.target}`);
  const v = pr.validate(req.args);
  if (!v.ok) throw new ValidationFailure(`Invalid arguments for prompt ${req.target}: ${v.message}`);
  return toGetPromptResult(await pr.render(v.value, ctx), pr.info.description);
}
