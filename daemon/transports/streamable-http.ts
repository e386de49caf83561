/**
 * Streamable HTTP at `/mcp` (MCP 2025-11-25 and the older versions the SDK negotiates),
 * stateful: one SDK `StreamableHTTPServerTransport` per `Mcp-Session-Id`. This file routes
 * requests to the right session and answers what the spec asks before a session exists:
 * 405 for other methods, 406 for a wrong Accept, 415 for a wrong Content-Type, 413 over the
 * body limit, -32700 for malformed JSON, 400 for a missing session id, 404 for an unknown one.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { readJsonBody, sendRpcError } from "../http-server.ts";
import { newSessionInfo, openSession, type SessionDeps } from "../session.ts";

export interface StreamableHttpOptions {
  maxBodyBytes: number;
}

export function createStreamableHttpRoute(deps: SessionDeps, opts: StreamableHttpOptions) {
  const transports = new Map<string, StreamableHTTPServerTransport>();

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
      if (typeof body !== "object" || body === null) return sendRpcError(res, 400, -32600, "Invalid Request: expected a JSON-RPC message");

      if (sessionId) {
        const t = transports.get(sessionId);
        if (!t) return sendRpcError(res, 404, -32001, "Session not found");
        deps.store.touch(sessionId);
        return t.handleRequest(req, res, body);
      }
      const messages = Array.isArray(body) ? body : [body];
      if (!messages.some((m) => isInitializeRequest(m))) {
        return sendRpcError(res, 400, -32000, "Bad Request: Mcp-Session-Id header is required (send initialize first)");
      }
      if (!deps.store.hasRoom()) return sendRpcError(res, 503, -32000, "Too many open sessions; try again later", { "retry-after": "5" });
      // We pick the id up front so the session's info and the transport share it.
      const id = randomUUID();
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => id,
        onsessioninitialized: (sid) => {
          transports.set(sid, transport);
        },
      });
      transport.onclose = () => {
        transports.delete(id);
      };
      await openSession(transport, newSessionInfo(id, "streamable-http", { remoteAddress: req.socket.remoteAddress }), deps);
      return transport.handleRequest(req, res, body);
    }

    // GET (SSE stream) and DELETE need an existing session.
    if (!sessionId) return sendRpcError(res, 400, -32000, "Bad Request: Mcp-Session-Id header is required");
    const t = transports.get(sessionId);
    if (!t) return sendRpcError(res, 404, -32001, "Session not found");
    deps.store.touch(sessionId);
    return t.handleRequest(req, res);
  };
}

