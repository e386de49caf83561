/**
 * `/healthz`: liveness and readiness in one JSON document. Without the token (when one is
 * set) it says only whether the daemon is alive.
 *
 * Liveness is the HTTP status: 200 while the daemon runs — also while its plugins still load
 * after start, or its plugins folder is missing, because it does serve (and a client that
 * attaches then gets the plugins as they come) — and 503 once it drains to stop. Readiness is
 * `ready` in the body: every plugin loaded (or failed), none loading, the folder there, not
 * draining; `status` says which of those is not so ("loading", "degraded") and `reason` why.
 * `GET /healthz?ready` answers 503 until ready, for a load balancer's readiness probe.
 */
import type { ContextCosts } from "./context/definition-costs.ts";
import type { IncomingMessage, ServerResponse } from "node:http";
import { sendJson } from "./http-server.ts";
import type { PluginManager, PluginState } from "./plugins/host/plugin-manager.ts";
import type { Registry } from "./registry.ts";
import type { SessionInfo, SessionStore, StatelessClientInfo } from "./session-store.ts";

export interface HealthDeps {
  registry: Registry;
  manager: PluginManager;
  store: SessionStore;
  version: string;
  startedAt: number;
  /** shutting down: refusing new work */
  isDraining: () => boolean;
  isAuthorized: (req: IncomingMessage) => boolean;
  /** token costs of the listings (context/definition-costs.ts) */
  costs?: ContextCosts;
}

/** How a plugin is reported to users (`/healthz`, `status`, the dashboard). */
export function pluginSummary(p: PluginState) {
  return {
    name: p.name,
    file: p.file,
    status: p.status,
    version: p.version,
    pluginVersion: p.pluginVersion,
    lastReloadAt: p.lastReloadAt,
    lastError: p.lastError,
    shadowedBy: p.shadowedBy,
    restarts: p.restarts,
    upstream: p.upstream,
    worker: p.worker,
    keptAliveBy: p.keptAliveBy,
    workerGroup: p.workerGroup,
  };
}

/** The protocol era of a version string: the 2026-07-28 revision is stateless, the dated ones before it are 2025-era. */
export function eraOf(protocolVersion: string | undefined): "2026-07-28" | "2025" | undefined {
  if (!protocolVersion) return undefined;
  return protocolVersion >= "2026-07-28" ? "2026-07-28" : "2025";
}

/** How a session is reported to users; ids are shown because only token holders see them. */
export function sessionSummary(s: SessionInfo) {
  return {
    id: s.id,
    transport: s.transport,
    bridged: s.bridged ?? false,
    profile: s.profile,
    clientName: s.clientName,
    clientVersion: s.clientVersion,
    protocolVersion: s.protocolVersion,
    era: eraOf(s.protocolVersion),
    calls: s.calls,
    errors: s.errors,
    startedAt: new Date(s.startedAt).toISOString(),
    lastActivityAt: new Date(s.lastActivityAt).toISOString(),
  };
}

/**
 * How a recently seen stateless client (2026-07-28 over HTTP) is reported: by what it says
 * it is and its era, with no id, because it has no session.
 */
export function statelessSummary(c: StatelessClientInfo) {
  return {
    transport: c.transport,
    clientName: c.clientName,
    clientVersion: c.clientVersion,
    protocolVersion: c.protocolVersion,
    era: eraOf(c.protocolVersion),
    requests: c.requests,
    calls: c.calls,
    errors: c.errors,
    firstSeenAt: new Date(c.firstSeenAt).toISOString(),
    lastActivityAt: new Date(c.lastActivityAt).toISOString(),
  };
}

/** What /healthz's `status` and `reason` say, most serious first. */
function overall(d: HealthDeps, plugins: PluginState[]): { status: "ok" | "loading" | "degraded" | "draining"; reason?: string } {
  if (d.isDraining()) return { status: "draining", reason: "the daemon is shutting down" };
  const folder = d.manager.folderStatus();
  if (folder.state !== "ok") return { status: "degraded", reason: `${folder.reason ?? `the plugins folder is ${folder.state}`} (since ${folder.since}); ${folder.state === "unreadable" ? "the plugins loaded from it keep serving" : "no plugins are served from it"} until it is back` };
  const loading = plugins.filter((p) => p.status === "loading");
  const startup = d.manager.startup();
  if (!startup.done || loading.length > 0) {
    const names = loading.slice(0, 5).map((p) => p.name).join(", ");
    return { status: "loading", reason: loading.length ? `${loading.length} plugin${loading.length === 1 ? "" : "s"} still loading (${names}${loading.length > 5 ? ", …" : ""})` : "reading the plugins folder" };
  }
  return { status: "ok" };
}

export function healthReport(d: HealthDeps) {
  const plugins = d.manager.states();
  const sessions = d.store.list();
  const byTransport: Record<string, number> = {};
  for (const s of sessions) byTransport[s.transport] = (byTransport[s.transport] ?? 0) + 1;
  const { status, reason } = overall(d, plugins);
  const startup = d.manager.startup();
  return {
    status,
    reason,
    ready: status === "ok",
    version: d.version,
    pid: process.pid,
    uptimeSeconds: Math.round((Date.now() - d.startedAt) / 1000),
    pluginsFolder: d.manager.folderStatus(),
    startup: { done: startup.done, ms: startup.ms },
    /** names of the plugins still loading */
    loading: plugins.filter((p) => p.status === "loading").map((p) => p.name),
    counts: { plugins: plugins.length, loaded: plugins.filter((p) => p.status === "loaded").length, loading: startup.loading, skipped: plugins.filter((p) => p.status === "skipped").length, errors: plugins.filter((p) => p.lastError && p.status !== "skipped").length, tools: d.registry.tools.size, resources: d.registry.resources.size, resourceTemplates: d.registry.templates.length, prompts: d.registry.prompts.size },
    plugins: plugins.map(pluginSummary),
    conflicts: d.registry.conflicts,
    // estimated tokens of what each view lists (o200k), and how each view exposes tools
    context: d.costs?.snapshot(),
    sessions: {
      open: sessions.length,
      byTransport,
      list: sessions.map(sessionSummary),
      // no sessions: who called lately over stateless 2026-07-28 HTTP (bounded, most recent first)
      stateless: d.store.statelessClients().map(statelessSummary),
    },
  };
}

export function createHealthRoute(d: HealthDeps) {
  return (req: IncomingMessage, res: ServerResponse) => {
    // liveness only: it answers, so it is up — unless it is stopping, which a bridge without
    // the token must see too, or it would attach to a daemon about to go
    if (!d.isAuthorized(req)) return d.isDraining() ? sendJson(res, 503, { status: "draining" }) : sendJson(res, 200, { status: "ok" });
    const report = healthReport(d);
    const readiness = new URL(req.url ?? "/", "http://x").searchParams.has("ready");
    sendJson(res, d.isDraining() || (readiness && !report.ready) ? 503 : 200, report);
  };
}
