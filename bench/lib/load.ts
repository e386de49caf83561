/**
 * The load clients: autocannon for HTTP (prepared requests, a unique JSON-RPC id on every
 * request, each answer checked for a JSON-RPC result) and a `ws` client that keeps N
 * requests in flight on one connection. The same code drives every system.
 */
import autocannon from "autocannon";
import WebSocket from "ws";

export const MODERN = "2026-07-28";
export const LEGACY = "2025-11-25";
const ACCEPT = "application/json, text/event-stream";
const CLIENT_INFO = { name: "patchbay-bench", version: "1.0.0" };

export interface LoadResult {
  /** answers per second that carried a JSON-RPC result (2xx, `"result"` in the body) */
  okPerSec: number;
  /** all answers per second, whatever they said */
  answersPerSec: number;
  p50: number;
  p99: number;
  ok: number;
  /** connection errors (autocannon `errors`; ws errors and closes) */
  errors: number;
  timeouts: number;
  non2xx: number;
  /** 2xx answers without a JSON-RPC result (a JSON-RPC error, or an unexpected body) */
  rpcErrors: number;
  seconds: number;
  /** the first non-OK answer seen, to tell the reader why a row fails */
  sample?: string;
}

/** One kind of HTTP request the load client sends. */
export interface HttpShape {
  url: string;
  headers: Record<string, string>;
  body: (id: number) => string;
}

function callMessage(id: number, tool: string, text: string, meta?: Record<string, unknown>) {
  return { jsonrpc: "2.0", id, method: "tools/call", params: { name: tool, arguments: { text }, ...(meta ? { _meta: meta } : {}) } };
}

/** A 2025-era `tools/call` on an initialized session (or sessionless for stateless servers). */
export function legacyCall(url: string, tool: string, sessionId?: string): HttpShape {
  const headers: Record<string, string> = { "content-type": "application/json", accept: ACCEPT, "mcp-protocol-version": LEGACY };
  if (sessionId) headers["mcp-session-id"] = sessionId;
  return { url, headers, body: (id) => JSON.stringify(callMessage(id, tool, `hello ${id}`)) };
}

/** A stateless 2026-07-28 `tools/call`: routing headers plus the per-request `_meta` envelope. */
export function modernCall(url: string, tool: string): HttpShape {
  const headers = { "content-type": "application/json", accept: ACCEPT, "mcp-protocol-version": MODERN, "mcp-method": "tools/call", "mcp-name": tool };
  const meta = { "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}, "io.modelcontextprotocol/clientInfo": CLIENT_INFO };
  return { url, headers, body: (id) => JSON.stringify(callMessage(id, tool, `hello ${id}`, meta)) };
}

/** The JSON-RPC message in a plain JSON or SSE-framed answer. */
export function rpcFromBody(body: string): any {
  const t = body.trim();
  if (t.startsWith("{") || t.startsWith("[")) return JSON.parse(t);
  const data = t
    .split("\n")
    .filter((l) => l.startsWith("data:"))
    .map((l) => l.slice(5).trim());
  for (const d of data) {
    const m = JSON.parse(d);
    if (m && (m.result !== undefined || m.error !== undefined)) return m;
  }
  throw new Error(`no JSON-RPC answer in ${JSON.stringify(body.slice(0, 200))}`);
}

/**
 * 2025-era handshake over plain fetch: `initialize`, then `notifications/initialized`.
 * Returns the session id (undefined for a server that issues none).
 */
export async function initializeSession(url: string): Promise<string | undefined> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: ACCEPT },
    body: JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: LEGACY, capabilities: {}, clientInfo: CLIENT_INFO } }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`initialize: HTTP ${res.status}: ${text.slice(0, 300)}`);
  const answer = rpcFromBody(text);
  if (!answer.result) throw new Error(`initialize: ${JSON.stringify(answer).slice(0, 300)}`);
  const sid = res.headers.get("mcp-session-id") ?? undefined;
  const headers: Record<string, string> = { "content-type": "application/json", accept: ACCEPT, "mcp-protocol-version": answer.result.protocolVersion ?? LEGACY };
  if (sid) headers["mcp-session-id"] = sid;
  const n = await fetch(url, { method: "POST", headers, body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) });
  await n.arrayBuffer();
  return sid;
}

/** One request of `shape` through fetch: what a single answer looks like (for the report). */
export async function probe(shape: HttpShape): Promise<{ ok: boolean; status: number; detail: string }> {
  try {
    const res = await fetch(shape.url, { method: "POST", headers: shape.headers, body: shape.body(1) });
    const text = await res.text();
    let detail = `HTTP ${res.status} ${text.replace(/\s+/g, " ").slice(0, 160)}`;
    let ok = false;
    try {
      const m = rpcFromBody(text);
      ok = res.ok && m.result !== undefined && JSON.stringify(m.result).includes("hello 1");
      if (m.error) detail = `HTTP ${res.status}, JSON-RPC ${m.error.code} ${String(m.error.message).slice(0, 120)}`;
    } catch {
      // not JSON-RPC
    }
    return { ok, status: res.status, detail };
  } catch (err) {
    return { ok: false, status: 0, detail: (err as Error).message };
  }
}

/**
 * autocannon against one request shape: `connections` connections, every request built
 * just before sending with the next id (no id is ever reused, even across connections).
 */
export async function httpLoad(shape: HttpShape, opts: { seconds: number; connections?: number }): Promise<LoadResult> {
  let nextId = 1_000;
  let ok = 0;
  let rpcErrors = 0;
  let sample: string | undefined;
  const url = new URL(shape.url);
  const instance = autocannon({
    url: url.origin,
    connections: opts.connections ?? 16,
    duration: opts.seconds,
    timeout: 10,
    requests: [
      {
        method: "POST",
        path: url.pathname,
        headers: shape.headers,
        setupRequest: (req) => ({ ...req, body: shape.body(nextId++) }),
        onResponse: (status, body) => {
          if (status >= 200 && status < 300 && body.includes('"result"')) ok++;
          else {
            if (status >= 200 && status < 300) rpcErrors++;
            sample ??= `HTTP ${status} ${String(body).replace(/\s+/g, " ").slice(0, 160)}`;
          }
        },
      },
    ],
  });
  const r = await instance;
  const seconds = r.duration || opts.seconds;
  return {
    okPerSec: ok / seconds,
    answersPerSec: r.requests.total / seconds,
    p50: r.latency.p50,
    p99: r.latency.p99,
    ok,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx: r.non2xx,
    rpcErrors,
    seconds,
    sample,
  };
}

function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export function summarize(samples: number[]) {
  const s = Float64Array.from(samples).sort();
  return { p50: percentile(s, 0.5), p99: percentile(s, 0.99), n: s.length };
}

/**
 * WebSocket load: one connection (subprotocol `mcp`), `initialize` first, then `inFlight`
 * `tools/call` requests kept in flight for `seconds`, each with a fresh id.
 */
export async function wsLoad(url: string, tool: string, opts: { seconds: number; inFlight?: number }): Promise<LoadResult> {
  const inFlight = opts.inFlight ?? 16;
  const ws = new WebSocket(url, "mcp", { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  const pending = new Map<number, number>();
  const lat: number[] = [];
  let ok = 0;
  let rpcErrors = 0;
  let errors = 0;
  let sample: string | undefined;
  let stopAt = Infinity;
  let nextId = 1;
  let initialized: () => void = () => undefined;
  let drained: () => void = () => undefined;
  const send = () => {
    const id = nextId++;
    pending.set(id, performance.now());
    ws.send(JSON.stringify(callMessage(id, tool, `hello ${id}`)));
  };
  ws.on("error", () => errors++);
  ws.on("close", () => {
    if (pending.size > 0) errors++;
    drained();
  });
  ws.on("message", (data) => {
    const m = JSON.parse(String(data));
    if (m.id === 0) return initialized();
    if (m.id === undefined) return; // a notification
    const t0 = pending.get(m.id);
    if (t0 === undefined) return;
    pending.delete(m.id);
    lat.push(performance.now() - t0);
    if (m.result !== undefined) ok++;
    else {
      rpcErrors++;
      sample ??= JSON.stringify(m).slice(0, 160);
    }
    if (performance.now() < stopAt) send();
    else if (pending.size === 0) drained();
  });
  const ready = new Promise<void>((r) => (initialized = r));
  ws.send(JSON.stringify({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: LEGACY, capabilities: {}, clientInfo: CLIENT_INFO } }));
  let initTimer: NodeJS.Timeout | undefined;
  await Promise.race([
    ready,
    new Promise<never>((_, reject) => {
      initTimer = setTimeout(() => reject(new Error(`no answer to initialize over ${url} within 10 s`)), 10_000);
      ws.once("close", (code, reason) => reject(new Error(`${url} closed (${code} ${String(reason)}) before initialize was answered`)));
    }),
  ])
    .catch((err) => {
      ws.terminate();
      throw err;
    })
    .finally(() => clearTimeout(initTimer));
  ws.send(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }));
  const done = new Promise<void>((r) => (drained = r));
  const t0 = performance.now();
  stopAt = t0 + opts.seconds * 1000;
  for (let i = 0; i < inFlight; i++) send();
  const guard = setTimeout(() => drained(), opts.seconds * 1000 + 10_000);
  await done;
  clearTimeout(guard);
  const seconds = (performance.now() - t0) / 1000;
  const timeouts = pending.size;
  ws.close();
  const { p50, p99 } = summarize(lat);
  return { okPerSec: ok / seconds, answersPerSec: lat.length / seconds, p50, p99, ok, errors, timeouts, non2xx: 0, rpcErrors, seconds, sample };
}
