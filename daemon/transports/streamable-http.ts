/**
 * Streamable HTTP at `/mcp` (MCP 2025-11-25 and the older versions the SDK negotiates),
 * stateful: one SDK `StreamableHTTPServerTransport` per `Mcp-Session-Id`, kept with its
 * session in the session store. This file answers what the spec asks before a message
 * reaches a session: 405 for other methods, 406 for a wrong Accept, 415 for a wrong
 * Content-Type, 413 over the body limit, -32700 for malformed JSON, -32600 for JSON that is
 * not a JSON-RPC message or repeats a request id still in flight, 400 for a missing session
 * id, 404 for an unknown (or evicted) one, 503 when no session can be admitted.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest, isJSONRPCRequest, JSONRPCMessageSchema, type JSONRPCMessage, type RequestId } from "@modelcontextprotocol/sdk/types.js";
import { RpcCode } from "../errors.ts";
import { readJsonBody, sendJson, sendRpcError } from "../http-server.ts";
import { newSessionInfo, openSession, type SessionDeps } from "../session.ts";

export interface StreamableHttpOptions {
  maxBodyBytes: number;
}

/** A JSON-RPC request id as a map key: 1 and "1" are different ids. */
const idKey = (id: RequestId) => `${typeof id}:${id}`;

export function createStreamableHttpRoute(deps: SessionDeps, opts: StreamableHttpOptions) {
  /**
   * Request ids whose POST is still open, per session. The SDK transport maps a response to
   * its POST by id, so a second request with an id still in flight would take over the
   * first one's mapping and leave one of the two POSTs unanswered forever.
   */
  const openIds = new Map<string, Set<string>>();

  /** The session's SDK transport, recording the activity; undefined for an unknown id. */
  function lookup(sessionId: string): StreamableHTTPServerTransport | undefined {
    const t = deps.store.use(sessionId, "streamable-http")?.transport;
    return t instanceof StreamableHTTPServerTransport ? t : undefined;
  }

  /** Claims the requests' ids for this POST until its response is done; false if one is taken. */
  function claimIds(sessionId: string, messages: JSONRPCMessage[], res: ServerResponse): RequestId | undefined {
    const ids = messages.filter(isJSONRPCRequest).map((m) => m.id);
    if (ids.length === 0) return undefined;
    const open = openIds.get(sessionId) ?? new Set<string>();
    const seen = new Set<string>();
    for (const id of ids) {
      const k = idKey(id);
      if (open.has(k) || seen.has(k)) return id;
      seen.add(k);
    }
    for (const k of seen) open.add(k);
    openIds.set(sessionId, open);
    res.once("close", () => {
      for (const k of seen) open.delete(k);
      if (open.size === 0 && openIds.get(sessionId) === open) openIds.delete(sessionId);
    });
    return undefined;
  }

  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    if (!["POST", "GET", "DELETE"].includes(method)) {
      return sendRpcError(res, 405, -32000, "Method not allowed", { allow: "GET, POST, DELETE" });
    }
    const sessionId = req.headers["mcp-session-id"];
    if (Array.isArray(sessionId)) return sendRpcError(res, 400, -32600, "Bad Request: more than one Mcp-Session-Id header");

    if (method === "POST") {
      const accept = String(req.headers.accept ?? "");
      if (!accept.includes("application/json") || !accept.includes("text/event-stream")) {
        return sendRpcError(res, 406, -32000, "Not Acceptable: Accept must include both application/json and text/event-stream");
      }
      const parsed = await readJsonBody(req, res, opts.maxBodyBytes);
      if (!parsed.ok) return;
      const body = parsed.body;
      // Well-formed JSON that is not a JSON-RPC message (or batch of them) is an Invalid
      // Request; the SDK would call it a parse error.
      const raw = Array.isArray(body) ? body : [body];
      if (raw.length === 0 || !raw.every((m) => JSONRPCMessageSchema.safeParse(m).success)) {
        return sendRpcError(res, 400, RpcCode.InvalidRequest, "Invalid Request: expected a JSON-RPC 2.0 message or a non-empty array of them");
      }
      const messages = raw as JSONRPCMessage[];

      if (sessionId) {
        const t = lookup(sessionId);
        if (!t) return sendRpcError(res, 404, -32001, "Session not found");
        const duplicate = claimIds(sessionId, messages, res);
        if (duplicate !== undefined) {
          return sendJson(res, 400, { jsonrpc: "2.0", id: duplicate, error: { code: RpcCode.InvalidRequest, message: "Invalid Request: duplicate request id in flight" } });
        }
        return t.handleRequest(req, res, body);
      }
      if (!messages.some((m) => isInitializeRequest(m))) {
        return sendRpcError(res, 400, -32000, "Bad Request: Mcp-Session-Id header is required (send initialize first)");
      }
      const admitted = deps.store.admit("streamable-http");
      if (!admitted.ok) return sendRpcError(res, 503, -32000, `Too many open sessions (${admitted.reason}); try again later`, { "retry-after": "5" });
      // We pick the id up front so the session's info and the transport share it.
      const id = randomUUID();
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => id });
      const server = await openSession(transport, newSessionInfo(id, "streamable-http", { remoteAddress: req.socket.remoteAddress }), deps);
      await transport.handleRequest(req, res, body);
      // The SDK refused the initialize (e.g. batched with other messages): nobody can ever
      // reach this session, so it must not hold a slot until the idle timeout.
      if (transport.sessionId === undefined) await server.close().catch(() => undefined);
      return;
    }

    // GET (SSE stream) and DELETE need an existing session.
    if (!sessionId) return sendRpcError(res, 400, -32000, "Bad Request: Mcp-Session-Id header is required");
    const t = lookup(sessionId);
    if (!t) return sendRpcError(res, 404, -32001, "Session not found");
    if (method === "GET") {
      // An open GET stream is a client still listening: such a session is evicted only
      // after those without one.
      const closed = deps.store.streamOpened(sessionId);
      res.once("close", closed);
    }
    return t.handleRequest(req, res);
  };
}
