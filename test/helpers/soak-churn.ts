/**
 * The churn soak (test/soak.test.ts, `npm run soak`): many short-lived clients on every
 * transport — Streamable HTTP with the SDK client closing politely (DELETE through
 * `terminateSession()`) or vanishing (`close()` only, as the SDK's own close does), legacy
 * SSE, WebSocket (closing, or dropping the TCP connection), `patchbay stdio` attached to the
 * daemon — while a plugin file is rewritten over and over (every few rewrites a broken one,
 * so the last good version must keep serving).
 *
 * Settings (environment; `npm test` uses the small defaults, `npm run soak` large ones):
 *   SOAK_CLIENTS       client lifecycles in total (default 300)
 *   SOAK_CONCURRENCY   clients alive at once (default 8)
 *   SOAK_MAX_SESSIONS  the daemon's maxSessions (default 24; far fewer than the clients that vanish)
 *   SOAK_RELOAD_MS     time between plugin rewrites (default 150)
 *   SOAK_STDIO_EVERY   every Nth client is `patchbay stdio` attached (default 40; 0 = none)
 *   SOAK_IDLE_TIMEOUT_MS  sessionIdleTimeoutMs, so vanished sessions expire after the run (default 3000)
 *   SOAK_EVICT_AFTER_IDLE_MS  sessionEvictAfterIdleMs (default 200)
 */
import { writeFileSync, renameSync } from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { WebSocketClientTransport } from "@modelcontextprotocol/sdk/client/websocket.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { ensureGlobalWebSocket } from "./clients.ts";
import { CLI, TempDir } from "./env.ts";
import { FuzzDaemon, RpcSocket, sleep, stderrProblems, type ProcFigures } from "./fuzz-harness.ts";

export interface SoakConfig {
  clients: number;
  concurrency: number;
  maxSessions: number;
  reloadMs: number;
  stdioEvery: number;
  idleTimeoutMs: number;
  evictAfterIdleMs: number;
}

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${raw}`);
  return n;
}

export function soakConfig(): SoakConfig {
  return {
    clients: envNumber("SOAK_CLIENTS", 300),
    concurrency: envNumber("SOAK_CONCURRENCY", 8),
    maxSessions: envNumber("SOAK_MAX_SESSIONS", 24),
    reloadMs: envNumber("SOAK_RELOAD_MS", 150),
    stdioEvery: envNumber("SOAK_STDIO_EVERY", 40),
    idleTimeoutMs: envNumber("SOAK_IDLE_TIMEOUT_MS", 3_000),
    evictAfterIdleMs: envNumber("SOAK_EVICT_AFTER_IDLE_MS", 200),
  };
}

/** A hang bound on one client's life: connect, four requests, close (not a timing assertion). */
const LIFECYCLE_BOUND_MS = 30_000;

export type ClientKind = "http-polite" | "http-vanish" | "sse" | "ws" | "ws-drop" | "stdio";
/** Clients that end their session the way the protocol asks: none of them may ever see a 503. */
export const WELL_BEHAVED: ReadonlySet<ClientKind> = new Set(["http-polite", "sse", "ws", "stdio"]);
const ROTATION: ClientKind[] = ["http-polite", "http-vanish", "sse", "ws", "http-vanish", "ws-drop", "http-polite", "sse", "ws"];

export interface Failure {
  kind: ClientKind;
  client: number;
  phase: string;
  message: string;
  status503: boolean;
}

export interface SoakReport {
  config: SoakConfig;
  before: Snapshot;
  after: Snapshot;
  /** lifecycles per kind, and calls made */
  counts: Record<string, number>;
  calls: number;
  reloads: number;
  brokenReloads: number;
  failures: Failure[];
  stderrProblems: string[];
  settled: { sessions: boolean; fds: boolean; threads: boolean };
  durationMs: number;
  evictedMetric?: string;
}

export interface Snapshot {
  sessions: number;
  byTransport: Record<string, number>;
  loadedPlugins: number;
  figures: ProcFigures;
}

const BASE = `export default {
  name: "base",
  tools: { echo: { description: "echo", input: { type: "object", properties: { s: { type: "string" } } }, handler: (a) => "echo " + a.s } },
  resources: { "base://info": { read: () => "info" } },
};
`;
const hotSource = (v: number) => `export default {
  name: "hot",
  version: "${v}.0.0",
  tools: {
    v: { description: "version ${v}", handler: () => "v${v}" },
    ${v % 2 ? `odd: { description: "only in odd versions", handler: () => "odd" },` : ""}
  },
  prompts: { p${v % 3}: { render: () => "prompt ${v}" } },
};
`;
const BROKEN = `export default { name: "hot", tools: { v: { handler: () => "broken" } }  // unclosed on purpose\n`;

async function snapshot(d: FuzzDaemon): Promise<Snapshot> {
  const h = await d.health();
  if (h.status !== 200 || !h.json?.sessions) throw new Error(`/healthz answered ${h.status ?? h.error}`);
  return { sessions: h.json.sessions.open, byTransport: h.json.sessions.byTransport ?? {}, loadedPlugins: h.json.counts.loaded, figures: d.figures() };
}

function is503(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return e?.code === 503 || /\b503\b/.test(String(e?.message ?? err));
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** One client's life: connect, list, call both plugins, end the session its kind's way. */
async function lifecycle(d: FuzzDaemon, kind: ClientKind, n: number, failures: Failure[], count: { calls: number }): Promise<void> {
  const fail = (phase: string, err: unknown): void => void failures.push({ kind, client: n, phase, message: messageOf(err).slice(0, 300), status503: is503(err) });
  if (kind === "ws-drop") {
    // a raw WebSocket client that drops its TCP connection without a close frame
    let rpc: RpcSocket;
    try {
      rpc = await RpcSocket.open(d.port);
    } catch (err) {
      return fail("connect", err);
    }
    const init = await rpc.initialize();
    if (!init || init.error) fail("initialize", new Error(JSON.stringify(init)));
    const r = await rpc.request("tools/call", { name: "hot__v", arguments: {} });
    count.calls++;
    if (!r || r.error || (r.result as { isError?: boolean })?.isError) fail("call hot__v", new Error(JSON.stringify(r)));
    rpc.ws.terminate();
    return;
  }
  let transport: Transport;
  if (kind === "http-polite" || kind === "http-vanish") transport = new StreamableHTTPClientTransport(new URL(`${d.url}/mcp`));
  else if (kind === "sse") transport = new SSEClientTransport(new URL(`${d.url}/sse`));
  else if (kind === "ws") {
    ensureGlobalWebSocket();
    transport = new WebSocketClientTransport(new URL(`${d.url.replace(/^http/, "ws")}/ws`));
  } else {
    transport = new StdioClientTransport({ command: process.execPath, args: [CLI, "stdio"], env: { ...(process.env as Record<string, string>), PATCHBAY_HOME: d.home, PATCHBAY_LOG_LEVEL: "warn" }, stderr: "pipe" });
  }
  const client = new Client({ name: `soak-${kind}`, version: "1.0.0" }, { capabilities: {} });
  try {
    await client.connect(transport);
  } catch (err) {
    fail("connect", err);
    await client.close().catch(() => undefined);
    return;
  }
  try {
    const tools = await client.listTools();
    if (!tools.tools.some((t) => t.name === "base__echo") || !tools.tools.some((t) => t.name === "hot__v")) fail("tools/list", new Error(`missing tools: ${tools.tools.map((t) => t.name).join(", ")}`));
    const echo = await client.callTool({ name: "base__echo", arguments: { s: `c${n}` } });
    count.calls++;
    if (echo.isError) fail("call base__echo", new Error(JSON.stringify(echo.content)));
    const v = await client.callTool({ name: "hot__v", arguments: {} });
    count.calls++;
    if (v.isError) fail("call hot__v", new Error(JSON.stringify(v.content)));
    await client.listPrompts();
  } catch (err) {
    fail("calls", err);
  }
  try {
    if (kind === "http-polite") await (transport as StreamableHTTPClientTransport).terminateSession();
  } catch (err) {
    fail("terminateSession (DELETE)", err);
  }
  await client.close().catch((err) => {
    fail("close", err);
  });
}

/** Runs the churn against a fresh daemon; the caller asserts on the report. */
export async function runSoak(cfg: SoakConfig, log: (line: string) => void): Promise<SoakReport> {
  const plugins = new TempDir("patchbay-soak-");
  plugins.file("0base.mjs", BASE);
  const hot = plugins.file("hot.mjs", hotSource(0));
  const d = new FuzzDaemon({
    plugins: plugins.path,
    env: {
      PATCHBAY_MAX_SESSIONS: String(cfg.maxSessions),
      PATCHBAY_SESSION_IDLE_TIMEOUT_MS: String(cfg.idleTimeoutMs),
      PATCHBAY_SESSION_EVICT_AFTER_IDLE_MS: String(cfg.evictAfterIdleMs),
      PATCHBAY_SSE_KEEPALIVE_MS: "1000",
    },
  });
  const started = Date.now();
  try {
    await d.start();
    const failures: Failure[] = [];
    const count = { calls: 0 };
    // Warm up once per kind (and one reload), so lazily created things exist before "before".
    for (const kind of ["http-polite", "sse", "ws", "ws-drop"] as ClientKind[]) await lifecycle(d, kind, -1, failures, count);
    let version = 1;
    writeAtomically(hot, hotSource(version));
    await waitUntil(async () => (await d.health()).json?.plugins?.some((p: { name: string; pluginVersion?: string }) => p.name === "hot" && p.pluginVersion === "1.0.0"), 10_000);
    await waitUntil(async () => (await d.sessionsOpen()) === 0, 10_000);
    await sleep(500);
    const before = await snapshot(d);
    log(`before: ${JSON.stringify(before)}`);

    // the reloader: rewrites the plugin until the clients are done; every 5th version is broken
    let reloads = 0;
    let brokenReloads = 0;
    let clientsDone = false;
    const reloader = (async () => {
      while (!clientsDone) {
        await sleep(cfg.reloadMs);
        version++;
        if (version % 5 === 0) {
          writeAtomically(hot, BROKEN);
          brokenReloads++;
        } else writeAtomically(hot, hotSource(version));
        reloads++;
      }
      // end on a good version, loaded
      version++;
      writeAtomically(hot, hotSource(version));
      const want = `${version}.0.0`;
      await waitUntil(async () => (await d.health()).json?.plugins?.some((p: { name: string; pluginVersion?: string; status: string }) => p.name === "hot" && p.pluginVersion === want && p.status === "loaded"), 15_000);
    })();

    const counts: Record<string, number> = {};
    let next = 0;
    // progress figures at every tenth of the run (RSS over time tells growth from a plateau)
    const tenth = Math.max(1, Math.floor(cfg.clients / 10));
    let reported = 0;
    const progress: string[] = [];
    const workers = Array.from({ length: Math.max(1, cfg.concurrency) }, async () => {
      for (;;) {
        const n = next++;
        if (n >= cfg.clients) return;
        const kind: ClientKind = cfg.stdioEvery > 0 && n % cfg.stdioEvery === cfg.stdioEvery - 1 ? "stdio" : ROTATION[n % ROTATION.length];
        counts[kind] = (counts[kind] ?? 0) + 1;
        // a bound on one client's whole life (the SDK's own request timeout is 60 s)
        let timer: NodeJS.Timeout | undefined;
        const bounded = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            failures.push({ kind, client: n, phase: "lifecycle", message: `not done within ${LIFECYCLE_BOUND_MS} ms (hang)`, status503: false });
            resolve();
          }, LIFECYCLE_BOUND_MS);
        });
        await Promise.race([lifecycle(d, kind, n, failures, count), bounded]);
        clearTimeout(timer);
        if (n + 1 >= reported + tenth && d.alive()) {
          reported = n + 1;
          const f = d.figures();
          progress.push(`${n + 1}:${Math.round(f.rssKb / 1024)}MB/${f.fds}fd/${f.threads}th`);
        }
        if (!d.alive()) return;
      }
    });
    await Promise.all(workers);
    clientsDone = true;
    await reloader;
    log(`churn done: ${cfg.clients} clients, ${count.calls} calls, ${reloads} rewrites (${brokenReloads} broken) in ${Date.now() - started} ms`);
    log(`during the churn (clients done: RSS/fds/threads): ${progress.join(" ")}`);

    // Every client is gone. Sessions that vanished expire after the idle timeout; keep-alive
    // sockets after the server's keep-alive timeout; retired workers after their drain.
    const bound = cfg.idleTimeoutMs + 15_000;
    const sessionsBack = await waitUntil(async () => (await d.sessionsOpen()) === before.sessions, bound);
    const fdsBack = await waitUntil(async () => d.figures().fds <= before.figures.fds + 10, 10_000);
    const threadsBack = await waitUntil(async () => d.figures().threads <= before.figures.threads + 2, 10_000);
    const after = await snapshot(d);
    log(`after:  ${JSON.stringify(after)}`);
    const metrics = await d.raw({ method: "GET", path: "/metrics" });
    const evictedMetric = metrics.body.split("\n").filter((l) => l.startsWith("patchbay_sessions_evicted")).join("; ") || undefined;
    return {
      config: cfg,
      before,
      after,
      counts,
      calls: count.calls,
      reloads,
      brokenReloads,
      failures,
      stderrProblems: stderrProblems(d.stderr()),
      settled: { sessions: sessionsBack, fds: fdsBack, threads: threadsBack },
      durationMs: Date.now() - started,
      evictedMetric,
    };
  } finally {
    const died = d.started && !d.alive() ? d.deathReport() : undefined;
    await d.stop();
    plugins.cleanup();
    if (died) throw new Error(`the daemon died during the soak:\n${died}`);
  }
}

/** Editors save by writing a temp file and renaming it over the old one; so do we. */
function writeAtomically(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

async function waitUntil(check: () => Promise<boolean | undefined>, boundMs: number): Promise<boolean> {
  const deadline = Date.now() + boundMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return true;
    await sleep(100);
  }
  return !!(await check().catch(() => false));
}
