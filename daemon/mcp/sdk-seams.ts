/**
 * Every place Patchbay reaches past the public API of the MCP TypeScript SDK (v2), in one
 * file: private entry points it calls, members it overrides or overwrites, and error text
 * it reads. Each is a cost saving or a fix the public API offers no way to make; each was
 * checked against @modelcontextprotocol/server 2.4.0 (which bundles core 2.4.0's
 * `Protocol`), the exact version package.json pins. test/sdk-seams.test.ts fails, naming
 * the seam, when an upgrade moves one of them: re-check each seam below against the new
 * version's source, then update `SDK_SEAMS_CHECKED_AGAINST` and the pin together.
 *
 * Where a seam can be missing at run time, the code falls back to the SDK's public path
 * (slower, same answers); where it cannot, the test is the only guard.
 */
import { McpServer, ProtocolError, Server, type JSONRPCMessage, type JSONRPCRequest, type MessageExtraInfo, type Result, type ServerContext } from "@modelcontextprotocol/server";

/** The SDK release every seam below was read against (package.json pins exactly this). */
export const SDK_SEAMS_CHECKED_AGAINST = { "@modelcontextprotocol/server": "2.4.0" } as const;

export type RequestHandler = (request: JSONRPCRequest, ctx: ServerContext) => Promise<Result>;

/** What the SDK's request entry takes: one request as received, and the transport's extra info. */
export type RequestEntry = (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;

/**
 * Seam `Protocol._onrequest` (private; checked against server 2.4.0, arity 2: raw request,
 * extra): the entry `Protocol.connect`'s `onmessage` calls once it has classified a message
 * as a request. Calling it directly skips that classification (four zod parses per
 * request, see transports/request-dispatch.ts). Undefined when a release no longer has it: the
 * caller then delivers through `onmessage`.
 */
export function sdkRequestEntry(server: object): RequestEntry | undefined {
  const entry = (server as { _onrequest?: unknown })._onrequest;
  return typeof entry === "function" ? (entry as RequestEntry) : undefined;
}

/**
 * The SDK's low-level `Server` with its two handler seams reachable from a subclass.
 *
 * Seam `Server._wrapHandler` (protected, checked against server 2.4.0, arity 2: method,
 * handler): every `setRequestHandler` registration passes through it, including the ones
 * the SDK's serving entries install themselves (server/discover); overriding it is the only
 * way to put one wrapper around every handler. Subclasses implement `wrapRequestHandler`
 * and reach the SDK's own wrapper through `sdkWrapHandler`.
 *
 * Seam `Server._invokeInputRequiredCapableHandler` (private, checked against server 2.4.0,
 * arity 4: method, handler, request, ctx): the multi-round-trip part of the SDK's tools/call
 * wrapper (requestState verification, input_required checks, the 2025 legacy shim), without
 * its second request validation and full result-schema validation.
 */
export abstract class SeamedServer extends Server {
  /** Every handler registration's wrapper (the `_wrapHandler` seam). */
  protected abstract wrapRequestHandler(method: string, handler: RequestHandler): RequestHandler;

  protected override _wrapHandler(method: string, handler: RequestHandler): RequestHandler {
    return this.wrapRequestHandler(method, handler);
  }

  /** The SDK's own wrapper for `method` (validation, cache hints, the input_required seam). */
  protected sdkWrapHandler(method: string, handler: RequestHandler): RequestHandler {
    return super._wrapHandler(method, handler);
  }

  /** The SDK's multi-round-trip seam bound to this server; undefined if a release no longer has it. */
  protected sdkInputRequiredSeam(): ((method: string, handler: RequestHandler, request: JSONRPCRequest, ctx: ServerContext) => Promise<Result>) | undefined {
    const seam = (this as unknown as { _invokeInputRequiredCapableHandler?: (m: string, h: RequestHandler, r: JSONRPCRequest, c: ServerContext) => Promise<Result> })._invokeInputRequiredCapableHandler;
    if (typeof seam !== "function") return undefined;
    return (method, handler, request, ctx) => seam.call(this, method, handler, request, ctx);
  }
}

/**
 * Seam: the text of the SDK's error for a tools/call result its schema rejects (checked
 * against server 2.4.0: a `ProtocolError` whose message is "Invalid tools/call result: "
 * followed by zod's issue list as JSON). Returns the first few issues, one line each, or
 * undefined for any other error. Should the text change, an invalid result is answered as
 * the SDK answers it (-32602) instead of as a tool error.
 */
export function sdkInvalidToolResultReason(err: unknown): string | undefined {
  const message = err instanceof Error ? err.message : "";
  if (!(err instanceof ProtocolError) || !message.startsWith(INVALID_TOOL_RESULT)) return undefined;
  const raw = message.slice(INVALID_TOOL_RESULT.length);
  try {
    const issues = JSON.parse(raw) as { path?: unknown[]; message?: string }[];
    if (Array.isArray(issues) && issues.length > 0) return issues.slice(0, 3).map((i) => `${(i.path ?? []).join(".") || "(result)"}: ${i.message ?? "invalid"}`).join("; ").slice(0, 500);
  } catch {
    // not JSON: its first line
  }
  return raw.trim().split("\n")[0].slice(0, 500);
}
export const INVALID_TOOL_RESULT = "Invalid tools/call result:";

/**
 * The `McpServer` face of one low-level server, for the SDK's `createMcpHandler`, which
 * checks the SEP-2243 `Mcp-Param-*` headers of a tools/call only for `McpServer` products.
 *
 * Seam: overwriting `McpServer.server` (declared `readonly`, an own writable field in the
 * built code; checked against server 2.4.0). The McpServer builds a Server of its own,
 * replaced at once: with no capabilities it installs no handlers on it.
 *
 * Seam: overriding `McpServer.toolInputSchemaJson` (`@internal`, checked against server
 * 2.4.0, arity 1: tool name): what the entry's `Mcp-Param-*` check reads for a tool's
 * input schema; answered here from the live registry instead of McpServer's own tools.
 */
export class ServerShell<S extends Server = Server> extends McpServer {
  constructor(
    inner: S,
    private readonly inputSchemaOf: (tool: string) => Record<string, unknown> | undefined,
  ) {
    super({ name: "patchbay", version: "0" });
    (this as { server: Server }).server = inner;
  }

  /** The JSON Schema `tools/list` advertises for the tool (read by the entry's `Mcp-Param-*` check). */
  override toolInputSchemaJson(name: string): Record<string, unknown> | undefined {
    return this.inputSchemaOf(name);
  }
}

/**
 * Seam: wrapping an instance's `close` (checked against server 2.4.0, where
 * `Protocol.close()` only closes the transport, so on an instance that was never connected
 * it does nothing and `onclose` never fires). subscriptions/listen and early rejections in
 * `createMcpHandler` close() an instance it never connected; `unconnected` is called for
 * such a close instead.
 */
export function onUnconnectedClose(server: Server, unconnected: () => void): void {
  const close = server.close.bind(server);
  server.close = async () => {
    if (server.transport === undefined) return unconnected();
    return close();
  };
}
