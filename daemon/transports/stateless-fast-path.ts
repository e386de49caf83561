/**
 * The common 2026-07-28 request, served without the SDK's web bridge: one well-formed
 * request whose headers agree with its envelope exactly, dispatched to a server instance
 * kept connected to a transport of ours (a "lane") that writes Node's response directly.
 *
 * What the SDK's `createMcpHandler` does per request (a web `Request` built from Node's,
 * the body serialized again and classified a second time, a web `Response` read back into
 * Node's) costs more than the MCP work of a tool call. Everything unusual still goes to it,
 * so its error ladder stays the one authority on bad input: batches, notifications,
 * `server/discover` and `subscriptions/listen`, any header that is missing, different or
 * extra (`Mcp-Name` on an unnamed method), a tool whose schema declares `x-mcp-header`
 * parameters (SEP-2243 checks), and any request while no instance is set up for the
 * revision (the SDK sets up the pool's instances on their first request; lanes take them
 * over from the pool after that).
 *
 * Each exchange follows the SDK's `PerRequestHTTPServerTransport`: the response alone is one
 * `application/json` body (200, or the ladder's status for an error the protocol layer
 * answers before any handler runs, and for -32021); a notification related to the request
 * before it (progress, a log message) switches the answer to SSE; the client closing the
 * request cancels it (the spec's cancellation signal for this revision).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type JSONRPCMessage, type MessageExtraInfo, type RequestId, type Transport, type TransportSendOptions } from "@modelcontextprotocol/server";
import type { ServerPool } from "./server-pool.ts";
import type { ServerShell } from "../mcp/sdk-seams.ts";
import { deliverTo, type Deliver } from "./request-dispatch.ts";
import type { ModernRoute } from "./era-routing.ts";
import { DEFAULT_SSE_KEEPALIVE_MS, SSE_HEADERS, sseEvent, sseKeepAlive } from "./sse-writer.ts";

/** The SDK's statuses for errors its protocol layer answers before a handler runs (the "ladder"). */
const LADDER_STATUS: Record<number, number> = { [-32700]: 400, [-32600]: 400, [-32601]: 404, [-32022]: 400, [-32021]: 400, [-32020]: 400 };
const MISSING_CLIENT_CAPABILITY = -32021;

/**
 * A pooled instance kept connected between exchanges, serving one at a time: connecting and
 * closing a protocol instance per request (what a per-request transport needs) costs a
 * connection-closed error object and the teardown of every per-connection map each time.
 * A client closing its request mid-exchange cancels it the way the SDK's per-request
 * transport does, by closing the connection (which aborts the handler); that instance is
 * then dropped.
 */
class Lane implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;

  private res?: ServerResponse;
  private requestId?: RequestId;
  private dispatching = false;
  private sse = false;
  private closed = false;
  private keepAlive?: NodeJS.Timeout;
  private deliver?: Deliver;
  private deliverFor?: Lane["onmessage"];
  /** the client went away before the answer: cancel by disconnecting */
  private readonly onResClose = () => void this.close();

  constructor(
    readonly server: ServerShell["server"],
    private readonly home: FastLanes,
  ) {}

  async start(): Promise<void> {}

  begin(res: ServerResponse, message: JSONRPCMessage & { id: RequestId }, classification: unknown): void {
    this.res = res;
    this.requestId = message.id;
    this.sse = false;
    res.once("close", this.onResClose);
    this.dispatching = true;
    try {
      if (this.deliverFor !== this.onmessage) {
        this.deliverFor = this.onmessage;
        this.deliver = deliverTo(this.server, this.onmessage, { checked: true });
      }
      this.deliver!(message, { classification } as MessageExtraInfo);
    } finally {
      this.dispatching = false;
    }
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    const res = this.res;
    const response = "id" in message && ("result" in message || "error" in message);
    const related = response ? (message as { id: RequestId }).id : options?.relatedRequestId;
    if (res === undefined || related !== this.requestId) {
      if (response) this.onerror?.(new Error(`Received a response for an unknown request id: ${String(related)}`));
      return;
    }
    if (!response) {
      if (!this.sse) this.toSse(res);
      res.write(sseEvent(message));
      return;
    }
    this.finish(res);
    if (this.sse) {
      res.end(sseEvent(message));
    } else {
      const code = "error" in message ? (message.error as { code?: number }).code : undefined;
      const status = code !== undefined && (this.dispatching || code === MISSING_CLIENT_CAPABILITY) ? (LADDER_STATUS[code] ?? 200) : 200;
      const text = JSON.stringify(message);
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
      res.end(text);
    }
    this.home.release(this);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const res = this.res;
    if (res) {
      this.finish(res);
      if (!res.writableEnded) {
        // closed before an answer (the daemon shutting down): what the SDK's entry answers then
        if (this.sse) res.end();
        else {
          res.writeHead(499);
          res.end();
        }
      }
    }
    this.home.drop(this);
    this.onclose?.();
  }

  private finish(res: ServerResponse): void {
    res.off("close", this.onResClose);
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.keepAlive = undefined;
    this.res = undefined;
    this.requestId = undefined;
  }

  private toSse(res: ServerResponse): void {
    this.sse = true;
    res.writeHead(200, SSE_HEADERS);
    this.keepAlive = sseKeepAlive(res, this.home.keepAliveMs);
  }
}

/** The fast path's instances: taken over from the pool once the SDK has set them up for the revision. */
export class FastLanes {
  private readonly idle: Lane[] = [];
  private readonly all = new Set<Lane>();

  constructor(
    private readonly pool: ServerPool,
    /** comment lines on an answer that switched to SSE (`sseKeepAliveMs`) */
    readonly keepAliveMs = DEFAULT_SSE_KEEPALIVE_MS,
    private readonly maxIdle = 64,
  ) {}

  /**
   * Serves the request on an idle lane, or on an instance taken over from the pool; false
   * (nothing touched) when no instance is set up for the request's revision yet, and the
   * caller hands the request to the SDK's handler, which sets one up.
   */
  serve(res: ServerResponse, body: unknown, route: ModernRoute): boolean | Promise<boolean> {
    const revision = route.classification.revision;
    const msg = body as JSONRPCMessage & { id: RequestId };
    const lane = this.idle.pop();
    if (lane) {
      if (lane.server.getNegotiatedProtocolVersion() === revision) {
        lane.begin(res, msg, route.classification);
        return true;
      }
      this.idle.push(lane);
      return false;
    }
    const shell = this.pool.adopt((s) => s.server.transport === undefined && s.server.getNegotiatedProtocolVersion() === revision);
    if (!shell) return false;
    const fresh = new Lane(shell.server, this);
    this.all.add(fresh);
    return shell.server.connect(fresh).then(
      () => {
        fresh.begin(res, msg, route.classification);
        return true;
      },
      // nothing was written: the SDK's handler answers this one (with an instance of its own)
      () => {
        this.all.delete(fresh);
        return false;
      },
    );
  }

  release(lane: Lane): void {
    if (this.idle.length < this.maxIdle) this.idle.push(lane);
    else void lane.close();
  }

  drop(lane: Lane): void {
    this.all.delete(lane);
    const i = this.idle.indexOf(lane);
    if (i >= 0) this.idle.splice(i, 1);
  }

  /** Ends every lane (an exchange still open gets what the SDK's handler answers on close). */
  async close(): Promise<void> {
    await Promise.all([...this.all].map((l) => l.close()));
  }
}
