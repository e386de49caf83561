/**
 * The daemon's one HTTP port. Before any route runs it applies the checks every endpoint
 * shares: DNS-rebinding protection (`Host` and `Origin`, 403), bearer-token auth (401;
 * the dashboard may use a cookie set once from `?token=`), and it answers unknown paths
 * with 404. Routes and WebSocket upgrades are registered by the composition root.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { timingSafeEqual } from "node:crypto";
import type { Logger } from "pino";
import { BodyTooLargeError, DuplicateRouteError } from "./errors.ts";

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

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_NAMES.includes(host) || /^127\./.test(host);
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

/** A JSON-RPC error body, as the Streamable HTTP spec wants for transport-level refusals. */
export function sendRpcError(res: ServerResponse, status: number, code: number, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { jsonrpc: "2.0", error: { code, message }, id: null }, headers);
}

export class HttpServer {
  readonly server: Server;
  private routes = new Map<string, RouteHandler>();
  private prefixRoutes: [string, RouteHandler][] = [];
  private upgrades = new Map<string, UpgradeHandler>();

  constructor(private readonly security: HttpSecurity, private readonly logger: Logger) {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on("upgrade", (req, socket, head) => this.handleUpgrade(req, socket, head));
    this.server.on("clientError", (err, socket) => {
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
    });
    // Long-lived SSE streams must not be cut by Node's default request timeout.
    this.server.requestTimeout = 0;
    this.server.headersTimeout = 30_000;
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

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
      setTimeout(() => this.server.closeAllConnections(), 1_000).unref();
    });
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
      const originHost = o.hostname.startsWith("[") ? o.hostname : o.hostname.includes(":") ? `[${o.hostname}]` : o.hostname;
      const sameHost = originHost.toLowerCase() === hostname || (isLoopbackHost(originHost) && isLoopbackHost(hostname));
      if (!sameHost || o.host !== hostHeader) return `Origin "${origin}" is not allowed (add it to allowedOrigins)`;
    } else if (origin === "null") {
      return `Origin "null" is not allowed`;
    }
    return undefined;
  }

  /** Token check: Bearer header or, for the dashboard, the cookie. */
  isAuthorized(req: IncomingMessage): boolean {
    const token = this.security.token;
    if (!token) return true;
    const header = req.headers.authorization ?? "";
    const m = /^Bearer\s+(.+)$/i.exec(header);
    const cookie = (req.headers.cookie ?? "").split(/;\s*/).find((c) => c.startsWith(`${TOKEN_COOKIE}=`))?.slice(TOKEN_COOKIE.length + 1);
    const given = m?.[1] ?? (cookie ? decodeURIComponent(cookie) : undefined);
    if (!given) return false;
    const a = Buffer.from(given);
    const b = Buffer.from(token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://localhost");
    } catch {
      return sendJson(res, 400, { error: "bad request URL" });
    }
    try {
      const refused = this.checkOrigin(req);
      if (refused) {
        this.logger.warn({ path: url.pathname, host: req.headers.host, origin: req.headers.origin }, refused);
        return sendRpcError(res, 403, -32000, `Forbidden: ${refused}`);
      }
      // The dashboard link carries ?token= once; trade it for an HttpOnly cookie.
      if (this.security.token && url.pathname === "/" && url.searchParams.get("token") === this.security.token) {
        res.writeHead(302, { location: "/", "set-cookie": `${TOKEN_COOKIE}=${encodeURIComponent(this.security.token)}; HttpOnly; SameSite=Strict; Path=/` });
        return res.end();
      }
      if (!PUBLIC_PATHS.has(url.pathname) && !this.isAuthorized(req)) {
        return sendRpcError(res, 401, -32001, "Unauthorized: send Authorization: Bearer <token>", { "www-authenticate": 'Bearer realm="patchbay"' });
      }
      const handler = this.routes.get(url.pathname) ?? this.prefixRoutes.find(([p]) => url.pathname.startsWith(p))?.[1];
      if (!handler) return sendJson(res, 404, { error: `no such endpoint: ${url.pathname}` });
      await handler(req, res, url);
    } catch (err) {
      this.logger.error({ err, path: url.pathname }, "request handler failed");
      if (!res.headersSent) sendRpcError(res, 500, -32603, "Internal server error");
      else res.end();
    }
  }

  private handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    const reject = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
    };
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://localhost");
    } catch {
      return reject(400, "Bad Request");
    }
    const refused = this.checkOrigin(req);
    if (refused) return reject(403, "Forbidden");
    if (!this.isAuthorized(req)) return reject(401, "Unauthorized");
    const handler = this.upgrades.get(url.pathname);
    if (!handler) return reject(404, "Not Found");
    handler(req, socket, head, url);
  }
}

/** Reads a request body up to a limit; rejects with BodyTooLargeError past it. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? NaN);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      return reject(new BodyTooLargeError(`body larger than ${limit} bytes`));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners("data");
        req.resume();
        reject(new BodyTooLargeError(`body larger than ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/**
 * Reads a JSON request body and answers the refusals every JSON endpoint shares: 415 for
 * another Content-Type, 413 past the limit, 400 with -32700 for malformed JSON. Returns
 * `{ ok: false }` once it has answered.
 */
export async function readJsonBody(req: IncomingMessage, res: ServerResponse, limit: number): Promise<{ ok: true; body: unknown } | { ok: false }> {
  const ct = String(req.headers["content-type"] ?? "");
  if (!/^application\/json\b/i.test(ct)) {
    sendRpcError(res, 415, -32000, "Unsupported Media Type: Content-Type must be application/json");
    return { ok: false };
  }
  try {
    return { ok: true, body: JSON.parse((await readBody(req, limit)).toString("utf8")) };
  } catch (err) {
    if (err instanceof BodyTooLargeError) sendRpcError(res, 413, -32000, `Payload Too Large: the limit is ${limit} bytes`);
    else sendRpcError(res, 400, -32700, "Parse error: body is not valid JSON");
    return { ok: false };
  }
}
