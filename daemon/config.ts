/**
 * Configuration: `config/patchbay.json` (or `--config F`), overridden by `PATCHBAY_*`
 * environment variables, overridden by CLI flags. Validated with zod; unknown keys and bad
 * values are rejected with the key named.
 */
import { readFileSync, existsSync } from "node:fs";
import { isIP } from "node:net";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { z } from "zod";
import { ConfigError } from "./errors.ts";
import { packageRoot } from "./package-root.ts";
import { PROFILE_NAME, ProfileSchema } from "./profiles.ts";
import { DEFAULT_SEARCH_THRESHOLD_TOKENS, exposeFields } from "./context/expose-settings.ts";

// Underscores are not DNS but do occur in /etc/hosts and container names, which resolve.
const DNS_NAME = /^(?=.{1,253}\.?$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i;

/**
 * A bind address is an IP literal or a DNS name. Anything else (a scheme, a port, IPv6 in
 * brackets) would fail only at listen time with a DNS error that names no key.
 */
function isBindAddress(host: string): boolean {
  return isIP(host) !== 0 || DNS_NAME.test(host);
}

/**
 * The longest delay Node's timers take (2^31 − 1 ms, about 24.8 days). A longer one fires
 * after 1 ms with a TimeoutOverflowWarning: a call timeout of 3e9 would fail every plugin's
 * load at once, and an idle timeout of 3e9 would close every session at once.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A duration in ms: a whole number from `min` to `max`, named in the message when out of range. */
function durationMs(min: number, max: number, why = "") {
  const range = `must be a whole number of milliseconds from ${min} to ${max}${why}`;
  return z.number(range).int(range).min(min, range).max(max, range);
}
/** How long after `shutdownGraceMs` a stop that has not finished exits anyway (cli.ts). */
export const SHUTDOWN_FORCE_AFTER_MS = 5_000;
const TIMER_LIMIT = " (Node's timer limit, about 24.8 days)";

/**
 * A token must be one a client can send: HTTP drops leading and trailing whitespace from a
 * header value and carries bytes, not UTF-8, so eight spaces (which also read as "a token is
 * set" to the non-loopback check) or "pässwörd" could never match. The token is never echoed.
 */
function tokenProblems(token: string, ctx: z.RefinementCtx): void {
  const problem = /^\s*$/.test(token)
    ? "must not be empty or only whitespace"
    : /^\s|\s$/.test(token)
      ? "must not start or end with whitespace (HTTP drops it from the Authorization header, so no client could send it)"
      : !/^[\x20-\x7e]+$/.test(token)
        ? "may hold only printable ASCII characters (letters, digits, punctuation, inner spaces): what an Authorization header carries"
        : token.length < 8
          ? "must be at least 8 characters"
          : undefined;
  if (problem) ctx.addIssue({ code: "custom", message: problem });
}

const PORT_RANGE = "must be a whole number from 0 to 65535 (0 picks a free port)";
const TTL_RANGE = "must be a whole number of seconds from 1 to 86400 (a day)";

const LogLevel = z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]);

export const ConfigSchema = z
  .object({
    host: z.string().min(1).refine(isBindAddress, 'must be an IP address or a hostname, without scheme, port or brackets (e.g. "127.0.0.1" or "::1")').default("127.0.0.1"),
    port: z.number(PORT_RANGE).int(PORT_RANGE).min(0, PORT_RANGE).max(65535, PORT_RANGE).default(7337),
    token: z.string().superRefine(tokenProblems).optional(),
    // Default: $PATCHBAY_HOME/plugins (see defaultPluginsDir), filled in by loadConfig.
    pluginsDir: z.string().min(1).optional(),
    home: z.string().min(1).optional(),
    logLevel: LogLevel.default("info"),
    logFile: z.string().min(1).optional(),
    // logFile rotates by size: file → file.1 → … → file.N (N = logMaxFiles); 0 files keeps none.
    logMaxBytes: z.number().int().min(16 * 1024).max(1024 * 1024 * 1024).default(10 * 1024 * 1024),
    logMaxFiles: z.number().int().min(0).max(100).default(3),
    // Every plugin load runs under it too: below 100 ms nothing would load.
    callTimeoutMs: durationMs(100, MAX_TIMER_MS, TIMER_LIMIT).default(60_000),
    // An upstream server (NAME.mcp.json) must answer initialize and its first listing within
    // this long, or it is shown failed and retried with backoff (it used to get callTimeoutMs).
    upstreamConnectTimeoutMs: durationMs(100, 600_000).default(15_000),
    // The largest message a stdio upstream may send (one line, buffered whole); a larger one
    // ends that connection with an error naming this key.
    upstreamMaxMessageBytes: z.number().int().min(1024 * 1024).max(1024 * 1024 * 1024).default(64 * 1024 * 1024),
    // Each upstream's stderr is copied to the log at most this many lines a second (bursts up to
    // upstreamStderrBurst); what goes over is counted and said in one line a second.
    upstreamStderrLinesPerSecond: z.number().int().min(1).max(100_000).default(50),
    upstreamStderrBurst: z.number().int().min(1).max(100_000).default(200),
    workerHeapMb: z.number().int().min(16).default(256),
    // An idle plugin's worker thread ends after this long without calls; the next call starts
    // it again. 0 keeps every plugin's thread running.
    workerIdleMs: durationMs(0, MAX_TIMER_MS, TIMER_LIMIT).default(5 * 60_000),
    // At most this many plugins' threads run at once (with parking on): starting one parks the
    // least recently used idle one. 0: no limit.
    maxRunningPlugins: z.number().int().min(0).default(32),
    // Plugins (by name) whose thread is never parked, whatever the plugin says.
    keepAlivePlugins: z.array(z.string().min(1)).default([]),
    // Plugins that share one worker thread per group, by file name (globs); the first group
    // that matches wins. They give up isolation from each other, and are never parked.
    workerGroups: z
      .record(z.string().regex(PROFILE_NAME, "worker group names are 1-64 of [A-Za-z0-9_.-]"), z.array(z.string().min(1, "a member pattern must not be empty")).min(1, "a worker group needs at least one member pattern"))
      .default({}),
    namespaceSeparator: z.string().regex(/^[a-zA-Z0-9_-]{0,4}$/, "must be 0-4 of [a-zA-Z0-9_-]").default("__"),
    pageSize: z.number().int().min(1).max(10_000).default(100),
    allowedHosts: z.array(z.string()).default([]),
    allowedOrigins: z.array(z.string()).default([]),
    maxBodyBytes: z.number().int().positive().default(4 * 1024 * 1024),
    // Sized for thousands of clients that leave without a DELETE (~20–25 KB each while detached).
    maxSessions: z.number().int().positive().default(2048),
    // Sessions are swept at most once a second, so a shorter timeout would not be kept.
    sessionIdleTimeoutMs: durationMs(1_000, MAX_TIMER_MS, TIMER_LIMIT).default(30 * 60_000),
    // When the session table is full, a session idle this long (nothing in flight) may be evicted.
    sessionEvictAfterIdleMs: durationMs(0, MAX_TIMER_MS, TIMER_LIMIT).default(60_000),
    // …and a detached Streamable HTTP session (no open GET stream, nothing in flight) this long.
    sessionEvictDetachedAfterIdleMs: durationMs(0, 86_400_000, " (a day)").default(1_000),
    // 2026-07-28 subscriptions/listen streams open at once on /mcp, all clients together.
    maxListenStreams: z.number().int().min(1).max(65_536).default(1_024),
    // Every save waits this long before it is compiled; a minute already looks like a hang.
    reloadDebounceMs: durationMs(0, 60_000).default(20),
    // The forced exit comes SHUTDOWN_FORCE_AFTER_MS after the grace, on one timer.
    shutdownGraceMs: durationMs(0, MAX_TIMER_MS - SHUTDOWN_FORCE_AFTER_MS, TIMER_LIMIT).default(5_000),
    telemetry: z.boolean().default(true),
    // New traces recorded per second at most; calls beyond it are still counted in metrics
    // and the dashboard's stats. 0 traces every call.
    tracesPerSecond: z.number().int().min(0).default(1000),
    wsHeartbeatMs: durationMs(100, MAX_TIMER_MS, TIMER_LIMIT).default(30_000),
    sseKeepAliveMs: durationMs(100, MAX_TIMER_MS, TIMER_LIMIT).default(15_000),
    rateLimitPerMinute: z.number().int().positive().optional(),
    rateLimitPerHour: z.number().int().positive().optional(),
    // Across all sessions together: bounds what a client gains by opening new sessions.
    rateLimitGlobalPerMinute: z.number().int().positive().optional(),
    rateLimitGlobalPerHour: z.number().int().positive().optional(),
    auditFile: z.string().min(1).optional(),
    auditIncludeArguments: z.boolean().default(false),
    auditMaxBytes: z.number().int().min(1024).default(10 * 1024 * 1024),
    auditMaxFiles: z.number().int().min(1).max(100).default(5),
    // Signs the requestState of 2026-07-28 input_required rounds. Unset: a random key per
    // process (a retry must come back to the same daemon); set the same key on every daemon
    // behind a load balancer.
    requestStateKey: z.string().refine((k) => Buffer.byteLength(k) >= 32, "must be at least 32 bytes (share one secret across every daemon behind a balancer)").optional(),
    // How long a client may take to answer an input_required round (2026-07-28).
    requestStateTtlSeconds: z.number(TTL_RANGE).int(TTL_RANGE).min(1, TTL_RANGE).max(86_400, TTL_RANGE).default(600),
    // How the default view (clients without a profile) lists tools: all, search (pinned tools
    // plus patchbay__search_tools and patchbay__call_tool), or auto (search once the full
    // listing passes searchThresholdTokens). Each profile may set its own.
    expose: exposeFields.expose.default("all"),
    pin: exposeFields.pin.default([]),
    searchThresholdTokens: exposeFields.searchThresholdTokens.default(DEFAULT_SEARCH_THRESHOLD_TOKENS),
    // Named views of the registry a client picks per connection (?profile=NAME, --profile NAME).
    profiles: z
      .record(z.string().regex(PROFILE_NAME, "profile names are 1-64 of [A-Za-z0-9_.-]"), ProfileSchema)
      .default({}),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema> & { home: string; pluginsDir: string; configFile?: string };

/** Flags and env take the same keys as the file. */
export type ConfigOverrides = Partial<z.input<typeof ConfigSchema>> & { config?: string };

const ENV: Record<string, { key: keyof z.input<typeof ConfigSchema>; type: "string" | "number" | "boolean" }> = {
  PATCHBAY_HOST: { key: "host", type: "string" },
  PATCHBAY_PORT: { key: "port", type: "number" },
  PATCHBAY_TOKEN: { key: "token", type: "string" },
  PATCHBAY_PLUGINS: { key: "pluginsDir", type: "string" },
  PATCHBAY_HOME: { key: "home", type: "string" },
  PATCHBAY_LOG_LEVEL: { key: "logLevel", type: "string" },
  PATCHBAY_LOG_FILE: { key: "logFile", type: "string" },
  PATCHBAY_LOG_MAX_BYTES: { key: "logMaxBytes", type: "number" },
  PATCHBAY_LOG_MAX_FILES: { key: "logMaxFiles", type: "number" },
  PATCHBAY_CALL_TIMEOUT_MS: { key: "callTimeoutMs", type: "number" },
  PATCHBAY_UPSTREAM_CONNECT_TIMEOUT_MS: { key: "upstreamConnectTimeoutMs", type: "number" },
  PATCHBAY_UPSTREAM_MAX_MESSAGE_BYTES: { key: "upstreamMaxMessageBytes", type: "number" },
  PATCHBAY_UPSTREAM_STDERR_LINES_PER_SECOND: { key: "upstreamStderrLinesPerSecond", type: "number" },
  PATCHBAY_UPSTREAM_STDERR_BURST: { key: "upstreamStderrBurst", type: "number" },
  PATCHBAY_SESSION_IDLE_TIMEOUT_MS: { key: "sessionIdleTimeoutMs", type: "number" },
  PATCHBAY_SESSION_EVICT_AFTER_IDLE_MS: { key: "sessionEvictAfterIdleMs", type: "number" },
  PATCHBAY_SESSION_EVICT_DETACHED_AFTER_IDLE_MS: { key: "sessionEvictDetachedAfterIdleMs", type: "number" },
  PATCHBAY_MAX_LISTEN_STREAMS: { key: "maxListenStreams", type: "number" },
  PATCHBAY_TELEMETRY: { key: "telemetry", type: "boolean" },
  PATCHBAY_TRACES_PER_SECOND: { key: "tracesPerSecond", type: "number" },
  PATCHBAY_PAGE_SIZE: { key: "pageSize", type: "number" },
  PATCHBAY_MAX_SESSIONS: { key: "maxSessions", type: "number" },
  PATCHBAY_WS_HEARTBEAT_MS: { key: "wsHeartbeatMs", type: "number" },
  PATCHBAY_SSE_KEEPALIVE_MS: { key: "sseKeepAliveMs", type: "number" },
  PATCHBAY_RATE_LIMIT_PER_MINUTE: { key: "rateLimitPerMinute", type: "number" },
  PATCHBAY_RATE_LIMIT_PER_HOUR: { key: "rateLimitPerHour", type: "number" },
  PATCHBAY_RATE_LIMIT_GLOBAL_PER_MINUTE: { key: "rateLimitGlobalPerMinute", type: "number" },
  PATCHBAY_RATE_LIMIT_GLOBAL_PER_HOUR: { key: "rateLimitGlobalPerHour", type: "number" },
  PATCHBAY_AUDIT_FILE: { key: "auditFile", type: "string" },
  PATCHBAY_AUDIT_INCLUDE_ARGUMENTS: { key: "auditIncludeArguments", type: "boolean" },
  PATCHBAY_MAX_BODY_BYTES: { key: "maxBodyBytes", type: "number" },
  PATCHBAY_WORKER_HEAP_MB: { key: "workerHeapMb", type: "number" },
  PATCHBAY_WORKER_IDLE_MS: { key: "workerIdleMs", type: "number" },
  PATCHBAY_MAX_RUNNING_PLUGINS: { key: "maxRunningPlugins", type: "number" },
  PATCHBAY_SHUTDOWN_GRACE_MS: { key: "shutdownGraceMs", type: "number" },
  PATCHBAY_REQUEST_STATE_KEY: { key: "requestStateKey", type: "string" },
  PATCHBAY_REQUEST_STATE_TTL_SECONDS: { key: "requestStateTtlSeconds", type: "number" },
  PATCHBAY_EXPOSE: { key: "expose", type: "string" },
  PATCHBAY_SEARCH_THRESHOLD_TOKENS: { key: "searchThresholdTokens", type: "number" },
};

const DECIMAL = /^-?\d+(?:\.\d+)?$/;

function envOverrides(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, { key, type }] of Object.entries(ENV)) {
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    if (type === "number") {
      // Number() also reads "0x1F90" as 8080, "1e3", " 80 " and "0b1": decimal digits only.
      // A sign and a fraction are read so that the range check can name the key.
      if (!DECIMAL.test(raw)) throw new ConfigError(`environment ${name}: expected a number in decimal digits, got ${JSON.stringify(raw)}`);
      out[key] = Number(raw);
    } else if (type === "boolean") {
      if (!["true", "false", "1", "0"].includes(raw)) throw new ConfigError(`environment ${name}: expected true or false (or 1 or 0), got ${JSON.stringify(raw)}`);
      out[key] = raw === "true" || raw === "1";
    } else out[key] = raw;
  }
  return out;
}

/** `sourceOf` names where a key's value came from (a variable or flag names itself too). */
function describeIssues(error: z.ZodError, sourceOf: string | ((key: string) => string)): string {
  const source = (key: string) => (typeof sourceOf === "string" ? sourceOf : sourceOf(key));
  return error.issues
    .map((i) => {
      if (i.code === "unrecognized_keys") return `${source("")}: unknown key${i.keys.length > 1 ? "s" : ""} ${i.keys.map((k) => `"${[...i.path, k].join(".")}"`).join(", ")}`;
      const key = i.path.join(".") || "(root)";
      return `${source(String(i.path[0] ?? ""))}: "${key}": ${i.message}`;
    })
    .join("\n");
}

const FLAGS: Record<string, string> = { pluginsDir: "--plugins", host: "--host", port: "--port", token: "--token", logLevel: "--log-level" };

function flagSource(key: string): string {
  return FLAGS[key] ? `command line ${FLAGS[key]}` : "command line";
}

function envSource(key: string): string {
  const name = Object.entries(ENV).find(([, e]) => e.key === key)?.[0];
  return name ? `environment ${name}` : "environment";
}

/** The default config file shipped in the package. */
export const defaultConfigFile = join(packageRoot, "config", "patchbay.json");

/** `$PATCHBAY_HOME` when none is set. */
export function defaultHome(): string {
  return join(homedir(), ".patchbay");
}

/**
 * The plugins folder when no flag, env var or config names one: it lives with the user, not
 * in the package (which may sit in npm's cache). Created on first start (plugins/home-folder.ts).
 */
export function defaultPluginsDir(home: string): string {
  return join(resolve(home), "plugins");
}

/**
 * Builds the effective config. Relative `pluginsDir` in a file resolves against the file's
 * folder; from env or flags, against the current directory.
 */
export function loadConfig(flags: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const explicit = flags.config ?? env.PATCHBAY_CONFIG;
  const file = explicit ? resolve(explicit) : existsSync(defaultConfigFile) ? defaultConfigFile : undefined;
  let fromFile: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
    }
    try {
      fromFile = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`${file}: not valid JSON: ${(err as Error).message}`);
    }
    if (typeof fromFile !== "object" || fromFile === null || Array.isArray(fromFile)) throw new ConfigError(`${file}: must hold a JSON object`);
    delete fromFile.$schema;
    const fileCheck = ConfigSchema.safeParse(fromFile);
    if (!fileCheck.success) throw new ConfigError(describeIssues(fileCheck.error, file));
    if (typeof fromFile.pluginsDir === "string" && !isAbsolute(fromFile.pluginsDir)) fromFile.pluginsDir = resolve(dirname(file), fromFile.pluginsDir);
  }
  const fromEnv = envOverrides(env);
  const envCheck = ConfigSchema.partial().safeParse(fromEnv);
  if (!envCheck.success) throw new ConfigError(describeIssues(envCheck.error, envSource));
  const { config: _ignored, ...flagValues } = flags;
  const cleanFlags = Object.fromEntries(Object.entries(flagValues).filter(([, v]) => v !== undefined));
  const flagCheck = ConfigSchema.partial().safeParse(cleanFlags);
  if (!flagCheck.success) throw new ConfigError(describeIssues(flagCheck.error, flagSource));
  const merged = { ...fromFile, ...fromEnv, ...cleanFlags };
  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) throw new ConfigError(describeIssues(parsed.error, "config"));
  const home = resolve(parsed.data.home ?? defaultHome());
  const pluginsDir = parsed.data.pluginsDir === undefined ? defaultPluginsDir(home) : resolve(parsed.data.pluginsDir);
  return { ...parsed.data, home, pluginsDir, configFile: file };
}
