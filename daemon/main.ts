/**
 * The composition root: the only place that knows every part and wires them together.
 * `startDaemon` runs the HTTP daemon; `startStdio` hosts the plugins in-process for one
 * stdio session. Everything else receives what it needs through small typed interfaces.
 */
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { Config } from "./config.ts";
import { AlreadyRunningError, UnsafeConfigError } from "./errors.ts";
import { createHealthRoute } from "./health.ts";
import { HttpServer, isLoopbackHost, sendJson } from "./http-server.ts";
import { createLogger, type Logger } from "./logger.ts";
import { PluginManager } from "./plugins/plugin-manager.ts";
import { Registry } from "./registry.ts";
import { newSessionInfo, openSession, type SessionDeps } from "./session.ts";
import { SessionStore } from "./session-store.ts";
import { readState, removeState, writeState, type DaemonState } from "./state-file.ts";
import { recordPluginEvent, registerPluginGauges } from "./telemetry/instrumentation.ts";
import { createStreamableHttpRoute } from "./transports/streamable-http.ts";
import { createWebSocketEndpoint } from "./transports/websocket.ts";
import { createLegacySseRoutes } from "./transports/legacy-sse.ts";
import { RateLimiter } from "./rate-limiter.ts";
import { AuditLog } from "./audit-log.ts";
import type { CallGuard } from "./session.ts";
import { VERSION } from "./version.ts";
import { startTelemetry, type Telemetry } from "./telemetry/sdk.ts";
import { LogTail } from "./log-tail.ts";
import { createDashboardRoutes } from "./dashboard-api.ts";
import { distDir } from "./package-root.ts";
import type { SpanProcessor } from "@opentelemetry/sdk-trace";
import type { IMetricReader } from "@opentelemetry/sdk-metrics";

export interface Daemon {
  config: Config;
  port: number;
  url: string;
  registry: Registry;
  manager: PluginManager;
  store: SessionStore;
  logger: Logger;
  telemetry?: Telemetry;
  /** Stops accepting, drains in-flight calls (bounded), closes sessions and workers. */
  close(): Promise<void>;
}

interface Core {
  logger: Logger;
  registry: Registry;
  store: SessionStore;
  manager: PluginManager;
  sessionDeps: SessionDeps;
  audit?: AuditLog;
}

const GUARDED = new Set(["tools/call", "resources/read", "prompts/get"]);

/** Rate limits before, audit line after, for calls, reads and prompt gets. */
function createGuard(config: Config, logger: Logger): { guard: CallGuard; audit?: AuditLog } {
  const limiter = new RateLimiter({ perMinute: config.rateLimitPerMinute, perHour: config.rateLimitPerHour });
  const audit = config.auditFile ? new AuditLog(config.auditFile, { includeArguments: config.auditIncludeArguments, maxBytes: config.auditMaxBytes, maxFiles: config.auditMaxFiles }, logger) : undefined;
  return {
    audit,
    guard: {
      before(session, method) {
        if (GUARDED.has(method)) limiter.take(session.clientName ? `${session.clientName}@${session.remoteAddress ?? "local"}` : session.id);
      },
      after(session, method, target, outcome) {
        if (!audit || !GUARDED.has(method)) return;
        audit.write({
          time: new Date().toISOString(),
          session: session.id,
          client: session.clientName,
          transport: session.bridged ? "stdio-bridge" : session.transport,
          method,
          name: target,
          outcome: outcome.ok ? "ok" : "error",
          durationMs: Math.round(outcome.durationMs * 1000) / 1000,
          error: outcome.error,
          arguments: outcome.args,
        });
      },
    },
  };
}

/** The parts every mode shares: registry, sessions, plugins. */
async function startCore(config: Config, logger: Logger, opts: { watch: boolean }): Promise<Core> {
  const registry = new Registry(config.namespaceSeparator);
  const store = new SessionStore({ maxSessions: config.maxSessions, idleTimeoutMs: config.sessionIdleTimeoutMs });
  const manager = new PluginManager({
    pluginsDir: config.pluginsDir,
    cacheDir: join(config.home, "cache", `${process.pid}`),
    dataDir: join(config.home, "data"),
    heapMb: config.workerHeapMb,
    callTimeoutMs: config.callTimeoutMs,
    debounceMs: config.reloadDebounceMs,
    drainMs: config.shutdownGraceMs,
    logger,
    registry,
    events: { onReload: recordPluginEvent },
  });
  registerPluginGauges(() => ({
    loaded: manager.states().filter((s) => s.status === "loaded").length,
    heap: manager.workers().map((w) => ({ plugin: w.name, bytes: w.worker.heapUsed })),
  }));
  await manager.start(opts.watch);
  const { guard, audit } = createGuard(config, logger);
  const sessionDeps: SessionDeps = { registry, store, logger, version: VERSION, pageSize: config.pageSize, guard };
  return { logger, registry, store, manager, sessionDeps, audit };
}

export interface StartDaemonOptions {
  logger?: Logger;
  writeStateFile?: boolean;
  /** extra telemetry sinks, e.g. in-memory exporters in tests */
  telemetry?: { extraSpanProcessors?: SpanProcessor[]; extraMetricReaders?: IMetricReader[] };
}

export async function startDaemon(config: Config, opts: StartDaemonOptions = {}): Promise<Daemon> {
  const logs = new LogTail();
  const logger = opts.logger ?? createLogger({ level: config.logLevel, file: config.logFile, tap: (r) => logs.push(r) });
  if (!isLoopbackHost(config.host) && !config.token) {
    throw new UnsafeConfigError(`refusing to listen on ${config.host} without a token: anyone who can reach it could run your tools. Set --token (or PATCHBAY_TOKEN), or bind 127.0.0.1.`);
  }
  const writeStateFile = opts.writeStateFile ?? true;
  if (writeStateFile) {
    const running = readState(config.home);
    if (running) throw new AlreadyRunningError(`a daemon is already running (pid ${running.pid}) at ${running.url}; stop it first or use another PATCHBAY_HOME`);
  }
  const startedAt = Date.now();
  // Telemetry first, so the first plugin loads are recorded too.
  const telemetry = config.telemetry ? await startTelemetry({ logger, ...opts.telemetry }) : undefined;
  const core = await startCore(config, logger, { watch: true });
  const { registry, store, manager, sessionDeps } = core;
  let ready = true;
  const http = new HttpServer({ host: config.host, token: config.token, allowedHosts: config.allowedHosts, allowedOrigins: config.allowedOrigins }, logger);
  http.route("/mcp", createStreamableHttpRoute(sessionDeps, { maxBodyBytes: config.maxBodyBytes }));
  const ws = createWebSocketEndpoint(sessionDeps, { maxMessageBytes: config.maxBodyBytes, heartbeatMs: config.wsHeartbeatMs, maxBufferedBytes: 4 * config.maxBodyBytes }, logger);
  http.upgrade("/ws", ws.upgrade);
  const sse = createLegacySseRoutes(sessionDeps, { maxBodyBytes: config.maxBodyBytes, keepAliveMs: config.sseKeepAliveMs }, logger);
  http.route("/sse", sse.stream);
  http.route("/messages", sse.messages);
  http.route("/healthz", createHealthRoute({ registry, manager, store, version: VERSION, startedAt, isReady: () => ready, isAuthorized: (req) => http.isAuthorized(req) }));
  const dashboard = createDashboardRoutes({ registry, manager, store, telemetry: telemetry?.store, logs, version: VERSION, startedAt, staticDir: join(distDir, "dashboard"), pluginsDir: config.pluginsDir, otlp: telemetry?.otlp });
  http.route("/", dashboard.index);
  http.routePrefix("/dashboard/", dashboard.assets);
  http.routePrefix("/api/", dashboard.api);
  http.route("/metrics", (req, res) => (telemetry ? telemetry.metricsHandler(req, res) : sendJson(res, 404, { error: "telemetry is off (PATCHBAY_TELEMETRY=false)" })));
  // Worker heap for the dashboard and the heap gauge; a probe is a message, not a stop.
  const heapProbe = setInterval(() => {
    for (const w of manager.workers()) void w.worker.probe(2_000);
  }, 5_000);
  heapProbe.unref();

  let port: number;
  try {
    port = await http.listen(config.port, config.host);
  } catch (err) {
    await manager.close();
    await store.closeAll("startup failed");
    if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new AlreadyRunningError(`port ${config.port} on ${config.host} is already in use (another patchbay daemon? try \`patchbay status\`, or --port 0)`);
    }
    throw err;
  }
  const hostForUrl = config.host.includes(":") ? `[${config.host}]` : config.host === "0.0.0.0" ? "127.0.0.1" : config.host;
  const url = `http://${hostForUrl}:${port}`;
  if (writeStateFile) {
    const state: DaemonState = { pid: process.pid, host: config.host, port, url, token: config.token, startedAt: new Date(startedAt).toISOString(), version: VERSION, pluginsDir: config.pluginsDir };
    writeState(config.home, state);
  }
  logger.info({ url, plugins: manager.states().length, tools: registry.tools.size }, "patchbay daemon listening");

  let closing: Promise<void> | undefined;
  return {
    config,
    port,
    url,
    registry,
    manager,
    store,
    logger,
    telemetry,
    close() {
      closing ??= (async () => {
        ready = false;
        clearInterval(heapProbe);
        logger.info("shutting down: draining calls, closing sessions and workers");
        const httpClosed = http.close();
        await manager.close();
        ws.close();
        await store.closeAll("daemon shutting down");
        await httpClosed;
        await core.audit?.close();
        await telemetry?.shutdown();
        if (writeStateFile) removeState(config.home);
      })();
      return closing;
    },
  };
}

export interface StdioHost {
  core: Core;
  close(): Promise<void>;
}

/** Hosts the plugins in this process and serves one MCP session over stdin/stdout. */
export async function startStdio(config: Config, opts: { logger?: Logger } = {}): Promise<StdioHost> {
  const logger = opts.logger ?? createLogger({ level: config.logLevel, file: config.logFile });
  const core = await startCore(config, logger, { watch: true });
  const transport = new StdioServerTransport();
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await core.store.closeAll("stdio closed");
      await core.manager.close();
      await core.audit?.close();
    })());
  await openSession(transport, newSessionInfo(randomUUID(), "stdio"), core.sessionDeps);
  process.stdin.on("end", () => void close().then(() => process.exit(0)));
  return { core, close };
}
