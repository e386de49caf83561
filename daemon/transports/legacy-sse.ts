/**
 * Legacy HTTP+SSE (protocol 2024-11-05 clients): `GET /sse` opens the event stream and
 * announces `/messages?sessionId=…`, where the client POSTs its messages. Built on the
 * SDK's (deprecated but present) `SSEServerTransport`; we add body limits, clear errors and
 * keepalive comments so proxies do not drop an idle stream.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { SSEServerTransport } from "@modelcontextprotocol/sdk/server/sse.js";
import type { Logger } from "pino";
import { readJsonBody, sendRpcError } from "../http-server.ts";
import { newSessionInfo, openSession, type SessionDeps } from "../session.ts";

export interface LegacySseOptions {
  maxBodyBytes: number;
  keepAliveMs: number;
}

export function createLegacySseRoutes(deps: SessionDeps, opts: LegacySseOptions, logger: Logger) {
  const transports = new Map<string, SSEServerTransport>();

  async function stream(req: IncomingMessage, res: ServerResponse) {
    if (req.method !== "GET") return sendRpcError(res, 405, -32000, "Method not allowed", { allow: "GET" });
    if (!deps.store.hasRoom()) return sendRpcError(res, 503, -32000, "Too many open sessions; try again later", { "retry-after": "5" });
    const transport = new SSEServerTransport("/messages", res);
    const id = transport.sessionId;
    transports.set(id, transport);
    const keepAlive = setInterval(() => {
      if (!res.writableEnded) res.write(": keepalive\n\n");
    }, opts.keepAliveMs);
    keepAlive.unref();
    res.on("close", () => {
      clearInterval(keepAlive);
      transports.delete(id);
      void transport.close().catch(() => undefined);
    });
    try {
      await openSession(transport, newSessionInfo(id, "sse", { remoteAddress: req.socket.remoteAddress }), deps);
    } catch (err) {
      logger.error({ err }, "could not open SSE session");
      res.end();
    }
  }

  async function messages(req: IncomingMessage, res: ServerResponse, url: URL) {
    if (req.method !== "POST") return sendRpcError(res, 405, -32000, "Method not allowed", { allow: "POST" });
    const sessionId = url.searchParams.get("sessionId");
    if (!sessionId) return sendRpcError(res, 400, -32000, "Bad Request: sessionId query parameter is required");
    const transport = transports.get(sessionId);
    if (!transport) return sendRpcError(res, 404, -32001, "Session not found");
    const parsed = await readJsonBody(req, res, opts.maxBodyBytes);
    if (!parsed.ok) return;
    deps.store.touch(sessionId);
    await transport.handlePostMessage(req, res, parsed.body).catch(() => undefined);
  }

  return { stream, messages };
}
