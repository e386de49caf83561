/**
 * The JSON the dashboard reads under `/api/`, its live feed (`/api/events`, Server-Sent
 * Events: spans in batches, a stats snapshot every second, log lines), and the dashboard's
 * static files. Same auth as every other endpoint (the HTTP server checks it first).
 */
import { readFile } from "node:fs/promises";
import { join, normalize, relative } from "node:path";
import type { IncomingMessage, ServerResponse } from "node:http";
import { sendJson } from "./http-server.ts";
import { pluginSummary, sessionSummary } from "./health.ts";
import type { PluginManager } from "./plugins/plugin-manager.ts";
import type { Registry } from "./registry.ts";
import type { SessionStore } from "./session-store.ts";
import type { DashboardStore } from "./telemetry/dashboard-store.ts";
import type { LogTail } from "./log-tail.ts";

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
}

export function overview(d: DashboardDeps) {
  const stats = new Map((d.telemetry?.toolStats() ?? []).map((s) => [s.tool, s]));
  const heap = new Map(d.manager.workers().map((w) => [w.name, w.worker.heapUsed]));
  const tools = [...d.registry.tools.values()].map((t) => {
    const s = stats.get(t.exposed);
    return { name: t.exposed, plugin: t.plugin.manifest.name, description: t.info.description, calls: s?.calls ?? 0, errors: s?.errors ?? 0, errorRate: s?.errorRate ?? 0, p50: s?.p50 ?? 0, p95: s?.p95 ?? 0, p99: s?.p99 ?? 0, lastCallAt: s?.lastCallAt };
  });
  // tools that were called but are gone now still show their history
  for (const s of stats.values()) if (!d.registry.tools.has(s.tool)) tools.push({ name: s.tool, plugin: s.plugin ?? "?", description: "(no longer loaded)", calls: s.calls, errors: s.errors, errorRate: s.errorRate, p50: s.p50, p95: s.p95, p99: s.p99, lastCallAt: s.lastCallAt });
  tools.sort((a, b) => a.name.localeCompare(b.name));
  return {
    version: d.version,
    uptimeSeconds: Math.round((Date.now() - d.startedAt) / 1000),
    telemetry: { enabled: d.telemetry !== undefined, otlp: d.otlp, spans: d.telemetry?.totalSpans ?? 0 },
    pluginsDir: d.pluginsDir,
    plugins: d.manager.states().map((p) => ({ ...pluginSummary(p), relFile: relative(d.pluginsDir, p.file), heapBytes: heap.get(p.name) ?? 0 })),
    tools,
    sessions: d.store.list().map(sessionSummary),
    conflicts: d.registry.conflicts,
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

  function events(req: IncomingMessage, res: ServerResponse) {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no" });
    const send = (event: string, data: unknown) => {
      if (!res.writableEnded) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    send("overview", overview(d));
    const unsubSpans = d.telemetry?.subscribe((spans) => send("spans", spans));
    const unsubLogs = d.logs.subscribe((line) => send("log", line));
    const tick = setInterval(() => send("overview", overview(d)), 1_000);
    tick.unref();
    req.on("close", () => {
      clearInterval(tick);
      unsubSpans?.();
      unsubLogs();
    });
  }

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
      if (path === "/api/events") return events(req, res);
      return sendJson(res, 404, { error: `no such endpoint: ${path}` });
    },
  };
}
