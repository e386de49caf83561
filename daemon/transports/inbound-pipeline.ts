/**
 * The one inbound pipeline. Every transport hands it the values it read — a POST's parsed
 * body (/mcp, legacy `/messages`), a WebSocket frame's or a stdio line's JSON — and writes
 * back, in its own framing, what the pipeline answers. The steps, always in this order:
 *
 * 1. size and nesting: the size limit is the framing's (413 for a body, 1009 for a frame,
 *    -32600 for a line), since it must hold before the bytes are buffered; the nesting
 *    limit is checked here, before anything walks the value (json-rpc-message.ts);
 * 2. JSON-RPC validation against the spec's (v2) schema, worded per shape;
 * 3. the era: per POST on /mcp (era-routing.ts, and `fastEligible` for the stateless fast
 *    path); on a WebSocket or stdio connection the SDK's `serveStdio` decides on the first
 *    message; legacy SSE is 2024-11-05 only;
 * 4. duplicate ids and busy marks, one table per session (requests-in-flight.ts);
 * 5. listen spans (listen-spans.ts): a connection's streams here, /mcp's stateless ones
 *    where its answer is written;
 * 6. admission and profile where a message opens a session (a 2025 `initialize` on /mcp;
 *    WebSocket and legacy SSE admit at their upgrade or GET, before any message: admission.ts);
 * 7. dispatch to the MCP server (mcp/): the SDK's protocol entry, straight to its request
 *    entry where the message is known to be a request (request-dispatch.ts).
 *
 * Transports keep their framing (parse errors, size, how an answer is written) and their
 * socket's life. Arrows go one way: transports → this pipeline → mcp/.
 */
import type { IncomingMessage } from "node:http";
import { isInitializeRequest, type JSONRPCMessage, type MessageExtraInfo, type Transport, type TransportSendOptions } from "@modelcontextprotocol/server";
import { Refusal } from "../errors.ts";
import type { HttpRefusal } from "../http-server.ts";
import type { SessionInfo, SessionStore } from "../session-store.ts";
import { inboundProblem, readableId, refusalMessage, type InboundShape } from "./json-rpc-message.ts";
import { DUPLICATE_ID_MESSAGE, RequestsInFlight, type RequestId } from "./requests-in-flight.ts";
import { ListenSpans, startListen } from "./listen-spans.ts";
import { fastEligible, routeEra, type EraRoute } from "./era-routing.ts";
import type { ListenStreamCaps } from "../mcp/subscriptions.ts";
import { admitSession, type SessionAdmission } from "./admission.ts";

// Step 6 where a transport admits before any message (a WebSocket upgrade, legacy `GET
// /sse`), and step 3's route type: a transport reaches the steps through this module.
export { admitSession } from "./admission.ts";
export type { EraRoute } from "./era-routing.ts";

/** What the pipeline refuses, for the transport to write in its framing (an HTTP answer, or a message on the stream). */
export interface Refused {
  refusal: HttpRefusal;
  message: string;
  id: RequestId | null;
  headers?: Record<string, string>;
}

/** A refusal as a message on a stream (a WebSocket frame, a stdio line). */
export const refusedMessage = (r: Refused): JSONRPCMessage => refusalMessage(r.refusal, r.message, r.id);

/** Steps 1–2: the refusal (-32600) of a value that nests too deep or is no JSON-RPC message of this shape. */
export function checkInbound(raw: unknown, shape: InboundShape): Refused | undefined {
  const problem = inboundProblem(raw, shape);
  return problem === undefined ? undefined : { refusal: Refusal.InvalidRequest, message: problem, id: readableId(raw) };
}

/**
 * Steps 4–5 for one session or connection: its requests in flight (duplicate ids, the busy
 * mark from acceptance to answer, and `T`, what the transport keeps with each: the POST its
 * answer goes to), and on a connection its listen streams' spans. The transport tells it
 * what goes out (`sent`) and when the connection ends (`endAll`).
 */
export class SessionInbound<T = undefined> {
  readonly inFlight: RequestsInFlight<T>;

  private readonly listens?: ListenSpans;

  /**
   * `listen`: a connection (WebSocket, stdio) whose listen streams the SDK answers itself;
   * `interest` registers the resource URIs a stream names. `max`: see RequestsInFlight.
   */
  constructor(
    private readonly store: SessionStore,
    private readonly id: string,
    opts: { listen?: { info: SessionInfo; interest: (params: unknown) => () => void }; max?: number } = {},
  ) {
    this.inFlight = new RequestsInFlight<T>({ busy: () => store.busy(id), max: opts.max });
    if (opts.listen) this.listens = new ListenSpans(opts.listen.info, opts.listen.interest);
  }

  /** Every well-formed message from the client counts as activity, a refused duplicate too. */
  touch(): void {
    this.store.touch(this.id);
  }

  /** Step 4: the refusal of a request id already in flight (or repeated within one batch). */
  duplicate(messages: readonly JSONRPCMessage[]): Refused | undefined {
    const id = this.inFlight.duplicateIn(messages);
    return id === undefined ? undefined : { refusal: Refusal.DuplicateRequestId, message: DUPLICATE_ID_MESSAGE, id };
  }

  /** Steps 4–5 for an accepted message: a request is in flight (busy) from now; a cancel ends one and returns its value. */
  accept(m: JSONRPCMessage, value?: T): T | undefined {
    this.listens?.received(m);
    return this.inFlight.received(m, value);
  }

  sent(m: JSONRPCMessage): void {
    this.listens?.sent(m);
    this.inFlight.sent(m);
  }

  endAll(): T[] {
    this.listens?.endAll();
    return this.inFlight.endAll();
  }
}

/**
 * Steps 1–2 and 4–5 of one value for an open session (a WebSocket frame, a stdio line, a
 * legacy `/messages` POST): the refusal to write back, or the message, accepted (in flight
 * and busy until its answer) and ready to dispatch. Every value that reaches the session
 * counts as activity, a duplicate too.
 */
export function takeInbound(raw: unknown, shape: InboundShape, session: SessionInbound<unknown>): Refused | { message: JSONRPCMessage } {
  const refused = checkInbound(raw, shape);
  if (refused) return refused;
  const message = raw as JSONRPCMessage;
  session.touch();
  const duplicate = session.duplicate([message]);
  if (duplicate) return duplicate;
  session.accept(message);
  return { message };
}

/** A message transport's framing: each value it read (parsed, unchecked), and a way to send. */
export interface Framing {
  onvalue?: (value: unknown) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  start(): Promise<void>;
  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void>;
  close(): Promise<void>;
}

/**
 * The pipeline over a message stream (WebSocket, stdio in both modes; the bridge relays to
 * /ws), as the SDK `Transport` its `serveStdio` is given: a value runs steps 1–2, then 4–5
 * (the SDK makes step 3 on the first message), and is dispatched (7); a refusal goes back on
 * the stream. What goes out passes `sent`; `closed` runs after the stream ends.
 */
export class StreamInbound implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <M extends JSONRPCMessage>(message: M, extra?: MessageExtraInfo) => void;

  constructor(
    private readonly framing: Framing,
    private readonly session: SessionInbound,
    private readonly closed: () => void,
  ) {}

  /** One value from the stream, through the pipeline: `onmessage`, or a refusal sent back. */
  private take(value: unknown): void {
    const taken = takeInbound(value, "frame", this.session);
    if ("refusal" in taken) return void this.framing.send(refusedMessage(taken)).catch(() => undefined);
    // the value as received: the SDK lifts the _meta envelope keys itself
    this.onmessage?.(taken.message);
  }

  async start(): Promise<void> {
    this.framing.onvalue = (v) => this.take(v);
    this.framing.onerror = (e) => this.onerror?.(e);
    this.framing.onclose = () => {
      this.onclose?.();
      this.session.endAll();
      this.closed();
    };
    await this.framing.start();
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    this.session.sent(message);
    return this.framing.send(message, options);
  }

  close(): Promise<void> {
    return this.framing.close();
  }
}

/** Where a POST to /mcp goes after steps 1–4 and 6, for the transport to serve or answer. */
export type PostRoute<S> =
  | { kind: "refused"; refused: Refused }
  /** 2026-07-28: stateless; `fast`: the stateless fast path may serve it (steps 5 and 7: openModernListen, then where its answer is written) */
  | { kind: "modern"; route: EraRoute; fast: boolean }
  /** a request to an open 2025 session, its ids not in flight */
  | { kind: "session"; session: S; messages: JSONRPCMessage[]; batch: boolean }
  /** a 2025 initialize, admitted: the session is opened under `admitted.info` */
  | { kind: "initialize"; admitted: Extract<SessionAdmission, { ok: true }>; messages: JSONRPCMessage[]; batch: boolean };

/**
 * Steps 1–4 and 6 of one POST to /mcp, whose body was read (framing: Accept, size, JSON).
 * `sessionId`: its Mcp-Session-Id header; `lookup` finds that session (and records the
 * activity), undefined for an unknown or evicted one.
 */
export function routePost<S extends { inbound: SessionInbound<unknown> }>(
  req: IncomingMessage,
  body: unknown,
  to: {
    sessionId: string | undefined;
    lookup: (id: string) => S | undefined;
    store: SessionStore;
    /** the input schemas of the request's profile, for `fastEligible` (asked only of a modern request) */
    inputSchemaOf: () => (tool: string) => Record<string, unknown> | undefined;
  },
): PostRoute<S> {
  const { sessionId, lookup, store } = to;
  // Well-formed JSON that is not a JSON-RPC message (or batch of them) is an Invalid
  // Request; the SDK would call it a parse error. Nesting first: past the spec's schema,
  // the SDK's walks recurse (a stack overflow there is a 500).
  const refused = checkInbound(body, "batch");
  if (refused) return { kind: "refused", refused };
  const raw = Array.isArray(body) ? body : [body];
  const route = routeEra(req, body, raw);
  if (route) return { kind: "modern", route, fast: route.kind === "modern" && fastEligible(req, body, route, to.inputSchemaOf()) };
  const messages = raw as JSONRPCMessage[];
  const batch = Array.isArray(body);
  if (sessionId) {
    const session = lookup(sessionId);
    if (!session) return { kind: "refused", refused: { refusal: Refusal.SessionNotFound, message: "Session not found", id: null } };
    const duplicate = session.inbound.duplicate(messages);
    if (duplicate) return { kind: "refused", refused: duplicate };
    return { kind: "session", session, messages, batch };
  }
  if (!messages.some((m) => isInitializeRequest(m))) {
    return { kind: "refused", refused: { refusal: Refusal.SessionRequired, message: "Bad Request: Mcp-Session-Id header is required (send initialize first, or a 2026-07-28 request with its _meta envelope)", id: null } };
  }
  const admitted = admitSession(store, "streamable-http", req);
  if (!admitted.ok) return { kind: "refused", refused: { refusal: admitted.refusal, message: admitted.message, id: null, headers: admitted.headers } };
  return { kind: "initialize", admitted, messages, batch };
}

/**
 * Step 5 for a stateless 2026-07-28 `subscriptions/listen` on /mcp, before it is served: the
 * stream's slot (a full table, or an address over its share, is a 503 with Retry-After like
 * a full session table: the client may try again once a stream closes), its span and its
 * resource interest. Returns the refusal, or the stream's end for the transport to call
 * when the stream closes (`errorType` for its span).
 */
export function openModernListen(req: IncomingMessage, msg: { id?: unknown; params?: { _meta?: Record<string, unknown> } }, caps: ListenStreamCaps, interest: () => () => void): Refused | ((errorType?: string) => void) {
  const id = typeof msg.id === "string" || typeof msg.id === "number" ? msg.id : null;
  const admitted = caps.admit(req.socket.remoteAddress);
  if (!admitted.ok) return { refusal: Refusal.TooManyListenStreams, message: `Too many open subscriptions/listen streams (${admitted.reason}); try again later`, id, headers: { "retry-after": "5" } };
  const version = req.headers["mcp-protocol-version"];
  const end = startListen({ id: id ?? undefined, params: msg.params }, { transport: "streamable-http", protocolVersion: Array.isArray(version) ? version[0] : version }, interest);
  return (errorType) => {
    admitted.release();
    end(errorType);
  };
}
