/**
 * Shared machinery of the fuzz tests (`test/fuzz-*.test.ts`) and the churn soak: a daemon
 * under test that is restarted when a case kills it (so every case, and every shrink step,
 * starts from a live daemon), raw HTTP with a hang bound, the settings that make `npm test`
 * deterministic and `npm run fuzz` long, and the process figures (fds, RSS, threads).
 *
 * Settings (environment):
 *   FUZZ_SEED   seed for every property (default: fixed in `npm test`, random with FUZZ_RUNS)
 *   FUZZ_RUNS   runs per property (default: each property's small CI count)
 *   FUZZ_PATH   fast-check replay path printed with a failure (use with FUZZ_SEED and
 *               `--test-name-pattern` so only the failing property runs)
 *   FUZZ_IGNORE comma-separated violation tags to tolerate while hunting past a known defect
 *               (e.g. `FUZZ_IGNORE=5xx,internal-error`); never set it in CI. Tags are the
 *               bracketed words in a failure report: crash, hang, 5xx, shape, id-echo,
 *               parse-error-code, invalid-request-code, internal-error, method-not-found,
 *               cursor, auth, origin, healthz-leak, session-leak, worker-leak, stderr, …
 *   FUZZ_HANG_MS the hang bound per request/reply (default 10000): a bound, not a timing check
 *   FUZZ_TRACE  print every request and its status to stderr
 *
 * Running:
 *   one file, CI-sized:  node scripts/build.mjs && npx tsx --test test/fuzz-http.test.ts
 *   everything, long:    npm run fuzz            (FUZZ_RUNS=2000 per property, seed printed)
 *   replay a failure:    FUZZ_SEED=<seed> [FUZZ_RUNS=<runs>] FUZZ_PATH=<path> \
 *                          npx tsx --test --test-name-pattern='<property>' test/fuzz-<x>.test.ts
 *   (seed and path are in the failure report: `{ seed: …, path: "…" }`)
 */
import fc from "fast-check";
import { request, type IncomingHttpHeaders } from "node:http";
import WebSocket from "ws";
import { readdirSync, readFileSync } from "node:fs";
import { startDaemonProcess, type RunningDaemon } from "./daemon.ts";
import { TempDir } from "./env.ts";

export const HANG_BOUND_MS = Number(process.env.FUZZ_HANG_MS ?? 10_000);
export const FUZZ_TOKEN = "fuzz-token-0123456789abcdef";
/** The seed `npm test` uses, so CI runs the same cases every time. */
export const CI_SEED = 20261125;

/** One random seed per process, so all properties of a file replay with one FUZZ_SEED. */
const randomSeed = (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;

export interface FuzzSettings {
  seed: number;
  numRuns: number;
  long: boolean;
  path?: string;
}

/**
 * `ciRuns` is the property's bounded count in `npm test`; with FUZZ_RUNS set every property
 * runs that many times (times `longScale`, for properties whose cases are slow, e.g. reloads).
 */
export function fuzzSettings(ciRuns: number, longScale = 1): FuzzSettings {
  const runsEnv = process.env.FUZZ_RUNS;
  const long = runsEnv !== undefined && runsEnv !== "";
  const seedEnv = process.env.FUZZ_SEED;
  const seed = seedEnv !== undefined && seedEnv !== "" ? Number(seedEnv) : long ? randomSeed : CI_SEED;
  if (!Number.isInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, got ${seedEnv}`);
  const numRuns = long ? Math.max(1, Math.round(Number(runsEnv) * longScale)) : ciRuns;
  if (!Number.isFinite(numRuns)) throw new Error(`FUZZ_RUNS must be a number, got ${runsEnv}`);
  return { seed, numRuns, long, path: process.env.FUZZ_PATH || undefined };
}

export function describeSettings(s: FuzzSettings): string {
  return `fast-check seed=${s.seed} runs=${s.numRuns}${s.path ? ` path=${s.path}` : ""} (replay: FUZZ_SEED=${s.seed}${s.long ? ` FUZZ_RUNS=${process.env.FUZZ_RUNS}` : ""})`;
}

/** fast-check parameters: the settings, plus a cap on shrinking time after a failure. */
export function fcParams<T>(s: FuzzSettings, extra: Partial<fc.Parameters<T>> = {}): fc.Parameters<T> {
  return {
    seed: s.seed,
    numRuns: s.numRuns,
    path: s.path,
    // Shrinking re-runs cases against a real daemon (restarting it after a crash); stop
    // shrinking once a run has taken this long and report the smallest case found so far.
    // Passing runs never get near it, so it bounds only the cost of a failure.
    skipAllAfterTimeLimit: s.long ? undefined : 120_000,
    // print our violation report in the failure message (test runners may drop `cause`)
    includeErrorInReport: true,
    ...extra,
  };
}

/** FUZZ_TRACE=1 prints every request and its status to stderr (for working on the fuzzers). */
export function trace(line: string): void {
  if (process.env.FUZZ_TRACE) process.stderr.write(`${line}\n`);
}

const IGNORED = new Set((process.env.FUZZ_IGNORE ?? "").split(",").map((s) => s.trim()).filter(Boolean));

/** One broken invariant: a tag (stable, for FUZZ_IGNORE and the report) and the evidence. */
export interface Violation {
  tag: string;
  detail: string;
}

/** Collects violations of one case; `assertNone` throws them all as one error (fast-check shrinks on it). */
export class Violations {
  readonly list: Violation[] = [];
  add(tag: string, detail: string): void {
    if (!IGNORED.has(tag)) this.list.push({ tag, detail });
  }
  get empty(): boolean {
    return this.list.length === 0;
  }
  assertNone(context: string): void {
    if (this.list.length === 0) return;
    const lines = this.list.map((v) => `  [${v.tag}] ${v.detail}`);
    throw new Error(`invariant violated (${context}):\n${lines.join("\n")}`);
  }
}

/** Shortens text for a report line. */
export function clip(s: unknown, max = 400): string {
  const text = typeof s === "string" ? s : safeStringify(s);
  return text.length > max ? `${text.slice(0, max)}…(${text.length} chars)` : text;
}

export function safeStringify(v: unknown): string {
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s;
  } catch {
    return String(v);
  }
}

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  /** false: send no Host header at all */
  setHost?: boolean;
}

export interface RawResponse {
  /** undefined when no status line came back (error or hang) */
  status?: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** a transport-level failure: reset, hang past the bound, … */
  error?: string;
  upgraded?: boolean;
  /** the response was an event stream we cut after its headers (it does not end by itself) */
  cutStream?: boolean;
}

/**
 * One HTTP request on a fresh connection, with every header under our control. Never
 * rejects: a missing answer comes back as `error`. A POST's event-stream answer is read to
 * its end (the server ends it after the last reply); any other event stream is a long-lived
 * channel and is cut once its headers are in.
 */
export function rawHttp(port: number, r: RawRequest, boundMs = HANG_BOUND_MS): Promise<RawResponse> {
  return new Promise((resolve) => {
    let settled = false;
    let status: number | undefined;
    let headers: IncomingHttpHeaders = {};
    let body = "";
    const finish = (extra: Partial<RawResponse>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ status, headers, body, ...extra });
    };
    const hdrs: Record<string, string | string[]> = { ...(r.headers ?? {}) };
    if (r.setHost !== false && !Object.keys(hdrs).some((k) => k.toLowerCase() === "host")) hdrs.host = `127.0.0.1:${port}`;
    // Node frames a GET/DELETE body only when told its length (else the bytes follow unframed)
    if (r.body !== undefined && !Object.keys(hdrs).some((k) => ["content-length", "transfer-encoding"].includes(k.toLowerCase()))) hdrs["content-length"] = String(Buffer.byteLength(r.body));
    let req: ReturnType<typeof request>;
    try {
      req = request({ host: "127.0.0.1", port, method: r.method, path: r.path, headers: hdrs, agent: false, setHost: r.setHost !== false });
    } catch (err) {
      // The request could not even be written (an invalid header from a generator): not the server's fault.
      resolve({ headers: {}, body: "", error: `client refused to send: ${(err as Error).message}` });
      return;
    }
    const timer = setTimeout(() => {
      finish({ error: status === undefined ? `no response within ${boundMs} ms` : `response body not complete within ${boundMs} ms (status ${status})` });
      req.destroy();
    }, boundMs);
    req.on("response", (res) => {
      status = res.statusCode;
      headers = res.headers;
      const isStream = String(res.headers["content-type"] ?? "").startsWith("text/event-stream");
      if (isStream && r.method !== "POST") {
        finish({ cutStream: true });
        res.destroy();
        return;
      }
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => finish({}));
      res.on("error", (err) => finish({ error: `response stream failed: ${err.message}` }));
      res.on("close", () => finish(res.complete ? {} : { error: "connection closed before the response was complete" }));
    });
    req.on("upgrade", (res, socket) => {
      status = res.statusCode;
      headers = res.headers;
      socket.destroy();
      finish({ upgraded: true });
    });
    req.on("error", (err) => finish({ error: `request failed: ${(err as NodeJS.ErrnoException).code ?? ""} ${err.message}` }));
    if (r.body !== undefined) req.end(r.body);
    else req.end();
  });
}

/** The JSON messages of an event stream (`data:` lines; events joined per the SSE rules). */
export function sseMessages(text: string): { data: string; event?: string }[] {
  const out: { data: string; event?: string }[] = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const data: string[] = [];
    let event: string | undefined;
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      else if (line.startsWith("event:")) event = line.slice(6).trim();
    }
    if (data.length) out.push({ data: data.join("\n"), event });
  }
  return out;
}

/**
 * Lines on a daemon's stderr that must never appear, whatever a client or plugin did: what
 * Node itself prints for an uncaught exception, an unhandled rejection or a process warning
 * (raw lines, not the daemon's JSON log), and fatal or MaxListeners lines in the log.
 * A plugin's own errors are logged as JSON lines by the daemon and do not count.
 */
const RAW_PROBLEM = /Uncaught|UnhandledPromiseRejection|unhandled (promise )?rejection|MaxListenersExceededWarning|\(node:\d+\) \[?\w*Warning|FATAL ERROR|^\s+at .+:\d+:\d+\)?$|^\w*Error: /i;
const LOG_PROBLEM = /"level":60\b|MaxListenersExceededWarning|UnhandledPromiseRejection/;

export function stderrProblems(text: string): string[] {
  return text
    .split("\n")
    .filter((l) => (l.startsWith("{") ? LOG_PROBLEM.test(l) : RAW_PROBLEM.test(l)))
    .map((l) => clip(l, 600));
}

export interface ProcFigures {
  fds: number;
  rssKb: number;
  threads: number;
}

/** Open fds, resident memory and OS threads of a process (Linux /proc). */
export function procFigures(pid: number): ProcFigures {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN);
  return { fds: readdirSync(`/proc/${pid}/fd`).length, rssKb: field("VmRSS"), threads: field("Threads") };
}

export interface FuzzDaemonOptions {
  plugins: string;
  token?: string;
  env?: Record<string, string>;
}

/**
 * A daemon process under fuzzing. If a case kills it, `ensureAlive` (run before each case)
 * records the death with the end of its stderr and starts a fresh one, so one crash does
 * not make every later case — and every shrink step — fail for the wrong reason.
 */
export class FuzzDaemon {
  private d?: RunningDaemon;
  /** one line per death the fuzzer caused: exit code/signal and the end of stderr */
  readonly deaths: string[] = [];
  private previousStderr = "";

  constructor(readonly opts: FuzzDaemonOptions) {}

  async start(): Promise<void> {
    // our own home folder, removed even when the daemon fails to start
    const home = new TempDir("patchbay-fuzz-home-");
    try {
      this.d = await startDaemonProcess({
        plugins: this.opts.plugins,
        home: home.path,
        args: this.opts.token ? ["--token", this.opts.token] : [],
        env: { PATCHBAY_LOG_LEVEL: "info", ...this.opts.env },
      });
      this.homeDir = home;
    } catch (err) {
      home.cleanup();
      throw err;
    }
  }
  private homeDir?: TempDir;

  private get running(): RunningDaemon {
    if (!this.d) throw new Error("daemon not started");
    return this.d;
  }

  get url(): string {
    return this.running.url;
  }
  /** its PATCHBAY_HOME (state file, so `patchbay stdio` can attach) */
  get home(): string {
    return this.running.home;
  }
  get port(): number {
    return Number(new URL(this.running.url).port);
  }
  get pid(): number {
    return this.running.proc.pid!;
  }

  get started(): boolean {
    return this.d !== undefined;
  }

  alive(): boolean {
    const p = this.d?.proc;
    return !!p && p.exitCode === null && p.signalCode === null;
  }

  /** Exit code/signal plus stderr tail, when dead. */
  deathReport(): string {
    const p = this.running.proc;
    const tail = this.running.stderr().slice(-1500);
    return `daemon exited (code ${p.exitCode}, signal ${p.signalCode}); stderr tail:\n${tail}`;
  }

  /**
   * Alive and answering: a process that crashed may not have been reaped yet, so a failed
   * /healthz waits for its exit before saying whether it lives.
   */
  async checkAlive(): Promise<boolean> {
    if (!this.alive()) return false;
    const r = await this.raw({ method: "GET", path: "/healthz" });
    if (r.status !== undefined) return true;
    const proc = this.running.proc;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 3_000);
      proc.once("exit", () => (clearTimeout(timer), resolve()));
    });
    return this.alive();
  }

  async ensureAlive(): Promise<void> {
    if (await this.checkAlive()) return;
    if (this.d) {
      this.deaths.push(this.deathReport());
      this.previousStderr += this.d.stderr();
      await this.stop();
    }
    await this.start();
  }

  authHeaders(): Record<string, string> {
    return this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {};
  }

  raw(r: RawRequest, boundMs?: number): Promise<RawResponse> {
    return rawHttp(this.port, r, boundMs);
  }

  /** The full /healthz report (with the token when there is one). */
  async health(): Promise<{ status?: number; json?: any; error?: string }> {
    const r = await this.raw({ method: "GET", path: "/healthz", headers: this.authHeaders() });
    if (r.status === undefined) return { error: r.error };
    try {
      return { status: r.status, json: JSON.parse(r.body) };
    } catch {
      return { status: r.status, error: `not JSON: ${clip(r.body)}` };
    }
  }

  async sessionsOpen(): Promise<number> {
    const h = await this.health();
    const n = h.json?.sessions?.open;
    if (typeof n !== "number") throw new Error(`/healthz has no sessions.open (status ${h.status}${h.error ? `, ${h.error}` : ""})`);
    return n;
  }

  /** Polls until the open-session count is `expected` (closes are asynchronous); returns the last count. */
  async settleSessions(expected: number, timeoutMs = 30_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let n = await this.sessionsOpen();
    while (n !== expected && Date.now() < deadline) {
      await sleep(50);
      n = await this.sessionsOpen();
    }
    return n;
  }

  figures(): ProcFigures {
    return procFigures(this.pid);
  }

  stderr(): string {
    return this.previousStderr + (this.d?.stderr() ?? "");
  }

  stderrProblems(): string[] {
    return stderrProblems(this.stderr());
  }

  async stop(): Promise<number | null | undefined> {
    try {
      return await this.d?.stop();
    } finally {
      this.homeDir?.cleanup();
      this.homeDir = undefined;
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The end-of-run checks every fuzz file makes, as violations. */
export async function finalChecks(d: FuzzDaemon, baselineSessions: number, v: Violations): Promise<void> {
  if (d.deaths.length) v.add("crash", `the daemon died ${d.deaths.length} time(s) during the run; first:\n${d.deaths[0]}`);
  if (!(await d.checkAlive())) {
    v.add("crash", d.deathReport());
    return;
  }
  const h = await d.health();
  if (h.status !== 200) v.add("healthz", `/healthz answered ${h.status ?? h.error} at the end`);
  const open = await d.settleSessions(baselineSessions).catch(() => NaN);
  if (open !== baselineSessions) v.add("session-leak", `${open} sessions open at the end, ${baselineSessions} before`);
  for (const line of d.stderrProblems()) v.add("stderr", line);
}

/**
 * A JSON-RPC client over one WebSocket (`/ws`, subprotocol mcp) with a bound on every reply,
 * for tests that drive a session by hand (the plugin fuzzer, the soak's raw clients).
 */
export class RpcSocket {
  private nextId = 1;
  private waiting = new Map<string | number, (reply: Record<string, unknown>) => void>();
  readonly notifications: string[] = [];
  closed?: number;

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      let m: any;
      try {
        m = JSON.parse(String(data));
      } catch {
        return;
      }
      if (m && typeof m.method === "string") {
        this.notifications.push(m.method);
        return;
      }
      const w = this.waiting.get(m?.id);
      if (w) {
        this.waiting.delete(m.id);
        w(m);
      }
    });
    ws.on("close", (code) => (this.closed = code));
  }

  static open(port: number, headers: Record<string, string> = {}, path = "/ws"): Promise<RpcSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, ["mcp"], { headers });
      const timer = setTimeout(() => (ws.terminate(), reject(new Error(`WebSocket did not open within ${HANG_BOUND_MS} ms`))), HANG_BOUND_MS);
      ws.once("open", () => (clearTimeout(timer), resolve(new RpcSocket(ws))));
      ws.once("error", (err) => (clearTimeout(timer), reject(err)));
      ws.once("unexpected-response", (_req, res) => (clearTimeout(timer), ws.terminate(), reject(new Error(`WebSocket refused with ${res.statusCode}`))));
    });
  }

  /** Sends a request; resolves with its reply, or undefined if none came within the bound. */
  request(method: string, params?: unknown, boundMs = HANG_BOUND_MS): Promise<Record<string, unknown> | undefined> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(undefined);
      }, boundMs);
      this.waiting.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, ...(params === undefined ? {} : { params }) }));
    });
  }

  notify(method: string, params?: unknown): void {
    this.ws.send(JSON.stringify({ jsonrpc: "2.0", method, ...(params === undefined ? {} : { params }) }));
  }

  async initialize(): Promise<Record<string, unknown> | undefined> {
    const r = await this.request("initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "fuzz", version: "1" } });
    this.notify("notifications/initialized");
    return r;
  }

  close(): Promise<void> {
    if (this.closed !== undefined) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => (this.ws.terminate(), resolve()), 2_000);
      this.ws.once("close", () => (clearTimeout(timer), resolve()));
      this.ws.close(1000);
    });
  }
}
