/**
 * The JSON the dashboard reads under `/api/`, its live feed (`/api/events`, Server-Sent
 * Events), and the dashboard's static files. Same auth as every other endpoint (the HTTP
 * server checks it first).
 *
 * The live feed is one hub shared by every stream, so its cost does not grow with the
 * number of viewers beyond the writes themselves: at most `maxEventStreams` streams (then
 * 503 + Retry-After); the overview is built and serialized once per second for all of them;
 * each `overview` event carries only the top-level keys whose JSON changed since that
 * stream's last event (the first event on a stream has them all; a client merges them);
 * span batches and log lines are serialized once and written to every stream; a stream
 * whose reader stops reading is closed once its unsent buffer passes a bound.
 */
import { readFile } from "node:fs/promises";
import { join, normalize, relative } from "node:path";
import type { IncomingMessage, ServerResponse } from "node:http";
import { compareCodePoints } from "./code-point-order.ts";
import { Refusal } from "./errors.ts";
import { sendJson } from "./http-server.ts";
import { pluginSummary, sessionSummary, statelessSummary } from "./health.ts";
import type { PluginManager } from "./plugins/host/plugin-manager.ts";
import type { Registry } from "./registry.ts";
import type { SessionStore } from "./session-store.ts";
import { UNKNOWN_TOOL, type DashboardStore, type ToolStats } from "./telemetry/dashboard-store.ts";
import type { LogTail } from "./log-tail.ts";
import { clipString } from "./clip-string.ts";
import { estimateTokens } from "./context/token-counter.ts";
import type { ContextCosts } from "./context/definition-costs.ts";

/** Concurrent `/api/events` streams: a dashboard tab holds one; more is a leak or abuse. */
export const MAX_EVENT_STREAMS = 32;
const TICK_MS = 1_000;
/** Unsent bytes a stream may hold before it is closed (EventSource reconnects and resyncs). */
const MAX_STREAM_BUFFER = 4 * 1024 * 1024;
/** Longest client-chosen string (client name/version) shown in the overview. */
const MAX_CLIENT_STRING = 256;

export interface DashboardDeps {
  registry: Registry;
  manager: PluginManager;
  store: SessionStore;
  telemetry?: DashboardStore;
  logs: LogTail;
  version: string;
  startedAt: number;
  staticDir: string;
  pluginsDir: string;
  otlp?: { protocol: string; endpoint: string };
  /** token costs of the listings (context/definition-costs.ts) */
  costs?: ContextCosts;
  /** default MAX_EVENT_STREAMS */
  maxEventStreams?: number;
}

function clip(v: string | undefined): string | undefined {
  return v === undefined ? undefined : clipString(v, MAX_CLIENT_STRING);
}

export function overview(d: DashboardDeps) {
  const stats = new Map((d.telemetry?.toolStats() ?? []).map((s) => [s.tool, s]));
  const heap = new Map(d.manager.workers().map((w) => [w.name, w.worker.heapUsed]));
  const tools = [...d.registry.tools.values()].map((t) => toolRow(t.exposed, t.plugin.manifest.name, t.info.description, stats.get(t.exposed), d.costs?.toolTokens(t.exposed) ?? 0));
  tools.sort((a, b) => compareCodePoints(a.name, b.name));
  // Calls to names the registry does not know share one row, last; a tool's own history
  // goes with it when it is unloaded (the store drops it), so this list is the registry's.
  // Patchbay's own search tools get rows once they have been called
  for (const s of stats.values()) if (s.plugin === "patchbay" && !d.registry.tools.has(s.tool)) tools.push(toolRow(s.tool, "patchbay", "Patchbay's own tool (search mode)", s, 0));
  const unknown = stats.get(UNKNOWN_TOOL);
  const rows: ((typeof tools)[number] & { unknown?: boolean })[] = tools;
  if (unknown) rows.push({ ...toolRow(UNKNOWN_TOOL, "", "calls to tool names that are not loaded", unknown, 0), unknown: true });
  return {
    version: d.version,
    uptimeSeconds: Math.round((Date.now() - d.startedAt) / 1000),
    telemetry: { enabled: d.telemetry !== undefined, otlp: d.otlp, spans: d.telemetry?.totalSpans ?? 0 },
    pluginsDir: d.pluginsDir,
    // missing or unreadable, and since when (the dashboard shows a banner)
    pluginsFolder: d.manager.folderStatus(),
    // the first load after start: done yet, and how many plugins still load
    startup: d.manager.startup(),
    plugins: d.manager.states().map((p) => ({ ...pluginSummary(p), relFile: relative(d.pluginsDir, p.file), heapBytes: heap.get(p.name) ?? 0 })),
    tools: rows,
    // client name and version are whatever the client sent at initialize
    sessions: d.store.list().map((x) => {
      const s = sessionSummary(x);
      return { ...s, clientName: clip(s.clientName), clientVersion: clip(s.clientVersion) };
    }),
    // 2026-07-28 HTTP clients have no session: the recent ones, by name and era
    statelessClients: d.store.statelessClients().map((x) => {
      const c = statelessSummary(x);
      return { ...c, clientName: clip(c.clientName), clientVersion: clip(c.clientVersion) };
    }),
    conflicts: d.registry.conflicts,
    // what the listings cost a model's context (estimated tokens), per view and plugin
    context: d.costs?.snapshot(),
  };
}

/**
 * One row of the tools table: its stats over the window (zeros before its first call), its
 * result sizes — bytes as measured, tokens estimated from them (results are never tokenized)
 * — and what its definition costs when listed.
 */
function toolRow(name: string, plugin: string, description: string | undefined, s: ToolStats | undefined, tokens: number) {
  const p50 = s?.resultBytesP50 ?? 0;
  const p99 = s?.resultBytesP99 ?? 0;
  return {
    name,
    plugin,
    description,
    calls: s?.calls ?? 0,
    errors: s?.errors ?? 0,
    errorRate: s?.errorRate ?? 0,
    p50: s?.p50 ?? 0,
    p95: s?.p95 ?? 0,
    p99: s?.p99 ?? 0,
    lastCallAt: s?.lastCallAt,
    resultBytesP50: p50,
    resultBytesP99: p99,
    resultTokensP50: estimateTokens(p50),
    resultTokensP99: estimateTokens(p99),
    tokens,
  };
}

const TYPES: Record<string, string> = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".map": "application/json" };

export function createDashboardRoutes(d: DashboardDeps) {
  async function serveStatic(res: ServerResponse, rel: string) {
    const file = normalize(join(d.staticDir, rel));
    if (!file.startsWith(d.staticDir)) return sendJson(res, 404, { error: "not found" });
    try {
      const body = await readFile(file);
      const ext = file.slice(file.lastIndexOf("."));
      res.writeHead(200, { "content-type": TYPES[ext] ?? "application/octet-stream", "content-length": body.length, "cache-control": "no-cache", "x-content-type-options": "nosniff", "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:" });
      res.end(body);
    } catch {
      sendJson(res, 404, { error: "dashboard asset not found (run npm run build)" });
    }
  }

  const hub = createEventHub(d);

  return {
    index: (_req: IncomingMessage, res: ServerResponse) => serveStatic(res, "index.html"),
    assets: (_req: IncomingMessage, res: ServerResponse, url: URL) => serveStatic(res, url.pathname.slice("/dashboard/".length)),
    api(req: IncomingMessage, res: ServerResponse, url: URL) {
      if (req.method !== "GET") return sendJson(res, 405, { error: "method not allowed" }, { allow: "GET" });
      const path = url.pathname;
      if (path === "/api/overview") return sendJson(res, 200, overview(d));
      if (path === "/api/series") return sendJson(res, 200, d.telemetry?.series(url.searchParams.get("tool") ?? undefined) ?? []);
      if (path === "/api/traces") return sendJson(res, 200, (d.telemetry?.recentTraces(Number(url.searchParams.get("limit") ?? 50)) ?? []));
      if (path.startsWith("/api/traces/")) {
        const spans = d.telemetry?.trace(path.slice("/api/traces/".length));
        return spans ? sendJson(res, 200, spans) : sendJson(res, 404, { error: "unknown trace (it may have aged out)" });
      }
      if (path === "/api/logs") return sendJson(res, 200, d.logs.recent());
      if (path === "/api/events") return hub.open(req, res);
      return sendJson(res, 404, { error: `no such endpoint: ${path}` });
    },
  };
}

interface EventStream {
  res: ServerResponse;
  /** the JSON of each overview key as this stream last received it */
  sent: Map<string, string>;
}

/** The shared live feed behind `/api/events` (see the module comment). */
function createEventHub(d: DashboardDeps) {
  const max = d.maxEventStreams ?? MAX_EVENT_STREAMS;
  const streams = new Set<EventStream>();
  let tick: NodeJS.Timeout | undefined;
  let unsubscribe: (() => void)[] = [];

  /** The overview with each top-level key serialized once, for every stream to compare. */
  function snapshot(): Map<string, string> {
    const o = overview(d);
    return new Map(Object.entries(o).map(([k, v]) => [k, JSON.stringify(v ?? null)]));
  }

  function write(s: EventStream, chunk: string) {
    const { res } = s;
    if (res.writableEnded || res.destroyed) return;
    // A reader that stopped reading would otherwise make us buffer without bound.
    if (res.writableLength > MAX_STREAM_BUFFER) {
      res.destroy();
      return;
    }
    res.write(chunk);
  }

  function broadcast(event: string, json: string) {
    const chunk = `event: ${event}\ndata: ${json}\n\n`;
    for (const s of streams) write(s, chunk);
  }

  /** Sends the keys whose JSON differs from what this stream last got; nothing if none does. */
  function sendOverview(s: EventStream, snap: Map<string, string>) {
    const parts: string[] = [];
    for (const [k, json] of snap) {
      if (s.sent.get(k) === json) continue;
      s.sent.set(k, json);
      parts.push(`${JSON.stringify(k)}:${json}`);
    }
    if (parts.length) write(s, `event: overview\ndata: {${parts.join(",")}}\n\n`);
  }

  function onTick() {
    try {
      const snap = snapshot();
      for (const s of streams) sendOverview(s, snap);
    } catch {
      // the next tick retries; a dashboard problem must not take the daemon down
    }
  }

  function start() {
    tick = setInterval(onTick, TICK_MS);
    tick.unref();
    const spans = d.telemetry?.subscribe((batch) => {
      try {
        broadcast("spans", JSON.stringify(batch));
      } catch {
        /* best-effort */
      }
    });
    const logs = d.logs.subscribe((line) => {
      try {
        broadcast("log", JSON.stringify(line));
      } catch {
        /* best-effort */
      }
    });
    unsubscribe = [logs, ...(spans ? [spans] : [])];
  }

  function stop() {
    clearInterval(tick);
    tick = undefined;
    for (const u of unsubscribe) u();
    unsubscribe = [];
  }

  return {
    open(req: IncomingMessage, res: ServerResponse) {
      if (streams.size >= max) {
        return sendJson(res, Refusal.TooManyDashboardStreams.status, { error: `too many live dashboard streams (${max} open); close one or retry later` }, { "retry-after": "5" });
      }
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" });
      const s: EventStream = { res, sent: new Map() };
      if (streams.size === 0) start();
      streams.add(s);
      try {
        sendOverview(s, snapshot());
      } catch {
        // the first tick fills it in
      }
      let closed = false;
      const close = () => {
        if (closed) return;
        closed = true;
        streams.delete(s);
        if (streams.size === 0) stop();
      };
      res.on("close", close);
      req.on("close", close);
    },
  };
}
