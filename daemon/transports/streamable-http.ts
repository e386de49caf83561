/**
 * Streamable HTTP at `/mcp`, both protocol eras on one URL, routed per request as the SDK
 * routes them (`classifyInboundRequest`, the predicate behind its own `createMcpHandler`):
 *
 * - 2026-07-28 (a request carrying the per-request `_meta` envelope): stateless. No session,
 *   no affinity: any daemon watching the same plugins answers it. Served by the SDK's
 *   `createMcpHandler` (version and header ladder, -32021 capability gate, server/discover,
 *   subscriptions/listen streams) over a pool of reusable server instances (server-pool.ts)
 *   instead of a new server per request.
 * - 2025 era (`initialize`, then `Mcp-Session-Id`): one SDK v2 `Server` plus our lean
 *   `SessionHttpTransport` (session-http-transport.ts) per session, kept in the session
 *   store (GET stream, DELETE, unsolicited list_changed).
 *
 * Before either, this file answers what the transport spec asks of every POST: 405 for
 * other methods, 406 for a wrong Accept, 415 for a wrong Content-Type, 413 over the body
 * limit, -32700 for malformed JSON, -32600 for JSON that is not a JSON-RPC message. For
 * sessions: -32600 for a request id still in flight, 400 for a missing session id, 404 for
 * an unknown (or evicted) one, 503 when no session can be admitted.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createMcpHandler, type RequestId } from "@modelcontextprotocol/server";
import { toNodeHandler } from "@modelcontextprotocol/node";
import { Refusal, messageOf } from "../errors.ts";
import { readJsonBody, sendRefusal } from "../http-server.ts";
import type { McpDeps } from "../mcp/call-context.ts";
import { openLegacySession } from "./connections.ts";
import { newServer } from "../mcp/server-factory.ts";
import { ServerPool } from "./server-pool.ts";
import { ListenStreamCaps, listenInterest, listenPublisher } from "../mcp/subscriptions.ts";
import { resolveProfile, visibleTool, type Profile } from "../profiles.ts";
import type { Endpoint } from "./endpoint.ts";
import { SessionHttpTransport } from "./session-http-transport.ts";
import { DEFAULT_SSE_KEEPALIVE_MS } from "./sse-writer.ts";
import { FastLanes } from "./stateless-fast-path.ts";
import { openModernListen, routePost, type EraRoute } from "./inbound-pipeline.ts";

export interface StreamableHttpOptions {
  maxBodyBytes: number;
  /** 2026-07-28 listen streams open at once on /mcp, all profiles together (default 1,024) */
  maxListenStreams?: number;
  /** comment lines on every SSE stream of /mcp, ours and the SDK's handler's (default 15 s) */
  sseKeepAliveMs?: number;
}

export function createStreamableHttpEndpoint(deps: McpDeps, opts: StreamableHttpOptions): Endpoint & { pool: ServerPool } {
  const onerror = (err: Error) => deps.logger.debug({ err: messageOf(err) }, "/mcp (2026-07-28)");
  /** who may open a subscriptions/listen stream (subscriptions.ts says why per address, and why not on loopback) */
  const listenCaps = new ListenStreamCaps(opts.maxListenStreams);
  const keepAliveMs = opts.sseKeepAliveMs ?? DEFAULT_SSE_KEEPALIVE_MS;

  /**
   * The stateless 2026-07-28 side, one per profile (a request carries `?profile=` on every
   * URL): its own pool of instances bound to the profile, and its own listen notifier, so
   * listen streams hear only of changes to their profile's view. Made on first use.
   */
  function statelessSide(profile?: Profile) {
    const pool = new ServerPool(
      () => newServer(deps, { transport: "streamable-http", era: "modern", profile }),
      (tool) => visibleTool(deps.registry, profile, tool)?.info.inputSchema,
    );
    // legacy: "reject": 2025-era traffic never reaches it (routed to sessions below), so the
    // SDK's stateless 2025 fallback, which builds a server per request, stays unused.
    // The SDK's own listen limit (per handler) sits above ours, for all profiles together,
    // so its 200/-32603 answer is never reached (a closed stream may leave its table a tick
    // after ours).
    const modern = createMcpHandler(pool.acquire, { legacy: "reject", maxRequestBodySize: opts.maxBodyBytes, onerror, maxSubscriptions: 2 * listenCaps.max, keepAliveMs });
    const node = toNodeHandler(modern, { maxRequestBodySize: opts.maxBodyBytes, onerror });
    // listen streams hear the store's fan-out like sessions do
    const unlisten = deps.store.addChangeListener(listenPublisher(modern.notify, profile, deps.registry));
    const lanes = new FastLanes(pool, keepAliveMs);
    return { pool, modern, node, unlisten, lanes };
  }
  const unprofiled = statelessSide();
  const { pool } = unprofiled;
  const profiled = new Map<string, ReturnType<typeof statelessSide>>();
  function sideFor(profile?: Profile) {
    if (!profile) return unprofiled;
    let side = profiled.get(profile.name);
    if (!side) profiled.set(profile.name, (side = statelessSide(profile)));
    return side;
  }

  /** The session's transport, recording the activity; undefined for an unknown id. */
  function lookup(sessionId: string): SessionHttpTransport | undefined {
    const t = deps.store.use(sessionId, "streamable-http")?.transport;
    return t instanceof SessionHttpTransport ? t : undefined;
  }

  /** 2026-07-28: the SDK's handler owns the rest (its ladder answers version, header and capability errors). */
  async function serveModern(req: IncomingMessage, res: ServerResponse, body: unknown, route: EraRoute, fast: boolean, profile?: Profile): Promise<void> {
    const msg = body as { id?: RequestId; method?: string; params?: { _meta?: Record<string, unknown> } };
    if (msg.method === "subscriptions/listen") {
      const opened = openModernListen(req, msg, listenCaps, () => listenInterest(deps.registry, msg.params, profile));
      if (typeof opened !== "function") return sendRefusal(res, opened.refusal, opened.message, opened.headers, opened.id);
      res.once("close", () => opened(res.statusCode >= 400 ? String(res.statusCode) : undefined));
    }
    const side = sideFor(profile);
    if (fast && route.kind === "modern" && (await side.lanes.serve(res, body, route))) return;
    await side.node(req, res, body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? "GET";
    if (!["POST", "GET", "DELETE"].includes(method)) {
      return sendRefusal(res, Refusal.MethodNotAllowed, "Method not allowed", { allow: "GET, POST, DELETE" });
    }
    // 2026-07-28 requests carry it on every URL; a 2025 session keeps the one chosen at initialize
    const chosen = resolveProfile(deps.profiles, url);
    if (!chosen.ok) return sendRefusal(res, Refusal.UnknownProfile, chosen.message);
    const sessionId = req.headers["mcp-session-id"];
    // Node joins repeated headers into one value with ", " (our session ids never hold a comma)
    if (Array.isArray(sessionId) || sessionId?.includes(",")) return sendRefusal(res, Refusal.SessionRequired, "Bad Request: more than one Mcp-Session-Id header");

    if (method === "POST") {
      // Both eras: the client MUST accept both (the SDK's modern path does not check it).
      const accept = String(req.headers.accept ?? "");
      if (!accept.includes("application/json") || !accept.includes("text/event-stream")) {
        return sendRefusal(res, Refusal.NotAcceptable, "Not Acceptable: Accept must include both application/json and text/event-stream");
      }
      // The body is read once, here; both eras get the parsed value.
      const parsed = await readJsonBody(req, res, opts.maxBodyBytes);
      if (!parsed.ok) return;
      const body = parsed.body;
      // the inbound pipeline: checks, era, session and duplicate ids, admission
      const to = routePost(req, body, { sessionId, lookup, store: deps.store, inputSchemaOf: () => sideFor(chosen.profile).pool.inputSchemaOf });
      if (to.kind === "refused") return sendRefusal(res, to.refused.refusal, to.refused.message, to.refused.headers, to.refused.id);
      if (to.kind === "modern") return serveModern(req, res, body, to.route, to.fast, chosen.profile);
      if (to.kind === "session") return to.session.handlePost(req, res, to.messages, to.batch);
      // We pick the id up front so the session's info and the transport share it.
      const id = randomUUID();
      // No event store, so no resumable streams (priming events, Last-Event-ID): with them,
      // the v1 SDK client (1.32, what most installed clients run) takes every JSON-RPC
      // error answered on a POST stream for a broken stream and reconnects to resume it
      // (a GET with Last-Event-ID, then retries), for every error.
      const transport = new SessionHttpTransport(id, deps.store, keepAliveMs);
      const server = await openLegacySession(deps, transport, to.admitted.info(id), chosen.profile);
      transport.bindServer(server);
      transport.handlePost(req, res, to.messages, to.batch);
      // The transport refused the initialize (e.g. batched with other messages): nobody can
      // ever reach this session, so it must not hold a slot until the idle timeout.
      if (transport.sessionId === undefined) await server.close().catch(() => undefined);
      return;
    }

    // GET (SSE stream) and DELETE: 2025-era session operations.
    if (!sessionId) return sendRefusal(res, Refusal.SessionRequired, "Bad Request: Mcp-Session-Id header is required");
    const t = lookup(sessionId);
    if (!t) return sendRefusal(res, Refusal.SessionNotFound, "Session not found");
    if (method === "GET") {
      // An open GET stream is a client still listening: such a session is evicted only
      // after those without one.
      const closed = deps.store.streamOpened(sessionId);
      res.once("close", closed);
      return t.handleGet(req, res);
    }
    return t.handleDelete(req, res);
  }

  return {
    pool,
    routes: { "/mcp": handle },
    async close() {
      const sides = [unprofiled, ...profiled.values()];
      for (const s of sides) s.unlisten();
      await Promise.all(sides.map((s) => s.lanes.close()));
      // ends the open listen streams gracefully and any stateless exchange still running
      await Promise.all(sides.map((s) => s.modern.close()));
    },
  };
}
