/** Answers a `tools/call`: validates the arguments, runs the handler, checks its output. */
import { toCallToolResult, toolErrorResult } from "../results.ts";
import type { ArgValidator } from "./plugin-shape.ts";
import type { PluginInstance } from "./plugin-instance.ts";
import { ValidationFailure } from "./validation-failure.ts";
import type { CallRequest } from "../worker-protocol.ts";
import type { CallContext } from "../../api.ts";

/**
 * The spec has servers give structured results that conform to a tool's output schema, and
 * clients that listed the tool reject a call whose result does not (a protocol error the
 * model never sees). So a successful result that does not conform becomes a tool error
 * naming the mismatch, as the SDK's own server does; error results are not checked.
 */
function checkedOutput(result: Record<string, unknown>, check: ArgValidator, tool: string): Record<string, unknown> {
  if (result.isError === true) return result;
  if (result.structuredContent === undefined) return toolErrorResult(`Output validation error: tool ${tool} has an output schema but its result has no structured content (return an object that matches the schema)`);
  const r = check(result.structuredContent);
  return r.ok ? result : toolErrorResult(`Output validation error: the result of tool ${tool} does not match its output schema: ${r.message}`);
}

export async function callTool({ plugin }: PluginInstance, req: CallRequest, ctx: CallContext): Promise<Record<string, unknown>> {
  const tool = plugin.tools.get(req.target);
  if (!tool) throw new Error(`unknown tool ${req.target}`);
  const v = tool.validate(req.args);
  if (!v.ok) throw new ValidationFailure(`Invalid arguments for tool ${req.target}: ${v.message}`);
  let result: Record<string, unknown>;
  try {
    result = toCallToolResult(await tool.handler(v.value, ctx), tool.hasOutput);
  } catch (err) {
    // A throwing tool is a tool-level error the model can read, not a protocol error.
    return toolErrorResult(err instanceof Error ? err.message : String(err));
  }
  return tool.checkOutput ? checkedOutput(result, tool.checkOutput, req.target) : result;
}
