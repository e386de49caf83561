/**
 * `/healthz`: liveness and readiness in one JSON document. Without the token (when one is
 * set) it says only whether the daemon is alive.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { sendJson } from "./http-server.ts";
import type { PluginManager, PluginState } from "./plugins/plugin-manager.ts";
import type { Registry } from "./registry.ts";
import type { SessionInfo, SessionStore, StatelessClientInfo } from "./session-store.ts";

export interface HealthDeps {
  registry: Registry;
  manager: PluginManager;
  store: SessionStore;
  version: string;
  startedAt: number;
  isReady: () => boolean;
  isAuthorized: (req: IncomingMessage) => boolean;
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

export function healthReport(d: HealthDeps) {
  const plugins = d.manager.states();
  const sessions = d.store.list();
  const byTransport: Record<string, number> = {};
  for (const s of sessions) byTransport[s.transport] = (byTransport[s.transport] ?? 0) + 1;
  return {
    status: "ok",
    ready: d.isReady(),
    version: d.version,
    pid: process.pid,
    uptimeSeconds: Math.round((Date.now() - d.startedAt) / 1000),
    counts: { plugins: plugins.length, loaded: plugins.filter((p) => p.status === "loaded").length, errors: plugins.filter((p) => p.lastError).length, tools: d.registry.tools.size, resources: d.registry.resources.size, resourceTemplates: d.registry.templates.length, prompts: d.registry.prompts.size },
    plugins: plugins.map(pluginSummary),
    conflicts: d.registry.conflicts,
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
    if (!d.isAuthorized(req)) return sendJson(res, 200, { status: "ok" });
    const report = healthReport(d);
    sendJson(res, report.ready ? 200 : 503, report);
  };
}
