/**
 * The daemon's one HTTP port. Before any route runs it applies the checks every endpoint
 * shares: DNS-rebinding protection (`Host` and `Origin`, 403), bearer-token auth (401;
 * the dashboard may use a cookie set once from `?token=`), and it answers unknown paths
 * with 404. Routes and WebSocket upgrades are registered by the composition root.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { isIPv6 } from "node:net";
import type { Duplex } from "node:stream";
import { createHash, timingSafeEqual } from "node:crypto";
import type { Logger } from "pino";
import { BodyTooLargeError, DaemonShuttingDownError, DuplicateRouteError, Refusal, RequestAbortedError } from "./errors.ts";
import { INSTANCE_HEADER, instanceHeaderValue } from "./instance.ts";

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer, url: URL) => void;

export interface HttpSecurity {
  host: string;
  token?: string;
  allowedHosts: string[];
  allowedOrigins: string[];
}

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]", "::1"];
const TOKEN_COOKIE = "patchbay_token";
/** Paths that answer without a token (with less detail). */
const PUBLIC_PATHS = new Set(["/healthz"]);
/**
 * OAuth discovery documents, in the forms the MCP SDKs try (RFC 9728 and RFC 8414 with a path
 * suffix, OpenID Connect with the path before or after). There is no authorization server,
 * only a static bearer token: a 401 here would read as "sign in with OAuth" to clients such as
 * mcp-remote, which then wait for a sign-in that cannot happen; a 404 tells them there is none.
 */
const OAUTH_DISCOVERY = /^(?:\/\.well-known\/(?:oauth-protected-resource|oauth-authorization-server|openid-configuration)(?:\/.*)?|\/.*\/\.well-known\/(?:openid-configuration|oauth-authorization-server))$/;

/**
 * Server timeouts. Node's `requestTimeout` bounds only the receiving of a request (headers
 * and body; checked every `checkIntervalMs`): once a request is in, its response may stream
 * for as long as it likes, so the SSE streams of `/sse` and `/mcp` are not cut, and upgraded
 * WebSocket sockets leave the server's bookkeeping altogether.
 */
export interface HttpTimeouts {
  headersMs: number;
  requestMs: number;
  /** an idle keep-alive connection between two requests */
  keepAliveMs: number;
  checkIntervalMs: number;
}

/** Node's own recommendations: headers 60 s, a non-zero request timeout (its docs suggest 120 s), keep-alive 5 s. */
export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = { headersMs: 60_000, requestMs: 120_000, keepAliveMs: 5_000, checkIntervalMs: 30_000 };

const IPV4_OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4_LOOPBACK = new RegExp(`^127(?:\\.${IPV4_OCTET}){3}$`);

/**
 * Whether `host` is this machine's loopback interface. Only literals count: a prefix test
 * such as /^127\./ also passes the DNS name `127.evil.example`, which may resolve anywhere.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "localhost" || IPV4_LOOPBACK.test(h)) return true;
  const v6 = h.startsWith("[") && h.endsWith("]") ? h.slice(1, -1) : h;
  if (!isIPv6(v6)) return false;
  try {
    // The URL parser's canonical form, so every spelling of ::1 counts and nothing else does.
    return new URL(`http://[${v6}]/`).hostname === "[::1]";
  } catch {
    return false;
  }
}

const sha256 = (s: string) => createHash("sha256").update(s).digest();

/** Constant-time: comparing equal-length digests hides both the token's length and where a guess differs. */
function tokenMatches(given: string, token: string): boolean {
  return timingSafeEqual(sha256(given), sha256(token));
}

/** The cookie's value, or undefined when absent or not valid percent-encoding (then it is no credential). */
function cookieValue(header: string | undefined, name: string): string | undefined {
  const raw = (header ?? "").split(/;\s*/).find((c) => c.startsWith(`${name}=`))?.slice(name.length + 1);
  if (!raw) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/**
 * A refusal of an upgrade, written raw on a socket that is not (yet) a WebSocket: Node's
 * reason phrase for `status`, `connection: close`, then `headers` in order, then the body
 * (`text` as text/plain, `json` as application/json, or none).
 */
export function refuseUpgrade(socket: Duplex, status: number, answer: { text?: string; json?: unknown; headers?: Record<string, string> } = {}): void {
  const head = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}`, "connection: close"];
  for (const [k, v] of Object.entries(answer.headers ?? {})) head.push(`${k}: ${v}`);
  const body = answer.json !== undefined ? JSON.stringify(answer.json) : answer.text;
  if (body !== undefined) head.push(`content-type: ${answer.json !== undefined ? "application/json" : "text/plain"}`);
  head.push(`content-length: ${body === undefined ? 0 : Buffer.byteLength(body)}`);
  socket.end(`${head.join("\r\n")}\r\n\r\n${body ?? ""}`);
}

/** The JSON-RPC error body every refusal carries, on an HTTP response or an upgrade. */
export function refusalBody(refusal: HttpRefusal, message: string, id: string | number | null = null) {
  return { jsonrpc: "2.0", error: { code: refusal.rpc, message }, id };
}

function hostnameOf(hostHeader: string): string {
  if (hostHeader.startsWith("[")) return hostHeader.slice(0, hostHeader.indexOf("]") + 1);
  return hostHeader.split(":")[0];
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store", ...headers });
  res.end(text);
}

/** What sendRefusal needs of a catalogue entry (errors.ts): its HTTP status and JSON-RPC code. */
export interface HttpRefusal {
  readonly status: number;
  readonly rpc: number;
}

/**
 * A refusal from the error catalogue as a JSON-RPC error body (as the Streamable HTTP spec
 * wants for transport-level refusals), with the entry's status and code; `id` echoes the
 * request's id when it is known.
 */
export function sendRefusal(res: ServerResponse, refusal: HttpRefusal, message: string, headers: Record<string, string> = {}, id: string | number | null = null): void {
  sendJson(res, refusal.status, refusalBody(refusal, message, id), headers);
}

export class HttpServer {
  readonly server: Server;
  private routes = new Map<string, RouteHandler>();
  private prefixRoutes: [string, RouteHandler][] = [];
  private upgrades = new Map<string, UpgradeHandler>();

  constructor(private readonly security: HttpSecurity, private readonly logger: Logger, timeouts: Partial<HttpTimeouts> = {}) {
    const t = { ...DEFAULT_HTTP_TIMEOUTS, ...timeouts };
    // A client that trickles its headers or body (or never finishes them) is cut with 408
    // instead of holding a connection and a pending handler forever; see HttpTimeouts.
    this.server = createServer({ connectionsCheckingInterval: t.checkIntervalMs, headersTimeout: t.headersMs, requestTimeout: t.requestMs, keepAliveTimeout: t.keepAliveMs }, (req, res) => this.serve(req, res));
    this.server.on("upgrade", (req, socket, head) => this.handleUpgrade(req, socket, head));
    this.server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
      // The statuses Node itself would send; a timed-out client is told so (408), not blamed (400).
      const status = err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? `${Refusal.RequestTimeout.status} Request Timeout` : err.code === "HPE_HEADER_OVERFLOW" ? `${Refusal.HeadersTooLarge.status} Request Header Fields Too Large` : `${Refusal.BadRequest.status} Bad Request`;
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\n\r\n`);
    });
  }

  route(path: string, handler: RouteHandler): void {
    if (this.routes.has(path)) throw new DuplicateRouteError(`route ${path} registered twice`);
    this.routes.set(path, handler);
  }

  /** Handles every path under a prefix (e.g. `/api/`). */
  routePrefix(prefix: string, handler: RouteHandler): void {
    this.prefixRoutes.push([prefix, handler]);
  }

  upgrade(path: string, handler: UpgradeHandler): void {
    this.upgrades.set(path, handler);
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once("error", onError);
      this.server.listen(port, host, () => {
        this.server.off("error", onError);
        const addr = this.server.address();
        resolve(typeof addr === "object" && addr ? addr.port : port);
      });
    });
  }

  /**
   * Shuts the port in two steps. At once: no new connections (the listener closes), idle
   * keep-alive connections end, and any new request on a connection still open — or a new
   * WebSocket upgrade — gets 503 with `Connection: close`; requests already being handled
   * keep going. When `drained` settles (the caller has let calls answer and closed the
   * sessions, which ends their streams), the connections still open are closed.
   */
  async close(drained: Promise<unknown> = Promise.resolve()): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.removeAllListeners("request");
    this.server.on("request", (_req: IncomingMessage, res: ServerResponse) => {
      sendRefusal(res, DaemonShuttingDownError, "Service Unavailable: the daemon is shutting down", { connection: "close", "retry-after": "1" });
    });
    this.server.removeAllListeners("upgrade");
    this.server.on("upgrade", (_req: IncomingMessage, socket: Duplex) => {
      socket.on("error", () => undefined);
      refuseUpgrade(socket, DaemonShuttingDownError.status, { headers: { "retry-after": "1" } });
    });
    this.server.closeIdleConnections();
    await drained.catch(() => undefined);
    // one turn for the last responses' bytes to leave before the sockets are destroyed
    await new Promise((r) => setImmediate(r));
    this.server.closeAllConnections();
    await closed;
  }

  /** Host/Origin check; returns a reason when the request must be refused. */
  checkOrigin(req: IncomingMessage): string | undefined {
    const hostHeader = req.headers.host;
    if (!hostHeader) return "missing Host header";
    const hostname = hostnameOf(hostHeader).toLowerCase();
    const bindAll = this.security.host === "0.0.0.0" || this.security.host === "::";
    const allowedHosts = [...LOOPBACK_NAMES, this.security.host.toLowerCase(), ...this.security.allowedHosts.map((h) => h.toLowerCase())];
    if (!(bindAll && this.security.allowedHosts.length === 0) && !allowedHosts.includes(hostname) && !this.security.allowedHosts.includes(hostHeader)) {
      return `Host "${hostHeader}" is not allowed (DNS rebinding protection; add it to allowedHosts)`;
    }
    const origin = req.headers.origin;
    if (origin && origin !== "null") {
      if (this.security.allowedOrigins.includes(origin) || this.security.allowedOrigins.includes("*")) return undefined;
      let o: URL;
      try {
        o = new URL(origin);
      } catch {
        return `Origin "${origin}" is malformed`;
      }
      // We serve plain HTTP, so our own pages have http: origins; https://127.0.0.1:PORT is some
      // other server's page (behind a TLS proxy, list the origin in allowedOrigins).
      if (o.protocol !== "http:") return `Origin "${origin}" is not allowed (this server speaks http:; add it to allowedOrigins)`;
      const originHost = o.hostname.startsWith("[") ? o.hostname : o.hostname.includes(":") ? `[${o.hostname}]` : o.hostname;
      const sameHost = originHost.toLowerCase() === hostname || (isLoopbackHost(originHost) && isLoopbackHost(hostname));
      if (!sameHost || o.host !== hostHeader) return `Origin "${origin}" is not allowed (add it to allowedOrigins)`;
    } else if (origin === "null") {
      return `Origin "null" is not allowed`;
    }
    return undefined;
  }

  /** Token check: Bearer header or, for the dashboard, the cookie. Never throws: a malformed credential is just not the token. */
  isAuthorized(req: IncomingMessage): boolean {
    const token = this.security.token;
    if (!token) return true;
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "");
    const given = m?.[1] ?? cookieValue(req.headers.cookie, TOKEN_COOKIE);
    return !!given && tokenMatches(given, token);
  }

  /** The last guard: a rejection escaping here would be unhandled, and that ends the process. */
  private serve(req: IncomingMessage, res: ServerResponse): void {
    this.handle(req, res).catch((err) => {
      this.logger.error({ err, url: req.url }, "request failed outside its handler");
      if (!res.headersSent) sendRefusal(res, Refusal.Internal, "Internal server error");
      else res.destroy();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://localhost");
    } catch {
      return sendJson(res, 400, { error: "bad request URL" });
    }
    try {
      // who answers, for another daemon that has this one as an upstream (loop detection, instance.ts)
      res.setHeader(INSTANCE_HEADER, instanceHeaderValue());
      const refused = this.checkOrigin(req);
      if (refused) {
        this.logger.warn({ path: url.pathname, host: req.headers.host, origin: req.headers.origin }, refused);
        return sendRefusal(res, Refusal.Forbidden, `Forbidden: ${refused}`);
      }
      if (OAUTH_DISCOVERY.test(url.pathname)) {
        return sendJson(res, Refusal.NoAuthorizationServer.status, { error: "no OAuth authorization server: send Authorization: Bearer <token> with the token the daemon was started with" });
      }
      // The dashboard link carries ?token= once; trade it for an HttpOnly cookie.
      const queryToken = url.searchParams.get("token");
      if (this.security.token && url.pathname === "/" && queryToken && tokenMatches(queryToken, this.security.token)) {
        res.writeHead(302, { location: "/", "set-cookie": `${TOKEN_COOKIE}=${encodeURIComponent(this.security.token)}; HttpOnly; SameSite=Strict; Path=/` });
        return res.end();
      }
      if (!PUBLIC_PATHS.has(url.pathname) && !this.isAuthorized(req)) {
        return sendRefusal(res, Refusal.Unauthorized, "Unauthorized: send Authorization: Bearer <token>", { "www-authenticate": 'Bearer realm="patchbay"' });
      }
      const handler = this.routes.get(url.pathname) ?? this.prefixRoutes.find(([p]) => url.pathname.startsWith(p))?.[1];
      if (!handler && this.upgrades.has(url.pathname)) {
        return sendJson(res, Refusal.UpgradeRequired.status, { error: `${url.pathname} speaks WebSocket only: connect with Upgrade: websocket and the subprotocol mcp` }, { upgrade: "websocket", connection: "Upgrade" });
      }
      if (!handler) return sendJson(res, 404, { error: `no such endpoint: ${url.pathname}` });
      await handler(req, res, url);
    } catch (err) {
      this.logger.error({ err, path: url.pathname }, "request handler failed");
      if (!res.headersSent) sendRefusal(res, Refusal.Internal, "Internal server error");
      else res.end();
    }
  }

  private handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    // Node drops its own 'error' listener from the socket before emitting 'upgrade': without
    // ours, a peer that resets the connection while we answer is an uncaught exception.
    socket.on("error", (err) => this.logger.debug({ err, path: req.url }, "upgrade socket error"));
    try {
      this.routeUpgrade(req, socket, head);
    } catch (err) {
      this.logger.error({ err, path: req.url }, "upgrade handler failed");
      // Answer only while nothing is written: after a 101 the bytes belong to the WebSocket.
      const written = (socket as Duplex & { bytesWritten?: number }).bytesWritten ?? 0;
      if (written === 0 && socket.writable) refuseUpgrade(socket, Refusal.Internal.status, { text: "Internal Server Error" });
      else socket.destroy();
    }
  }

  private routeUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://localhost");
    } catch {
      return refuseUpgrade(socket, Refusal.BadRequest.status, { text: "Bad Request" });
    }
    const refused = this.checkOrigin(req);
    if (refused) {
      this.logger.warn({ path: url.pathname, host: req.headers.host, origin: req.headers.origin }, refused);
      return refuseUpgrade(socket, Refusal.Forbidden.status, { text: "Forbidden" });
    }
    if (!this.isAuthorized(req)) return refuseUpgrade(socket, Refusal.Unauthorized.status, { text: "Unauthorized" });
    const handler = this.upgrades.get(url.pathname);
    if (!handler) return refuseUpgrade(socket, 404, { text: "Not Found" });
    handler(req, socket, head, url);
  }
}

/**
 * Reads a request body up to a limit; rejects with BodyTooLargeError past it and with
 * RequestAbortedError when the client goes away first. It always settles: a request that
 * ends without 'end' (aborted, reset, cut by a timeout) would otherwise leave its handler
 * waiting forever.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // Already torn down or read: no event will come.
    if (req.destroyed || req.readableEnded) return reject(new RequestAbortedError("the request was closed before its body was read"));
    const declared = Number(req.headers["content-length"] ?? NaN);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      return reject(new BodyTooLargeError(`body larger than ${limit} bytes`));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let ended = false;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.off("data", onData);
        // Drained, not buffered; the server's requestTimeout bounds a client that never stops.
        req.resume();
        reject(new BodyTooLargeError(`body larger than ${limit} bytes`));
        return;
      }
      chunks.push(c);
    };
    req.on("data", onData);
    req.on("end", () => {
      ended = true;
      // most bodies arrive in one chunk
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    });
    req.on("error", (err) => reject(new RequestAbortedError(`the client went away mid-body: ${err.message}`, { cause: err })));
    req.on("close", () => {
      if (!ended) reject(new RequestAbortedError("the connection closed before the body was complete"));
    });
  });
}

/** `application/json`, optionally with parameters; not look-alikes such as `application/json-seq`. */
const JSON_MEDIA_TYPE = /^application\/json\s*(?:;|$)/i;

/** A route that only reads (pages, health, metrics): other methods get 405 with `Allow: GET, HEAD`. */
export function readOnly(handler: RouteHandler): RouteHandler {
  return (req, res, url) => {
    if (req.method === "GET" || req.method === "HEAD") return handler(req, res, url);
    sendJson(res, Refusal.MethodNotAllowed.status, { error: "method not allowed" }, { allow: "GET, HEAD" });
  };
}

/**
 * Reads a JSON request body and answers the refusals every JSON endpoint shares: 415 for
 * another Content-Type or a Content-Encoding, 413 past the limit, 400 with -32700 for malformed JSON. Returns
 * `{ ok: false }` once it has answered (or, if the client went away, closed the response).
 */
export async function readJsonBody(req: IncomingMessage, res: ServerResponse, limit: number): Promise<{ ok: true; body: unknown } | { ok: false }> {
  const ct = String(req.headers["content-type"] ?? "");
  if (!JSON_MEDIA_TYPE.test(ct)) {
    sendRefusal(res, Refusal.UnsupportedMediaType, "Unsupported Media Type: Content-Type must be application/json");
    return { ok: false };
  }
  // a compressed body would otherwise be read as JSON text and called malformed
  const encoding = String(req.headers["content-encoding"] ?? "identity").trim().toLowerCase();
  if (encoding !== "identity" && encoding !== "") {
    sendRefusal(res, Refusal.UnsupportedMediaType, `Unsupported Media Type: Content-Encoding ${encoding.slice(0, 40)} is not supported; send the body uncompressed`);
    return { ok: false };
  }
  let text: string;
  try {
    text = (await readBody(req, limit)).toString("utf8");
  } catch (err) {
    if (err instanceof BodyTooLargeError) sendRefusal(res, BodyTooLargeError, `Payload Too Large: the limit is ${limit} bytes`);
    else res.destroy(); // the client is gone; there is nobody to answer
    return { ok: false };
  }
  try {
    return { ok: true, body: JSON.parse(text) };
  } catch {
    sendRefusal(res, Refusal.ParseError, "Parse error: body is not valid JSON");
    return { ok: false };
  }
}
