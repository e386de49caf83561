/**
 * tools/list and tools/call over the live registry, and the view's way of exposing tools:
 * every tool (`all`), or in search mode the pinned tools plus `patchbay__search_tools` and
 * `patchbay__call_tool` (context/). A call through `call_tool` takes exactly the path of a
 * direct call of the real tool — profile check, rate limits, audit line, span and dashboard
 * row all name the real tool.
 */
import { ProtocolError, ProtocolErrorCode, type CallToolResult, type ServerContext, type Tool } from "@modelcontextprotocol/server";
import { CallCancelledError, messageOf, PluginCallError } from "../errors.ts";
import { visibleTool, type Profile } from "../profiles.ts";
import type { ExposedTool, Registry } from "../registry.ts";
import { InputNeeded } from "./call-context.ts";
import { listingOf, profileListing } from "./listing.ts";
import { paginate } from "./pagination.ts";
import type { PatchbayServer } from "./patchbay-server.ts";
import { toolErrorResult } from "../plugins/results.ts";
import { toolItem } from "../list-items.ts";
import { isPlainObject } from "../plain-object.ts";
import { resultSize } from "../context/result-size.ts";
import { SEARCH_LIMIT_DEFAULT, SEARCH_LIMIT_MAX } from "../context/builtin-tools.ts";
import { searchTools } from "../context/tool-search.ts";
import type { ContextEconomy } from "./call-context.ts";

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

const searchListings = new WeakMap<Map<string, ExposedTool>, Map<Profile | undefined, Tool[]>>();
/** The search-mode listing of a view: its two search tools first, then its pinned tools by name. */
function searchListing(eco: ContextEconomy, registry: Registry, profile: Profile | undefined): Tool[] {
  let byView = searchListings.get(registry.tools);
  if (!byView) searchListings.set(registry.tools, (byView = new Map()));
  let list = byView.get(profile);
  if (!list) {
    const settings = eco.costs.settings(profile);
    const pinned = profileListing(listingOf(registry.tools, toolItem), profile).filter((t) => settings.pinned(t.name) && !eco.builtins.items.some((b) => b.name === t.name));
    byView.set(profile, (list = [...eco.builtins.items, ...pinned]));
  }
  return list;
}

/** The closest names a view may call, for an error that names what the caller may have meant. */
function closestNames(registry: Registry, profile: Profile | undefined, name: string): string[] {
  const allows = profile ? (n: string) => profile.allows(n) : undefined;
  return searchTools(registry.tools, name.replace(/[_-]+/g, " "), 3, allows).map((h) => h.tool.exposed);
}

export function installTools(server: PatchbayServer): void {
  const { registry, pageSize, context: eco } = server.deps;
  const profile = server.conn.profile;
  const builtinAttributes = (name: string) => ({ "gen_ai.tool.name": name, "gen_ai.operation.name": "execute_tool", "patchbay.plugin.name": "patchbay" });

  server.setRequestHandler("tools/list", (req, ctx) =>
    server.serve(ctx, { method: "tools/list" }, async () => {
      const all = eco && eco.costs.mode(profile) === "search" ? searchListing(eco, registry, profile) : profileListing(listingOf(registry.tools, toolItem), profile);
      const { page, nextCursor } = paginate(all, req.params?.cursor, pageSize);
      return { tools: page, nextCursor };
    }),
  );

  /** A direct call of a registry tool (also what call_tool runs). */
  function callTool(ctx: ServerContext, name: string, tool: ExposedTool | undefined, args: Record<string, unknown> | undefined, via?: string) {
    const attributes = tool ? attributesOf(tool, name) : { "gen_ai.tool.name": name, "gen_ai.operation.name": "execute_tool" };
    return server.serve(ctx, { method: "tools/call", target: name, attributes: via ? { ...attributes, "patchbay.call.via": via } : attributes, args }, async (call) => {
      if (!tool) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${name}`);
      try {
        const value = await call.callPlugin(tool.plugin, "tool", tool.info.name, { args: args ?? {} }, name);
        // the SDK's projection for low-level handlers (text fallback for structured content, per-era shape)
        const result = server.projectCallToolResult(value as CallToolResult, tool.info.outputSchema);
        call.noteResultSize(resultSize(result as CallToolResult));
        return result;
      } catch (err) {
        if (err instanceof InputNeeded) return call.inputRequiredResult(err, name);
        if (err instanceof CallCancelledError || err instanceof ProtocolError) throw err;
        if (err instanceof PluginCallError && !err.detail.validation) call.logger.error({ err: err.detail, tool: name }, "tool call failed in plugin");
        // Validation failures, timeouts, dead workers and refused client requests are
        // tool-level errors the model can read.
        return toolErrorResult(messageOf(err));
      }
    });
  }

  server.setRequestHandler("tools/call", (req, ctx) => {
    const name = req.params.name;
    // outside the profile is answered exactly as unknown
    const tool = visibleTool(registry, profile, name);
    if (eco && (name === eco.builtins.searchName || name === eco.builtins.callName) && !(tool && eco.costs.mode(profile) === "all")) {
      const args = req.params.arguments ?? {};
      if (name === eco.builtins.searchName) {
        return server.serve(ctx, { method: "tools/call", target: name, attributes: builtinAttributes(name), args }, async (call) => {
          const { query, limit } = args as { query?: unknown; limit?: unknown };
          if (typeof query !== "string" || query.trim() === "") return toolErrorResult(`${name}: "query" must be a non-empty string saying what you want to do`);
          if (limit !== undefined && (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > SEARCH_LIMIT_MAX)) return toolErrorResult(`${name}: "limit" must be a whole number from 1 to ${SEARCH_LIMIT_MAX}`);
          const allows = (n: string) => (!profile || profile.allows(n)) && n !== eco.builtins.searchName && n !== eco.builtins.callName;
          const hits = searchTools(registry.tools, query, (limit as number | undefined) ?? SEARCH_LIMIT_DEFAULT, allows);
          const tools = hits.map(({ tool: t }) => {
            const item = toolItem(t);
            return { name: item.name, title: item.title, description: item.description, inputSchema: item.inputSchema };
          });
          const text = tools.length
            ? `${tools.length} tool${tools.length === 1 ? "" : "s"} found. Call one with ${eco.builtins.callName} { "name": "<tool name>", "arguments": { … } }.\n${JSON.stringify({ tools })}`
            : `No tool matches "${query}". Try other words for what you want to do.`;
          const result = { content: [{ type: "text" as const, text }], structuredContent: { tools } };
          call.noteResultSize(resultSize(result));
          return result;
        });
      }
      const { name: inner, arguments: innerArgs } = args as { name?: unknown; arguments?: unknown };
      const bad = typeof inner !== "string" || inner === "" ? `"name" must be the name of a tool (find one with ${eco.builtins.searchName})` : innerArgs !== undefined && !isPlainObject(innerArgs) ? `"arguments" must be an object of the tool's arguments` : undefined;
      const target = typeof inner === "string" && !bad ? visibleTool(registry, profile, inner) : undefined;
      if (bad || !target) {
        return server.serve(ctx, { method: "tools/call", target: name, attributes: builtinAttributes(name), args }, async () => {
          if (bad) return toolErrorResult(`${name}: ${bad}`);
          const near = closestNames(registry, profile, inner as string);
          return toolErrorResult(`Unknown tool: ${inner}.${near.length ? ` Closest: ${near.join(", ")}.` : ""} Find tools with ${eco.builtins.searchName}.`);
        });
      }
      return callTool(ctx, inner as string, target, innerArgs as Record<string, unknown> | undefined, name);
    }
    return callTool(ctx, name, tool, req.params.arguments);
  });
}
