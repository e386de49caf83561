/**
 * The common 2026-07-28 request, served without the SDK's web bridge: one well-formed
 * request whose headers agree with its envelope exactly, dispatched to a pooled server
 * instance through a single-exchange transport that writes Node's response directly.
 *
 * What the SDK's `createMcpHandler` does per request (a web `Request` built from Node's,
 * the body serialized again and classified a second time, a web `Response` read back into
 * Node's) costs more than the MCP work of a tool call. Everything unusual still goes to it,
 * so its error ladder stays the one authority on bad input: batches, notifications,
 * `server/discover` and `subscriptions/listen`, any header that is missing, different or
 * extra (`Mcp-Name` on an unnamed method), a tool whose schema declares `x-mcp-header`
 * parameters (SEP-2243 checks), and an instance the SDK has not yet set up for the
 * revision (the pool's instances are, once the SDK has served them a first request).
 *
 * The exchange follows the SDK's `PerRequestHTTPServerTransport`: the response alone is one
 * `application/json` body (200, or the ladder's status for an error the protocol layer
 * answers before any handler runs, and for -32021); a notification related to the request
 * before it (progress, a log message) switches the answer to SSE; the client closing the
 * request cancels it (the spec's cancellation signal for this revision).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { JSONRPCMessage, MessageExtraInfo, RequestId, Transport, TransportSendOptions } from "@modelcontextprotocol/server";
import type { ServerShell } from "../mcp/server-pool.ts";

/** What `classifyInboundRequest` answered for a modern request (only what the fast path reads). */
export interface ModernRoute {
  kind: "modern";
  messageKind: string;
  message: unknown;
  classification: { revision?: string };
}

/** Methods served here, with the params field `Mcp-Name` must equal (undefined: the header must be absent). */
const FAST_METHODS = new Map<string, "name" | "uri" | undefined>([
  ["tools/call", "name"],
  ["tools/list", undefined],
  ["prompts/get", "name"],
  ["prompts/list", undefined],
  ["resources/read", "uri"],
  ["resources/list", undefined],
  ["resources/templates/list", undefined],
]);

/** The SDK's statuses for errors its protocol layer answers before a handler runs (the "ladder"). */
const LADDER_STATUS: Record<number, number> = { [-32700]: 400, [-32600]: 400, [-32601]: 404, [-32022]: 400, [-32021]: 400, [-32020]: 400 };
const MISSING_CLIENT_CAPABILITY = -32021;

const SSE_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache, no-transform", connection: "keep-alive", "x-accel-buffering": "no" };
const SSE_KEEPALIVE_MS = 15_000;

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? undefined : v);

/** Whether a tool's input schema declares `x-mcp-header` anywhere (then the SDK checks Mcp-Param-* headers). */
const declaresHeaders = new WeakMap<object, boolean>();
function hasHeaderDeclarations(schema: Record<string, unknown>): boolean {
  let v = declaresHeaders.get(schema);
  if (v === undefined) declaresHeaders.set(schema, (v = JSON.stringify(schema).includes('"x-mcp-header"')));
  return v;
}

/** Whether this request may take the fast path (everything else goes to the SDK's handler). */
export function fastEligible(req: IncomingMessage, body: unknown, route: ModernRoute, inputSchemaOf: (tool: string) => Record<string, unknown> | undefined): boolean {
  if (route.messageKind !== "request" || Array.isArray(body)) return false;
  const msg = body as { id?: unknown; method?: unknown; params?: Record<string, unknown> };
  if (typeof msg.method !== "string" || !FAST_METHODS.has(msg.method)) return false;
  const h = req.headers;
  const revision = route.classification.revision;
  if (revision === undefined || one(h["mcp-protocol-version"]) !== revision || one(h["mcp-method"]) !== msg.method) return false;
  const field = FAST_METHODS.get(msg.method);
  const name = one(h["mcp-name"]);
  if (field === undefined) {
    if (name !== undefined) return false;
  } else {
    const target = msg.params?.[field];
    if (typeof target !== "string" || name !== target) return false;
    if (msg.method === "tools/call") {
      const schema = inputSchemaOf(target);
      if (schema !== undefined && hasHeaderDeclarations(schema)) return false;
    }
  }
  return true;
}

/** One request/response exchange on a pooled instance. */
class ExchangeTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;

  private dispatching = false;
  private sse = false;
  private answered = false;
  private closed = false;
  private keepAlive?: NodeJS.Timeout;
  private readonly onResClose = () => void this.close();

  constructor(
    private readonly res: ServerResponse,
    private readonly requestId: RequestId,
  ) {}

  async start(): Promise<void> {}

  serve(message: JSONRPCMessage, classification: unknown): void {
    this.res.once("close", this.onResClose);
    this.dispatching = true;
    try {
      this.onmessage?.(message, { classification } as MessageExtraInfo);
    } finally {
      this.dispatching = false;
    }
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    if (this.closed) return;
    const response = "id" in message && ("result" in message || "error" in message);
    const related = response ? (message as { id: RequestId }).id : options?.relatedRequestId;
    if (related !== this.requestId) {
      if (response) this.onerror?.(new Error(`Received a response for an unknown request id: ${String(related)}`));
      return;
    }
    const res = this.res;
    if (!response) {
      if (!this.sse) this.toSse();
      res.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
      return;
    }
    if (this.answered) return;
    this.answered = true;
    if (this.sse) {
      res.end(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
    } else {
      const code = "error" in message ? (message.error as { code?: number }).code : undefined;
      const status = code !== undefined && (this.dispatching || code === MISSING_CLIENT_CAPABILITY) ? (LADDER_STATUS[code] ?? 200) : 200;
      const text = JSON.stringify(message);
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
      res.end(text);
    }
    queueMicrotask(this.onResClose);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.res.off("close", this.onResClose);
    if (this.keepAlive) clearInterval(this.keepAlive);
    if (!this.answered && !this.res.writableEnded) {
      // closed before an answer (the daemon shutting down): what the SDK's entry answers then
      if (this.sse) this.res.end();
      else {
        this.res.writeHead(499);
        this.res.end();
      }
    }
    this.onclose?.();
  }

  private toSse(): void {
    this.sse = true;
    this.res.writeHead(200, SSE_HEADERS);
    const res = this.res;
    this.keepAlive = setInterval(() => {
      if (!res.writableEnded) res.write(": keepalive\n\n");
    }, SSE_KEEPALIVE_MS);
    this.keepAlive.unref();
  }
}

/**
 * Serves the request on an instance from `acquire` when that instance is set up for the
 * request's revision; returns false (having touched nothing) otherwise, and the caller hands
 * the request to the SDK's handler.
 */
export function serveFast(res: ServerResponse, body: unknown, route: ModernRoute, acquire: () => ServerShell, inflight: Set<Transport>): Promise<boolean> | boolean {
  const shell = acquire();
  const server = shell.server;
  if (server.transport !== undefined || server.getNegotiatedProtocolVersion() !== route.classification.revision) {
    // a fresh instance: the SDK sets it up on this request, and it is primed from then on
    void server.close();
    return false;
  }
  const msg = body as JSONRPCMessage & { id: RequestId };
  const transport = new ExchangeTransport(res, msg.id);
  inflight.add(transport);
  return server.connect(transport).then(() => {
    const protocolClose = transport.onclose;
    transport.onclose = () => {
      inflight.delete(transport);
      protocolClose?.();
    };
    transport.serve(msg, route.classification);
    return true;
  });
}
