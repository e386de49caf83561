/**
 * The server side of one 2025-era Streamable HTTP session: an SDK `Transport` the session's
 * SDK `Server` connects to (so the protocol, handlers, asks, progress and cancellation stay
 * the SDK's), reading Node's request and writing Node's response directly.
 *
 * Why not the SDK's `NodeStreamableHTTPServerTransport`: it turns every POST into a web
 * `Request` and its answer into a web `Response` around a `ReadableStream`, and always
 * answers a request on an SSE stream (headers flushed, then each event). Under load that
 * bridge, the stream machinery and the extra write cost more than the MCP work itself
 * (see bench/README.md). Here a request whose first outbound message is its own response
 * is answered as one `application/json` body in one write; a POST switches to SSE only when
 * something else related to it goes out first (progress, log messages, a sampling or
 * elicitation request), exactly when the spec's SSE answer is needed. The wire behaviour
 * otherwise follows the SDK transport: 202 for POSTs without requests, one standalone GET
 * stream (409 for a second), DELETE ends the session, `MCP-Protocol-Version` checked on
 * every request after initialize, `Mcp-Session-Id` on every answer. No event store, so no
 * resumable streams (see streamable-http.ts).
 *
 * streamable-http.ts has already checked method, Accept, Content-Type, body size, JSON and
 * JSON-RPC shape, and the session id before a request gets here.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { SUPPORTED_PROTOCOL_VERSIONS, type JSONRPCMessage, type MessageExtraInfo, type RequestId, type Transport, type TransportSendOptions } from "@modelcontextprotocol/server";
import { Refusal } from "../errors.ts";
import { sendRefusal } from "../http-server.ts";
import { deliverTo, type Deliver } from "./request-dispatch.ts";
import { DEFAULT_SSE_KEEPALIVE_MS, SSE_HEADERS, sseEvent, sseKeepAlive } from "./sse-writer.ts";
import { SessionInbound } from "./inbound-pipeline.ts";
import type { SessionStore } from "../session-store.ts";

/** The SDK's limit on messages in one POST. */
export const MAX_BATCH_SIZE = 100;

const BATCHING_REMOVED_IN = "2025-06-18";

/** One POST that carried requests: its response and the ids still waiting for an answer. */
interface Exchange {
  res: ServerResponse;
  /** answers not yet sent, in the POST's order */
  waiting: number;
  /** a batch collects its answers (JSON) unless it has switched to SSE */
  answers?: JSONRPCMessage[];
  sse: boolean;
  /** the client closed the POST before its answers were complete */
  gone: boolean;
  keepAlive?: NodeJS.Timeout;
}

const isResponse = (m: JSONRPCMessage): m is JSONRPCMessage & { id: RequestId } => "id" in m && ("result" in m || "error" in m);
const isRequest = (m: JSONRPCMessage): m is JSONRPCMessage & { id: RequestId; method: string } => "method" in m && "id" in m;

export class SessionHttpTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;
  /** Set once initialize is accepted (until then the session cannot be reached). */
  sessionId?: string;

  private supported: readonly string[] = SUPPORTED_PROTOCOL_VERSIONS;
  private started = false;
  private closed = false;
  /**
   * the session's side of the inbound pipeline: its requests in flight, each with the POST
   * that carried it, until its answer is sent (1 and "1" are different ids): busy marks,
   * where an answer goes, and duplicate ids (routePost refuses them: answers find their POST
   * by id, so a second request with an id still in flight would take over the first one's
   * POST and leave one of the two unanswered forever)
   */
  readonly inbound: SessionInbound<Exchange>;
  private standalone?: { res: ServerResponse; keepAlive?: NodeJS.Timeout };
  /** requests straight to the bound server's request entry (see request-dispatch.ts) */
  private deliver?: Deliver;

  constructor(
    private readonly id: string,
    /** the session store: busy marks for the session's requests */
    store: SessionStore,
    /** comment lines on this session's SSE streams (`sseKeepAliveMs`) */
    private readonly keepAliveMs = DEFAULT_SSE_KEEPALIVE_MS,
  ) {
    // unbounded: an answer finds its POST only here (the body limit and the running cap bound it)
    this.inbound = new SessionInbound<Exchange>(store, id, { max: Infinity });
  }

  async start(): Promise<void> {
    if (this.started) throw new Error("Transport already started");
    this.started = true;
  }

  /** the protocol version the session's initialize settled on */
  private negotiated?: () => string | undefined;

  /** Called once the session's server is connected to this transport. */
  bindServer(server: object): void {
    const s = server as { getNegotiatedProtocolVersion?: () => string | undefined };
    if (typeof s.getNegotiatedProtocolVersion === "function") this.negotiated = () => s.getNegotiatedProtocolVersion!();
    // handlePost's messages all passed the JSON-RPC message check
    this.deliver = deliverTo(server, this.onmessage, { checked: true });
  }

  private receive(m: JSONRPCMessage): void {
    if (this.deliver) this.deliver(m);
    else this.onmessage?.(m);
  }

  setSupportedProtocolVersions(versions: string[]): void {
    this.supported = versions;
  }

  /** A POST of already validated JSON-RPC messages; `batch`: the body was an array (answered with one). */
  handlePost(req: IncomingMessage, res: ServerResponse, messages: JSONRPCMessage[], batch = messages.length > 1): void {
    if (this.closed) return sendRefusal(res, Refusal.SessionNotFound, "Session not found");
    if (messages.length > MAX_BATCH_SIZE) return sendRefusal(res, Refusal.InvalidRequest, `Invalid Request: Batch must not exceed ${MAX_BATCH_SIZE} messages`);
    let requests = 0;
    let initialize = false;
    for (const m of messages) {
      if (isRequest(m)) {
        requests++;
        if (m.method === "initialize") initialize = true;
      }
    }
    if (initialize) {
      if (this.sessionId !== undefined) return sendRefusal(res, Refusal.InvalidRequest, "Invalid Request: Server already initialized");
      if (messages.length > 1) return sendRefusal(res, Refusal.InvalidRequest, "Invalid Request: Only one initialization request is allowed");
      this.sessionId = this.id;
    } else {
      if (this.sessionId === undefined) return sendRefusal(res, Refusal.SessionRequired, "Bad Request: Server not initialized");
      if (this.refusedVersion(req, res)) return;
      // 2025-06-18 removed JSON-RPC batching: a session of that version or later may not batch
      // (the version is the header's, or without one the negotiated one)
      const header = req.headers["mcp-protocol-version"];
      const version = typeof header === "string" ? header : this.negotiated?.();
      if (batch && version !== undefined && version >= BATCHING_REMOVED_IN) {
        return sendRefusal(res, Refusal.InvalidRequest, `Invalid Request: JSON-RPC batches are not supported in protocol version ${version.slice(0, 20)} (removed in ${BATCHING_REMOVED_IN}); send one message per request`);
      }
    }
    if (requests === 0) {
      for (const m of messages) this.receive(m);
      for (const m of messages) this.releaseCancelled(m);
      res.writeHead(202, { "mcp-session-id": this.id });
      res.end();
      return;
    }
    const ex: Exchange = { res, waiting: requests, sse: false, gone: false, answers: batch ? [] : undefined };
    for (const m of messages) if (isRequest(m)) this.inbound.accept(m, ex);
    res.once("close", () => {
      if (ex.waiting > 0) ex.gone = true;
      if (ex.keepAlive) clearInterval(ex.keepAlive);
    });
    for (const m of messages) this.receive(m);
    for (const m of messages) this.releaseCancelled(m);
  }

  /**
   * A cancelled request gets no answer (the SDK drops it), so its exchange is released: its
   * id may be used again, as on every other transport, and its POST ends — with the answers
   * its batch collected, or as an SSE stream without an answer, as `close` ends them — instead
   * of waiting for an answer that never comes.
   */
  private releaseCancelled(m: JSONRPCMessage): void {
    const n = m as { method?: unknown; id?: unknown; params?: { requestId?: unknown } };
    if (n.method !== "notifications/cancelled" || n.id !== undefined) return;
    const ex = this.inbound.accept(m);
    if (!ex) return;
    ex.waiting--;
    if (ex.waiting > 0 || ex.gone || ex.res.writableEnded) return;
    if (ex.answers?.length && !ex.sse) return this.writeJson(ex.res, ex.answers);
    this.toSse(ex);
    ex.res.end();
  }

  /** GET: the session's standalone SSE stream (one at a time). */
  handleGet(req: IncomingMessage, res: ServerResponse): void {
    if (this.closed) return sendRefusal(res, Refusal.SessionNotFound, "Session not found");
    if (!String(req.headers.accept ?? "").includes("text/event-stream")) return sendRefusal(res, Refusal.NotAcceptable, "Not Acceptable: Client must accept text/event-stream");
    if (this.refusedVersion(req, res)) return;
    if (this.standalone) return sendRefusal(res, Refusal.StreamConflict, "Conflict: Only one SSE stream is allowed per session");
    res.writeHead(200, { ...SSE_HEADERS, "mcp-session-id": this.id });
    res.flushHeaders();
    const stream: { res: ServerResponse; keepAlive?: NodeJS.Timeout } = { res, keepAlive: sseKeepAlive(res, this.keepAliveMs) };
    this.standalone = stream;
    res.once("close", () => {
      clearInterval(stream.keepAlive);
      if (this.standalone === stream) this.standalone = undefined;
    });
  }

  /** DELETE: the client ends the session. */
  async handleDelete(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.closed) return sendRefusal(res, Refusal.SessionNotFound, "Session not found");
    if (this.refusedVersion(req, res)) return;
    res.writeHead(200, { "mcp-session-id": this.id });
    res.end();
    await this.close();
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    const response = isResponse(message);
    const related = response ? message.id : options?.relatedRequestId;
    if (related === undefined) {
      if (response) throw new Error("Cannot send a response on a standalone SSE stream unless resuming a previous client request");
      const s = this.standalone;
      if (s && !s.res.writableEnded) s.res.write(sseEvent(message));
      return;
    }
    const ex = this.inbound.inFlight.get(related);
    if (!ex) throw new Error(`No connection established for request ID: ${String(related)}`);
    if (!response) {
      if (ex.gone || ex.res.writableEnded) return;
      this.toSse(ex);
      ex.res.write(sseEvent(message));
      return;
    }
    this.inbound.sent(message);
    ex.waiting--;
    if (ex.gone) {
      if (ex.waiting === 0) this.onerror?.(new Error(`Response for request ID ${String(related)} is undeliverable: per-request stream is disconnected and no eventStore is configured`));
      return;
    }
    if (ex.res.writableEnded) return;
    if (ex.sse) {
      ex.res.write(sseEvent(message));
      if (ex.waiting === 0) ex.res.end();
      return;
    }
    if (ex.answers) {
      ex.answers.push(message);
      if (ex.waiting === 0) this.writeJson(ex.res, ex.answers);
      return;
    }
    this.writeJson(ex.res, message);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const open = new Set(this.inbound.endAll());
    for (const ex of open) {
      if (ex.gone || ex.res.writableEnded) continue;
      // as the SDK does: the POST's stream ends without its answer
      this.toSse(ex);
      ex.res.end();
    }
    if (this.standalone) {
      clearInterval(this.standalone.keepAlive);
      this.standalone.res.end();
      this.standalone = undefined;
    }
    this.onclose?.();
  }

  /** 400 for an MCP-Protocol-Version header this server does not speak; absent means the negotiated one. */
  private refusedVersion(req: IncomingMessage, res: ServerResponse): boolean {
    const v = req.headers["mcp-protocol-version"];
    if (v === undefined) return false;
    const version = Array.isArray(v) ? v.join(", ") : v;
    if (this.supported.includes(version)) return false;
    sendRefusal(res, Refusal.UnsupportedVersionHeader, `Bad Request: Unsupported protocol version: ${version} (supported versions: ${this.supported.join(", ")})`);
    return true;
  }

  private toSse(ex: Exchange): void {
    if (ex.sse) return;
    ex.sse = true;
    ex.res.writeHead(200, { ...SSE_HEADERS, "mcp-session-id": this.id });
    // a batch's answers collected so far go out first, in order
    for (const a of ex.answers ?? []) ex.res.write(sseEvent(a));
    ex.answers = undefined;
    ex.keepAlive = sseKeepAlive(ex.res, this.keepAliveMs);
  }

  private writeJson(res: ServerResponse, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(text), "mcp-session-id": this.id });
    res.end(text);
  }
}
