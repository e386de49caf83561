/**
 * WebSocket at `/ws`: a server-side SDK `Transport` over the `ws` package (the SDK ships
 * none). Subprotocol `mcp`, one JSON-RPC message per text frame. A binary frame closes
 * with 1003, an oversize frame with 1009 (ws enforces maxPayload), malformed JSON is
 * answered with -32700 and the connection stays usable. Ping/pong drops dead peers, and a
 * peer that stops reading is cut off before its send buffer grows without bound.
 *
 * Both protocol eras: the first message decides (the SDK's `serveStdio` entry, given this
 * transport): `server/discover` or a request with the 2026-07-28 envelope gets the
 * stateless revision, `initialize` a 2025 session. The stdio bridge relays its client's
 * frames here unchanged, so `patchbay stdio` speaks both eras too.
 */
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket, type RawData } from "ws";
import type { JSONRPCMessage } from "@modelcontextprotocol/server";
import { refusalMessage } from "./json-rpc-message.ts";
import { admitSession, type Framing } from "./inbound-pipeline.ts";
import type { Logger } from "pino";
import { Refusal } from "../errors.ts";
import { refusalBody, refuseUpgrade } from "../http-server.ts";
import type { McpDeps } from "../mcp/call-context.ts";
import { serveConnection } from "./connections.ts";
import { resolveProfile } from "../profiles.ts";
import type { Endpoint } from "./endpoint.ts";

export const WS_SUBPROTOCOL = "mcp";

export interface WebSocketOptions {
  maxMessageBytes: number;
  /** interval between pings; a peer that misses one pong is dropped */
  heartbeatMs: number;
  /** queued outgoing bytes past which a peer counts as not reading */
  maxBufferedBytes: number;
  /**
   * The secret `patchbay stdio` reads from the state file (mode 0600) and sends in
   * `x-patchbay-bridge-key`. Only a client holding it counts as a stdio bridge: those sessions
   * are never evicted, so a query parameter anyone can set must not be enough.
   */
  bridgeKey?: string;
}

/** Constant-time check of the bridge secret a client presented. */
function isBridgeKey(given: string | string[] | undefined, expected: string | undefined): boolean {
  if (!expected || typeof given !== "string") return false;
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/** One WebSocket connection's framing: a text frame's JSON to the inbound pipeline, each message out as one frame. */
export class WebSocketServerTransport implements Framing {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onvalue?: (value: unknown) => void;
  readonly sessionId: string;
  private closed = false;

  constructor(private readonly ws: WebSocket, private readonly opts: { maxBufferedBytes: number }, sessionId = randomUUID()) {
    this.sessionId = sessionId;
  }

  async start(): Promise<void> {
    this.ws.on("message", (data: RawData, isBinary: boolean) => this.receive(data, isBinary));
    this.ws.on("close", () => this.finish());
    this.ws.on("error", (err) => this.onerror?.(err));
  }

  private receive(data: RawData, isBinary: boolean) {
    if (isBinary) {
      this.ws.close(1003, "binary frames are not supported; send JSON-RPC as text");
      return;
    }
    const text = Array.isArray(data) ? Buffer.concat(data).toString("utf8") : Buffer.from(data as ArrayBuffer).toString("utf8");
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.sendRaw(refusalMessage(Refusal.ParseError, "Parse error: frame is not valid JSON", null));
      return;
    }
    this.onvalue?.(json);
  }

  private sendRaw(msg: unknown): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > this.opts.maxBufferedBytes) {
      // The peer is not reading; dropping it bounds our memory instead of queueing forever.
      // It cannot read a close frame either, so terminate rather than wait for a handshake.
      this.onerror?.(new Error(`WebSocket peer is not reading (${this.ws.bufferedAmount} bytes queued); dropping it`));
      this.ws.terminate();
      this.finish();
      return;
    }
    this.ws.send(JSON.stringify(msg));
  }

  async send(message: JSONRPCMessage): Promise<void> {
    this.sendRaw(message);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(1001, "server closing session");
    this.finish();
  }

  private finish() {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.();
  }
}

/** The `/ws` upgrade handler: checks the subprotocol and session room, then serves the connection. */
export function createWebSocketEndpoint(deps: McpDeps, opts: WebSocketOptions, logger: Logger): Endpoint {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: opts.maxMessageBytes,
    handleProtocols: (protocols) => (protocols.has(WS_SUBPROTOCOL) ? WS_SUBPROTOCOL : false),
  });
  const alive = new WeakMap<WebSocket, boolean>();
  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (alive.get(ws) === false) {
        ws.terminate();
        continue;
      }
      alive.set(ws, false);
      ws.ping();
    }
  }, opts.heartbeatMs);
  heartbeat.unref();

  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL) {
    const offered = String(req.headers["sec-websocket-protocol"] ?? "").split(",").map((s) => s.trim());
    if (!offered.includes(WS_SUBPROTOCOL)) {
      return refuseUpgrade(socket, Refusal.BadRequest.status, { text: `WebSocket subprotocol "${WS_SUBPROTOCOL}" is required` });
    }
    // An unknown profile is refused at the upgrade, with the JSON-RPC body HTTP refusals carry.
    const chosen = resolveProfile(deps.profiles, url);
    if (!chosen.ok) return refuseUpgrade(socket, Refusal.UnknownProfile.status, { json: refusalBody(Refusal.UnknownProfile, chosen.message) });
    // The stdio bridge marks its sessions so they show, count and are kept as the stdio
    // clients they are (a stdio session is never evicted).
    const bridged = url.searchParams.get("via") === "stdio-bridge" && isBridgeKey(req.headers["x-patchbay-bridge-key"], opts.bridgeKey);
    const kind = bridged ? "stdio" : "websocket";
    const admitted = admitSession(deps.store, kind, req);
    if (!admitted.ok) return refuseUpgrade(socket, admitted.refusal.status, { text: admitted.message, headers: admitted.headers });
    // handleUpgrade calls back in this same tick (no async verifyClient), so the slot just
    // admitted is the one serveConnection adds.
    wss.handleUpgrade(req, socket, head, (ws) => {
      alive.set(ws, true);
      ws.on("pong", () => alive.set(ws, true));
      const transport = new WebSocketServerTransport(ws, { maxBufferedBytes: opts.maxBufferedBytes });
      const info = admitted.info(transport.sessionId, { bridged });
      try {
        serveConnection(deps, transport, info, chosen.profile);
      } catch (err) {
        logger.error({ err }, "could not serve the WebSocket connection");
        ws.close(1011, "internal error");
      }
    });
  }

  return {
    upgrades: { "/ws": upgrade },
    async close() {
      clearInterval(heartbeat);
      for (const ws of wss.clients) ws.close(1001, "daemon shutting down");
      wss.close();
    },
  };
}
