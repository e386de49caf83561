/**
 * Answers a `completion/complete` for one argument of a prompt or template, with the
 * plugin's own context. A missing completer or a non-array answer completes nothing.
 */
import type { PluginInstance } from "./plugin-instance.ts";
import type { CallRequest } from "../worker-protocol.ts";

export async function completeArgument({ plugin, ctx }: PluginInstance, req: CallRequest): Promise<string[]> {
  const { refType, argName, value } = req.args as { refType: "prompt" | "template"; argName: string; value: string };
  const owner = refType === "prompt" ? plugin.prompts.get(req.target) : plugin.templates.get(req.target);
  const fn = owner?.complete[argName];
  if (!fn) return [];
  const values = await fn(value, ctx);
  return Array.isArray(values) ? values.map(String) : [];
}
