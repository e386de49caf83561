/**
 * The one server class every transport serves: the SDK's low-level `Server` with Patchbay's
 * capabilities, bound to the connection it serves, and the wrapper every handler runs in.
 * Feature handlers (tools.ts, resources.ts, …) install themselves on it; server-factory.ts
 * puts the two together, so the handler files need only this file, not the factory.
 */
import { isInputRequiredResult, type ServerContext } from "@modelcontextprotocol/server";
import { CallContext, type CallSpec, type Connection, type McpDeps } from "./call-context.ts";
import { checkParams } from "./request-params.ts";
import { NotInitializedError } from "../errors.ts";
import { isPlainToolResult } from "./plain-tool-result.ts";
import { toolErrorResult } from "../plugins/results.ts";
import { startupWait } from "./startup-wait.ts";
import { SeamedServer, sdkInvalidToolResultReason, type RequestHandler } from "./sdk-seams.ts";

export const SERVER_NAME = "patchbay";
const INSTRUCTIONS = "Patchbay aggregates the tools, resources and prompts of every plugin in its plugins folder. Tool and prompt names are <plugin>__<name>.";

/** How long clients may reuse a list result (2026-07-28 cache hints); list_changed on a listen stream ends it early. */
export const LIST_TTL_MS = 5_000;
/** discover's answer changes only with the daemon's version (capabilities do not depend on which plugins are loaded). */
export const DISCOVER_TTL_MS = 60_000;

/** The SDK's low-level Server, bound to the connection it serves. */
export class PatchbayServer extends SeamedServer {
  constructor(
    readonly deps: McpDeps,
    readonly conn: Connection,
  ) {
    super(
      { name: SERVER_NAME, version: deps.version, title: "Patchbay" },
      {
        // What Patchbay serves, whatever the registry holds right now: plugins come and go
        // with hot reload, and `listChanged` is how a client learns that lists filled in.
        capabilities: {
          tools: { listChanged: true },
          resources: { listChanged: true, subscribe: true },
          prompts: { listChanged: true },
          completions: {},
          // 2025: logging/setLevel; 2026-07-28: log messages only when a request's _meta asks for a level
          logging: {},
        },
        instructions: INSTRUCTIONS,
        debouncedNotificationMethods: ["notifications/tools/list_changed", "notifications/resources/list_changed", "notifications/prompts/list_changed"],
        requestState: { verify: deps.requestState.verify },
        cacheHints: {
          "tools/list": { ttlMs: LIST_TTL_MS, cacheScope: deps.cacheScope },
          "prompts/list": { ttlMs: LIST_TTL_MS, cacheScope: deps.cacheScope },
          "resources/list": { ttlMs: LIST_TTL_MS, cacheScope: deps.cacheScope },
          "resources/templates/list": { ttlMs: LIST_TTL_MS, cacheScope: deps.cacheScope },
          "server/discover": { ttlMs: DISCOVER_TTL_MS, cacheScope: deps.cacheScope },
        },
      },
    );
  }

  /** Runs a handler in its call context (span, guard, accounting); see call-context.ts. */
  serve<T>(ctx: ServerContext, spec: CallSpec, fn: (call: CallContext) => Promise<T>): Promise<T> {
    return new CallContext(this.deps, this, this.conn, ctx).run(spec, fn);
  }

  /**
   * Every handler registration passes here (sdk-seams.ts). When a request
   * fails, our params check names the field: the SDK reports a params mismatch as -32603
   * with a whole schema dump (or a long -32602 for tools/call), so a request whose params do
   * not match is answered -32602 with a short message on every method and transport. The
   * check runs only on failure (the SDK validates before any handler runs, so nothing has
   * happened yet): the happy path validates once. And server/discover, which the SDK's
   * serving entries install themselves, gets its span like every other method.
   */
  protected wrapRequestHandler(method: string, handler: RequestHandler): RequestHandler {
    const inner = method === "tools/call" ? this.wrapToolsCall(handler) : this.sdkWrapHandler(method, handler);
    // The 2025 lifecycle has initialize come first. Streamable HTTP enforces it (no session
    // without it); on SSE, WebSocket and stdio a connection could be served uninitialized.
    const needsInit = method !== "initialize" && method !== "ping";
    const checked: RequestHandler = async (request, ctx) => {
      if (needsInit && this.conn.era === "legacy" && this.getClientVersion() === undefined) throw new NotInitializedError(method);
      // while the plugins folder is still loading after start, listings wait for it a while
      const wait = startupWait(this.deps.startup, this.deps.registry, request);
      if (wait) await wait;
      try {
        return await inner(request, ctx);
      } catch (err) {
        // a bad request is reported as such, whatever the SDK or a handler made of it
        checkParams(method, request);
        throw err;
      }
    };
    if (method === "server/discover") return (request, ctx) => this.serve(ctx, { method }, () => checked(request, ctx));
    return checked;
  }

  /**
   * The SDK's own tools/call wrapper validates the request a second time (the handler it
   * wraps already did) and every result against the full `CallToolResult` schema: together
   * about a quarter of the daemon's allocations per call under load. This one runs the
   * handler through the SDK's own multi-round-trip seam and answers a plain result (text
   * blocks; see plain-tool-result.ts) as it is; any other result is handed, unchanged, to
   * the SDK's wrapper for its checks (the handler is not run again). The seam is private
   * in the SDK (sdk-seams.ts): should it move in an SDK release, every call takes the SDK's path.
   */
  private wrapToolsCall(handler: RequestHandler): RequestHandler {
    const seam = this.sdkInputRequiredSeam();
    if (!seam) return asToolErrorIfInvalid(this.sdkWrapHandler("tools/call", handler));
    return async (request, ctx) => {
      const result = await seam("tools/call", handler, request, ctx);
      if (isInputRequiredResult(result) || isPlainToolResult(result)) return result;
      // the requestState was verified on the way in: not again, after the handler's work is done
      const checked = { ...ctx, mcpReq: { ...ctx.mcpReq, requestState: () => undefined } } as ServerContext;
      return asToolErrorIfInvalid(this.sdkWrapHandler("tools/call", async () => result))(request, checked);
    };
  }
}

/**
 * A plugin's result that the MCP schema rejects is the plugin's fault, not the client's:
 * the SDK answers it with -32602 (invalid params) and a schema dump. It becomes a tool error
 * result instead, which the model can read, with the first lines of the SDK's reason.
 */
function asToolErrorIfInvalid(wrapped: RequestHandler): RequestHandler {
  return async (request, ctx) => {
    try {
      return await wrapped(request, ctx);
    } catch (err) {
      const reason = sdkInvalidToolResultReason(err);
      if (reason === undefined) throw err;
      return toolErrorResult(`The tool returned a result that is not a valid tool result (${reason}): a bug in its plugin or upstream server.`);
    }
  };
}
