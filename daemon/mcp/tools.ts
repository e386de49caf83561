/** tools/list and tools/call over the live registry. */
import { ProtocolError, ProtocolErrorCode, type CallToolResult, type Tool } from "@modelcontextprotocol/server";
import { CallCancelledError, messageOf } from "../errors.ts";
import { PluginCallError } from "../plugins/plugin-worker.ts";
import { visibleTool } from "../profiles.ts";
import type { ExposedTool } from "../registry.ts";
import { InputNeeded } from "./call-context.ts";
import { listingOf, profileListing } from "./listing.ts";
import { paginate } from "./pagination.ts";
import type { PatchbayServer } from "./server-factory.ts";
import { toolErrorResult } from "../plugins/results.ts";

function toolItem(t: ExposedTool): Tool {
  return {
    name: t.exposed,
    title: t.info.title,
    description: t.info.description,
    inputSchema: t.info.inputSchema as Tool["inputSchema"],
    outputSchema: t.info.outputSchema as Tool["outputSchema"],
    annotations: t.info.annotations,
  };
}

/** A known tool's span and metric attributes, made once per loaded tool (read-only downstream). */
const toolAttributes = new WeakMap<ExposedTool, Readonly<Record<string, string>>>();
function attributesOf(tool: ExposedTool, name: string): Readonly<Record<string, string>> {
  let a = toolAttributes.get(tool);
  const m = tool.plugin.manifest;
  if (!a || a["gen_ai.tool.name"] !== name || a["patchbay.plugin.name"] !== m.name || a["patchbay.plugin.version"] !== (m.version || undefined)) {
    const made: Record<string, string> = { "gen_ai.tool.name": name, "gen_ai.operation.name": "execute_tool", "patchbay.plugin.name": m.name };
    if (m.version) made["patchbay.plugin.version"] = m.version;
    toolAttributes.set(tool, (a = Object.freeze(made)));
  }
  return a;
}

export function installTools(server: PatchbayServer): void {
  const { registry, pageSize } = server.deps;
  const profile = server.conn.profile;

  server.setRequestHandler("tools/list", (req, ctx) =>
    server.serve(ctx, { method: "tools/list" }, async () => {
      const { page, nextCursor } = paginate(profileListing(listingOf(registry.tools, toolItem), profile), req.params?.cursor, pageSize);
      return { tools: page, nextCursor };
    }),
  );

  server.setRequestHandler("tools/call", (req, ctx) => {
    const name = req.params.name;
    // outside the profile is answered exactly as unknown
    const tool = visibleTool(registry, profile, name);
    const attributes = tool ? attributesOf(tool, name) : { "gen_ai.tool.name": name, "gen_ai.operation.name": "execute_tool" };
    return server.serve(ctx, { method: "tools/call", target: name, attributes, args: req.params.arguments }, async (call) => {
      if (!tool) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${name}`);
      try {
        const value = await call.callPlugin(tool.plugin, "tool", tool.info.name, { args: req.params.arguments ?? {} }, name);
        // the SDK's projection for low-level handlers (text fallback for structured content, per-era shape)
        return server.projectCallToolResult(value as CallToolResult, tool.info.outputSchema);
      } catch (err) {
        if (err instanceof InputNeeded) return call.inputRequiredResult(err, name);
        if (err instanceof CallCancelledError || err instanceof ProtocolError) throw err;
        if (err instanceof PluginCallError && !err.detail.validation) call.logger.error({ err: err.detail, tool: name }, "tool call failed in plugin");
        // Validation failures, timeouts, dead workers and refused client requests are
        // tool-level errors the model can read.
        return toolErrorResult(messageOf(err));
      }
    });
  });
}
