/**
 * Legacy HTTP+SSE (protocol 2024-11-05 clients): `GET /sse` opens the event stream and
 * announces `/messages?sessionId=…`, where the client POSTs its messages. Built on the
 * SDK's (deprecated but present) `SSEServerTransport`; we add body limits, clear errors and
 * keepalive comments so proxies do not drop an idle stream.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { SSEServerTransport } from "@modelcontextprotocol/server-legacy/sse";
import type { Logger } from "pino";
import { Refusal } from "../errors.ts";
import { readJsonBody, sendRefusal } from "../http-server.ts";
import type { McpDeps } from "../mcp/call-context.ts";
import { openLegacySession } from "./connections.ts";
import { resolveProfile } from "../profiles.ts";
import { sseKeepAlive } from "./sse-writer.ts";
import { ObservedTransport } from "./observed-transport.ts";
import { admitSession, SessionInbound, takeInbound } from "./inbound-pipeline.ts";

export interface LegacySseOptions {
  maxBodyBytes: number;
  keepAliveMs: number;
}

/**
 * The SDK's legacy transport is loaded with the first legacy client: it pulls in raw-body and
 * iconv-lite (~0.6 MB of code), which a daemon whose clients speak Streamable HTTP, WebSocket
 * or stdio would otherwise hold in memory for nothing.
 */
let sseTransportClass: Promise<typeof SSEServerTransport> | undefined;
function loadSseTransport(): Promise<typeof SSEServerTransport> {
  sseTransportClass ??= import("@modelcontextprotocol/server-legacy/sse").then((m) => m.SSEServerTransport);
  return sseTransportClass;
}

export function createLegacySseRoutes(deps: McpDeps, opts: LegacySseOptions, logger: Logger) {
  const transports = new Map<string, SSEServerTransport>();
  /** per session, its side of the inbound pipeline: each request ends when its answer goes out on the stream */
  const inbound = new Map<string, SessionInbound>();

  async function stream(req: IncomingMessage, res: ServerResponse, url: URL) {
    if (req.method !== "GET") return sendRefusal(res, Refusal.MethodNotAllowed, "Method not allowed", { allow: "GET" });
    // the session keeps the profile chosen here; its /messages need not repeat it
    const chosen = resolveProfile(deps.profiles, url);
    if (!chosen.ok) return sendRefusal(res, Refusal.UnknownProfile, chosen.message);
    const Transport = await loadSseTransport();
    const admitted = admitSession(deps.store, "sse", req);
    if (!admitted.ok) return sendRefusal(res, admitted.refusal, admitted.message, admitted.headers);
    const transport = new Transport("/messages", res);
    const id = transport.sessionId;
    transports.set(id, transport);
    // busy from a request's POST until its answer goes out on the stream
    const open = new SessionInbound(deps.store, id);
    inbound.set(id, open);
    const keepAlive = sseKeepAlive(res, opts.keepAliveMs);
    res.on("close", () => {
      clearInterval(keepAlive);
      transports.delete(id);
      inbound.delete(id);
      open.endAll();
      void transport.close().catch(() => undefined);
    });
    try {
      await openLegacySession(deps, new ObservedTransport(transport, (m) => open.sent(m), id), admitted.info(id), chosen.profile);
    } catch (err) {
      logger.error({ err }, "could not open SSE session");
      res.end();
    }
  }

  async function messages(req: IncomingMessage, res: ServerResponse, url: URL) {
    if (req.method !== "POST") return sendRefusal(res, Refusal.MethodNotAllowed, "Method not allowed", { allow: "POST" });
    const sessionId = url.searchParams.get("sessionId");
    if (!sessionId) return sendRefusal(res, Refusal.SessionRequired, "Bad Request: sessionId query parameter is required");
    const transport = transports.get(sessionId);
    const session = inbound.get(sessionId);
    if (!transport || !session) return sendRefusal(res, Refusal.SessionNotFound, "Session not found");
    const parsed = await readJsonBody(req, res, opts.maxBodyBytes);
    if (!parsed.ok) return;
    // The inbound pipeline, before the SDK sees the message: it answers a bad message with
    // plain text built by String(body), which itself throws on a deeply nested array (stack
    // overflow) or an object whose toString is not a function, and then nothing ever answers
    // the request. A request id still in flight on the session is refused, as everywhere.
    const taken = takeInbound(parsed.body, "post", session);
    if ("refusal" in taken) return sendRefusal(res, taken.refusal, taken.message, taken.headers, taken.id);
    const msg = taken.message as { id?: string | number; method?: string };
    try {
      await transport.handlePostMessage(req, res, parsed.body);
    } catch (err) {
      logger.warn({ err, sessionId }, "SSE message could not be handled");
    }
    // not accepted (the SDK refused it): no answer will come on the stream for its id
    if (res.statusCode !== 202 && msg.method !== undefined && msg.id !== undefined) session.inFlight.end(msg.id);
    // Whatever happened inside the SDK, the request gets an answer.
    if (!res.writableEnded) {
      if (res.headersSent) res.end();
      else sendRefusal(res, Refusal.Internal, "Internal error: the message could not be handled");
    }
  }

  return { stream, messages };
}
