/**
 * The composition root: the only place that knows every part and wires them together.
 * `startDaemon` runs the HTTP daemon; `startStdio` hosts the plugins in-process for one
 * stdio session. Everything else receives what it needs through small typed interfaces.
 */
import { join } from "node:path";
import { randomBytes, randomUUID } from "node:crypto";
import type { Writable } from "node:stream";
import { StdioWireTransport } from "./transports/stdio-wire.ts";
import { HeldUntilLoaded } from "./transports/held-until-loaded.ts";
import type { Config } from "./config.ts";
import { AlreadyRunningError, DaemonShuttingDownError, UnsafeConfigError, UsageError } from "./errors.ts";
import { createHealthRoute } from "./health.ts";
import { HttpServer, isLoopbackHost, readOnly, sendJson } from "./http-server.ts";
import { createLogger, type Logger } from "./logger.ts";
import { PluginManager } from "./plugins/host/plugin-manager.ts";
import { Registry } from "./registry.ts";
import type { CallGuard, McpDeps } from "./mcp/call-context.ts";
import { serveConnection } from "./transports/connections.ts";
import { newSessionInfo } from "./transports/admission.ts";
import { createReplayCodec } from "./mcp/server-factory.ts";
import { SessionStore } from "./session-store.ts";
import { removeState, writeState, type DaemonState } from "./state-file.ts";
import { takeHomeLock } from "./home-lock.ts";
import { recordPluginEvent, registerListingGauge, registerPluginGauges } from "./telemetry/instrumentation.ts";
import { startContextEconomy, type ContextEconomyParts } from "./context/context-economy.ts";
import type { Endpoint } from "./transports/endpoint.ts";
import { RateLimiter, type RateLimit, type RateLimitKey } from "./rate-limiter.ts";
import { AuditLog } from "./audit-log.ts";
import { VERSION } from "./version.ts";
import { INSTANCE_ID } from "./instance.ts";
import type { Telemetry } from "./telemetry/sdk.ts";
import { LogTail } from "./log-tail.ts";
import { createDashboardRoutes } from "./dashboard-api.ts";
import { distDir } from "./package-root.ts";
import { Profiles, unknownProfileMessage } from "./profiles.ts";
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
  /**
   * Settles once every plugin found at start has loaded or failed. The daemon listens
   * before that: plugins join as they load (list_changed), and /healthz says which still load.
   */
  pluginsLoaded(): Promise<void>;
  /** Stops accepting, drains in-flight calls (bounded), closes sessions and workers. */
  close(): Promise<void>;
}

interface Core {
  logger: Logger;
  registry: Registry;
  store: SessionStore;
  manager: PluginManager;
  mcpDeps: McpDeps;
  audit?: AuditLog;
  /** token costs and tool search; its counting process ends on close */
  context: ContextEconomyParts;
}

const GUARDED = new Set(["tools/call", "resources/read", "prompts/get"]);

/**
 * Rate limits before, audit line after, for calls, reads and prompt gets. Limits key on the
 * session (an id the server made, not a name the client picked) and on all sessions
 * together (the global limit, which also stands for the one token's identity). Stateless
 * 2026-07-28 requests over HTTP have no session: only the global limit applies to them.
 */
function createGuard(config: Config, logger: Logger, store: SessionStore): { guard: CallGuard; audit?: AuditLog } {
  const limiter = new RateLimiter();
  const perSession: RateLimit = { perMinute: config.rateLimitPerMinute, perHour: config.rateLimitPerHour };
  const global: RateLimit = { perMinute: config.rateLimitGlobalPerMinute, perHour: config.rateLimitGlobalPerHour };
  const on = (l: RateLimit) => l.perMinute !== undefined || l.perHour !== undefined;
  store.on("closed", (info) => limiter.forget(`session:${info.id}`));
  const audit = config.auditFile ? new AuditLog(config.auditFile, { includeArguments: config.auditIncludeArguments, maxBytes: config.auditMaxBytes, maxFiles: config.auditMaxFiles }, logger) : undefined;
  return {
    audit,
    guard: {
      before(caller, method) {
        if (!GUARDED.has(method)) return;
        const keys: RateLimitKey[] = [];
        if (on(perSession) && caller.connectionId) keys.push({ key: `session:${caller.connectionId}`, limits: perSession, label: "for this session" });
        if (on(global)) keys.push({ key: "global", limits: global, label: "across all sessions" });
        if (keys.length > 0) limiter.take(keys);
      },
      after(caller, method, target, outcome) {
        if (!audit || !GUARDED.has(method)) return;
        audit.write({
          time: new Date().toISOString(),
          session: caller.connectionId ?? `stateless (${caller.protocolVersion ?? "2026-07-28"})`,
          client: caller.clientName,
          transport: caller.bridged ? "stdio-bridge" : caller.transport,
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

/**
 * The parts every mode shares: registry, sessions, plugins. Returns without waiting for a
 * single plugin: the folder loads in the background (`manager.initialLoad`), so a daemon
 * listens, and a stdio session answers `initialize`, whatever the folder holds.
 * `onLoading` hears of that first load (stdio --standalone holds requests on it).
 */
async function startCore(config: Config, logger: Logger, opts: { watch: boolean; onLoading?: (loading: Promise<void>) => void }): Promise<Core> {
  const registry = new Registry(config.namespaceSeparator);
  const store = new SessionStore({ maxSessions: config.maxSessions, idleTimeoutMs: config.sessionIdleTimeoutMs, evictAfterIdleMs: config.sessionEvictAfterIdleMs, evictDetachedAfterIdleMs: config.sessionEvictDetachedAfterIdleMs }, logger);
  // one listener fans every change out to all sessions and listen streams
  // …each profiled client hearing only of changes to its own view
  const profiles = new Profiles(config.profiles, registry);
  registry.on("changed", (changes) => store.broadcast(profiles.split(changes)));
  registry.on("updated", (uri) => store.resourceUpdated(uri));
  const manager = new PluginManager({
    pluginsDir: config.pluginsDir,
    // the compile cache, shared by every start on this home (compiler.ts)
    cacheDir: join(config.home, "cache"),
    dataDir: join(config.home, "data"),
    heapMb: config.workerHeapMb,
    workerIdleMs: config.workerIdleMs,
    keepAlivePlugins: config.keepAlivePlugins,
    workerGroups: config.workerGroups,
    maxRunningPlugins: config.maxRunningPlugins,
    callTimeoutMs: config.callTimeoutMs,
    upstream: { connectTimeoutMs: config.upstreamConnectTimeoutMs, maxMessageBytes: config.upstreamMaxMessageBytes, stderrLimits: { ratePerSecond: config.upstreamStderrLinesPerSecond, burst: config.upstreamStderrBurst } },
    debounceMs: config.reloadDebounceMs,
    drainMs: config.shutdownGraceMs,
    logger,
    registry,
    events: { onReload: recordPluginEvent },
  });
  const context = startContextEconomy(config, registry, profiles);
  registerListingGauge(() => context.costs.snapshot().views);
  registerPluginGauges(() => ({
    loaded: manager.states().filter((s) => s.status === "loaded").length,
    heap: manager.workers().map((w) => ({ plugin: w.name, bytes: w.worker.heapUsed, group: (w.worker as { group?: string }).group })),
  }));
  manager.start(opts.watch);
  opts.onLoading?.(manager.initialLoad);
  const { guard, audit } = createGuard(config, logger, store);
  const mcpDeps: McpDeps = {
    registry,
    store,
    logger,
    version: VERSION,
    pageSize: config.pageSize,
    guard,
    requestState: createReplayCodec({ key: config.requestStateKey, ttlSeconds: config.requestStateTtlSeconds }),
    // the plugin's call timeout bounds the whole call, waiting for the client included
    clientRequestTimeoutMs: config.callTimeoutMs,
    cacheScope: config.token ? "private" : "public",
    profiles,
    startup: { done: () => manager.startup().done, settled: manager.initialLoad },
    context,
  };
  return { logger, registry, store, manager, mcpDeps, audit, context };
}

export interface StartDaemonOptions {
  logger?: Logger;
  writeStateFile?: boolean;
  /** extra telemetry sinks, e.g. in-memory exporters in tests */
  telemetry?: { extraSpanProcessors?: SpanProcessor[]; extraMetricReaders?: IMetricReader[] };
}

export async function startDaemon(config: Config, opts: StartDaemonOptions = {}): Promise<Daemon> {
  const logs = new LogTail();
  const logger = opts.logger ?? createLogger({ level: config.logLevel, file: config.logFile, maxBytes: config.logMaxBytes, maxFiles: config.logMaxFiles, tap: (r) => logs.push(r) });
  if (!isLoopbackHost(config.host) && !config.token) {
    throw new UnsafeConfigError(`refusing to listen on ${config.host} without a token: anyone who can reach it could run your tools. Set --token (or PATCHBAY_TOKEN), or bind 127.0.0.1.`);
  }
  const writeStateFile = opts.writeStateFile ?? true;
  // One daemon per home, decided before anything else starts; released on close and at exit (home-lock.ts).
  const homeLock = writeStateFile ? await takeHomeLock(config.home) : undefined;
  // Loaded here rather than at the top: `patchbay stdio --standalone` imports this module and
  // needs none of them, and the OpenTelemetry SDK and the HTTP transports' packages cost it
  // about 250 ms of CPU before its first answer (docs/endpoints-and-errors.md "How fast stdio starts").
  const [{ startTelemetry }, { createStreamableHttpEndpoint }, { createWebSocketEndpoint }, { createLegacySseRoutes }] = await Promise.all([import("./telemetry/sdk.ts"), import("./transports/streamable-http.ts"), import("./transports/websocket.ts"), import("./transports/legacy-sse.ts")]);
  const startedAt = Date.now();
  // Only processes that can read the state file (mode 0600) may open bridge sessions.
  const bridgeKey = randomBytes(24).toString("base64url");
  // Telemetry first, so the first plugin loads are recorded too.
  const telemetry = config.telemetry ? await startTelemetry({ logger, tracesPerSecond: config.tracesPerSecond, ...opts.telemetry }) : undefined;
  const core = await startCore(config, logger, { watch: true });
  const { registry, store, manager, mcpDeps } = core;
  telemetry?.bindRegistry(registry, [core.context.builtins.searchName, core.context.builtins.callName]);
  let draining = false;
  const http = new HttpServer({ host: config.host, token: config.token, allowedHosts: config.allowedHosts, allowedOrigins: config.allowedOrigins }, logger);
  const sse = createLegacySseRoutes(mcpDeps, { maxBodyBytes: config.maxBodyBytes, keepAliveMs: config.sseKeepAliveMs }, logger);
  const endpoints: Endpoint[] = [
    createStreamableHttpEndpoint(mcpDeps, { maxBodyBytes: config.maxBodyBytes, maxListenStreams: config.maxListenStreams, sseKeepAliveMs: config.sseKeepAliveMs }),
    createWebSocketEndpoint(mcpDeps, { maxMessageBytes: config.maxBodyBytes, heartbeatMs: config.wsHeartbeatMs, maxBufferedBytes: 4 * config.maxBodyBytes, bridgeKey }, logger),
    { routes: { "/sse": sse.stream, "/messages": sse.messages }, close: async () => undefined },
  ];
  for (const e of endpoints) {
    for (const [path, handler] of Object.entries(e.routes ?? {})) http.route(path, handler);
    for (const [path, handler] of Object.entries(e.upgrades ?? {})) http.upgrade(path, handler);
  }
  http.route("/healthz", readOnly(createHealthRoute({ registry, manager, store, version: VERSION, startedAt, isDraining: () => draining, isAuthorized: (req) => http.isAuthorized(req), costs: core.context.costs })));
  const dashboard = createDashboardRoutes({ registry, manager, store, telemetry: telemetry?.store, logs, version: VERSION, startedAt, staticDir: join(distDir, "dashboard"), pluginsDir: config.pluginsDir, otlp: telemetry?.otlp, costs: core.context.costs });
  http.route("/", readOnly(dashboard.index));
  http.routePrefix("/dashboard/", readOnly(dashboard.assets));
  http.routePrefix("/api/", dashboard.api);
  http.route("/metrics", readOnly((req, res) => (telemetry ? telemetry.metricsHandler(req, res) : sendJson(res, 404, { error: "telemetry is off (PATCHBAY_TELEMETRY=false)" }))));
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
    await core.context.close();
    if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new AlreadyRunningError(`port ${config.port} on ${config.host} is already in use (another patchbay daemon? try \`patchbay status\`, or --port 0)`);
    }
    throw err;
  }
  const hostForUrl = config.host.includes(":") ? `[${config.host}]` : config.host === "0.0.0.0" ? "127.0.0.1" : config.host;
  const url = `http://${hostForUrl}:${port}`;
  if (writeStateFile) {
    const state: DaemonState = { pid: process.pid, host: config.host, port, url, token: config.token, bridgeKey, startedAt: new Date(startedAt).toISOString(), version: VERSION, pluginsDir: config.pluginsDir, instance: INSTANCE_ID };
    writeState(config.home, state);
  }
  const startup = manager.startup();
  logger.info({ url, ms: Date.now() - startedAt, plugins: manager.states().length, loading: startup.loading, tools: registry.tools.size }, startup.done ? "patchbay daemon listening" : "patchbay daemon listening; plugins still loading");

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
    pluginsLoaded: () => manager.initialLoad,
    close() {
      closing ??= (async () => {
        draining = true;
        clearInterval(heapProbe);
        logger.info({ graceMs: config.shutdownGraceMs, inflight: manager.inflight() }, "shutting down: draining calls, closing sessions and workers");
        const drained = (async () => {
          // Calls in flight on any transport answer within the grace period; the rest (and
          // calls that arrive meanwhile on open sessions) fail with a JSON-RPC-visible error.
          await manager.close({ graceMs: config.shutdownGraceMs, failWith: new DaemonShuttingDownError(`Patchbay daemon is shutting down: the call did not finish within its ${config.shutdownGraceMs} ms grace period (or arrived during it)`) });
          // Sessions close after their answers went out; closing ends their streams.
          await store.closeAll("daemon shutting down");
          await Promise.allSettled(endpoints.map((e) => e.close()));
        })();
        // Stops accepting now (new connections refused, new requests 503), closes the
        // connections left once `drained` settles.
        await http.close(drained);
        await drained;
        await core.audit?.close();
        await core.context.close();
        await telemetry?.shutdown();
        if (writeStateFile) removeState(config.home);
        homeLock?.release();
      })();
      return closing;
    },
  };
}

/** How long requests other than initialize wait for the first load of the plugins in stdio --standalone. */
const FIRST_LOAD_HOLD_MS = 10_000;

export interface StdioHost {
  core: Core;
  close(): Promise<void>;
}

/** Hosts the plugins in this process and serves one MCP connection over stdin/stdout, either era (the first message decides). */
export async function startStdio(config: Config, opts: { logger?: Logger; stdout?: Writable; profile?: string } = {}): Promise<StdioHost> {
  // checked before anything starts: a bad name is a usage error (exit 2), not a failed connection
  if (opts.profile !== undefined && !Object.hasOwn(config.profiles, opts.profile)) throw new UsageError(`--profile: ${unknownProfileMessage(opts.profile, new Profiles(config.profiles))}`);
  const logger = opts.logger ?? createLogger({ level: config.logLevel, file: config.logFile, maxBytes: config.logMaxBytes, maxFiles: config.logMaxFiles });
  // Serves at once and loads the plugins meanwhile: initialize is answered before they have
  // loaded, the other requests wait for them (transports/held-until-loaded.ts).
  let loading: Promise<void> = Promise.resolve();
  const core = await startCore(config, logger, {
    watch: true,
    onLoading: (p) => {
      loading = p.catch((err) => logger.error({ err }, "loading the plugins failed"));
    },
  });
  // `stdout`: the protocol descriptor when the CLI moved it off fd 1 (see stdio-isolation.ts)
  const wire = new StdioWireTransport(process.stdin, opts.stdout ?? process.stdout, { maxMessageBytes: config.maxBodyBytes });
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await core.store.closeAll("stdio closed");
      await core.manager.close();
      await core.audit?.close();
      await core.context.close();
    })());
  serveConnection(core.mcpDeps, wire, newSessionInfo(randomUUID(), "stdio"), opts.profile === undefined ? undefined : core.mcpDeps.profiles?.get(opts.profile), { hold: (t) => new HeldUntilLoaded(t, loading, FIRST_LOAD_HOLD_MS) });
  process.stdin.on("end", () => void close().then(() => process.exit(0)));
  return { core, close };
}
