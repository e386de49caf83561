/**
 * Child processes for the bench: Patchbay (`dist/cli.js start`), the baselines of
 * `bench/baseline-server.ts`, and supergateway. Every server gets its own process so CPU and
 * memory are comparable; each is stopped by its own pid.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { copyFileSync, cpSync, existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { transformSync } from "esbuild";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
/**
 * The Patchbay the bench runs: a copy of dist/ (with package.json beside it, so the daemon
 * finds its package root there) taken once at the start by `snapshotDist()`. In a shared
 * checkout someone else's build can delete dist/ mid-run; the copy keeps every row on the
 * same build. Until the snapshot is taken, dist/ itself.
 */
export let CLI = join(ROOT, "dist", "cli.js");
const BUILD = join(ROOT, "bench", ".build");
/** One per bench process, so two runs (say, the smoke test during a full run) never share one. */
const SNAPSHOT = join(BUILD, `pkg-${process.pid}`);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export async function snapshotDist(): Promise<string> {
  const dist = join(ROOT, "dist");
  const parts = ["cli.js", "main.js", "api.js", "worker-entry.js"];
  await waitFor("a complete dist/ (run `node scripts/build.mjs`)", () => parts.every((f) => existsSync(join(dist, f))), 60_000, 250);
  // copies left by runs that were killed
  for (const d of existsSync(BUILD) ? readdirSync(BUILD) : []) {
    const m = /^pkg-(\d+)$/.exec(d);
    if (m && !alive(Number(m[1]))) rmSync(join(BUILD, d), { recursive: true, force: true });
  }
  rmSync(SNAPSHOT, { recursive: true, force: true });
  mkdirSync(SNAPSHOT, { recursive: true });
  cpSync(dist, join(SNAPSHOT, "dist"), { recursive: true });
  copyFileSync(join(ROOT, "package.json"), join(SNAPSHOT, "package.json"));
  for (const f of parts) if (!existsSync(join(SNAPSHOT, "dist", f))) throw new Error(`dist/${f} vanished while it was being copied; run again`);
  CLI = join(SNAPSHOT, "dist", "cli.js");
  return CLI;
}

export function removeSnapshot(): void {
  rmSync(SNAPSHOT, { recursive: true, force: true });
}
const BASELINE_TS = join(ROOT, "bench", "baseline-server.ts");
/** The baselines run as plain JS, as Patchbay does: no loader hooks or loader thread in their process. */
export const BASELINE_JS = join(ROOT, "bench", ".build", "baseline-server.mjs");
const SUPERGATEWAY = join(ROOT, "node_modules", "supergateway", "dist", "index.js");

/** Compiles bench/baseline-server.ts to bench/.build/baseline-server.mjs (git-ignored). */
export function buildBaseline(): void {
  const out = transformSync(readFileSync(BASELINE_TS, "utf8"), { loader: "ts", format: "esm", target: "node20", sourcefile: BASELINE_TS });
  mkdirSync(dirname(BASELINE_JS), { recursive: true });
  // temp file + rename: another run may be starting a baseline from this file right now
  const tmp = `${BASELINE_JS}.${process.pid}.tmp`;
  writeFileSync(tmp, out.code);
  renameSync(tmp, BASELINE_JS);
}

export class Temp {
  readonly path: string;
  constructor(prefix: string) {
    this.path = mkdtempSync(join(tmpdir(), prefix));
  }
  join(...p: string[]) {
    return join(this.path, ...p);
  }
  cleanup() {
    rmSync(this.path, { recursive: true, force: true });
  }
}

export interface Server {
  name: string;
  url: string;
  pid: number;
  proc: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

async function stopProc(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, "exit");
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), 8_000);
  await exited;
  clearTimeout(timer);
}

/** Spawns and resolves with the first URL `pattern` finds in its stdout. */
function spawnServer(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv, pattern: RegExp, timeoutMs = 60_000): Promise<Server> {
  const proc = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"], cwd: ROOT });
  let out = "";
  proc.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
  proc.stderr!.setEncoding("utf8").on("data", (d: string) => (out += d));
  return new Promise<Server>((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`${name}: no URL within ${timeoutMs} ms:\n${out.slice(-2000)}`));
    }, timeoutMs);
    const onData = () => {
      const m = pattern.exec(out);
      if (!m) return;
      clearTimeout(timer);
      proc.stdout!.off("data", onData);
      proc.off("close", onExit);
      resolvePromise({ name, url: m[1], pid: proc.pid!, proc, output: () => out, stop: () => stopProc(proc) });
    };
    // "close", not "exit": by then everything it wrote has been read, so the error shows it.
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before listening: ${out.trim().slice(-1500).replace(/\s*\n\s*/g, " ⏎ ") || "(no output)"}`));
    };
    proc.stdout!.on("data", onData);
    proc.stderr!.on("data", onData);
    proc.once("close", onExit);
  });
}

export type BaselineKind = "sdk-v1-http" | "sdk-v1-http-node" | "sdk-v1-http-unparsed" | "sdk-v2-http" | "sdk-v2-http-unparsed" | "sdk-v1-stdio" | "sdk-v2-stdio" | "raw-http" | "raw-ws";

export function baselineCommand(kind: BaselineKind, extra: string[] = []): { command: string; args: string[] } {
  return { command: process.execPath, args: [BASELINE_JS, kind, ...extra] };
}

export function startBaseline(kind: Exclude<BaselineKind, "sdk-v1-stdio" | "sdk-v2-stdio">, opts: { tools?: number } = {}): Promise<Server> {
  const { command, args } = baselineCommand(kind, opts.tools ? ["--tools", String(opts.tools)] : []);
  return spawnServer(kind, command, args, process.env, /listening ((?:http|ws):\/\/\S+)/);
}

export interface Patchbay extends Server {
  home: string;
  plugins: string;
}

/**
 * `patchbay start --port 0` with PATCHBAY_HOME in a fresh temp folder (or `opts.home`, kept
 * at stop: a second start on it finds the first one's compile cache); `url` is the origin.
 * Resolves once it listens, which is before its plugins have loaded (see `waitLoaded`).
 */
export async function startPatchbay(plugins: string, env: Record<string, string> = {}, args: string[] = [], opts: { home?: string } = {}): Promise<Patchbay> {
  // One retry: a daemon that exits at once is most often a dist/ being rebuilt under it.
  try {
    return await startPatchbayOnce(plugins, env, args, opts.home);
  } catch (err) {
    await sleep(2_000);
    return startPatchbayOnce(plugins, env, args, opts.home).catch((again: Error) => {
      throw new Error(`${again.message} (second attempt; first: ${(err as Error).message})`);
    });
  }
}

async function startPatchbayOnce(plugins: string, env: Record<string, string>, args: string[], givenHome?: string): Promise<Patchbay> {
  const home = givenHome ? undefined : new Temp("patchbay-bench-home-");
  const homePath = givenHome ?? home!.path;
  const server = await spawnServer(
    "patchbay",
    process.execPath,
    [CLI, "start", "--port", "0", "--plugins", plugins, ...args],
    { ...process.env, PATCHBAY_HOME: homePath, PATCHBAY_LOG_LEVEL: "warn", ...env },
    /MCP \(HTTP\):\s+(http:\/\/\S+)\/mcp/,
  ).catch((err) => {
    home?.cleanup();
    throw err;
  });
  return {
    ...server,
    home: homePath,
    plugins,
    async stop() {
      await server.stop();
      home?.cleanup();
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolvePromise(port));
    });
  });
}

/**
 * supergateway 4, stateful Streamable HTTP, fronting the bare SDK v1 stdio server (one child
 * per session). `--logLevel none`: at `info` it logs every message, which would be unfair.
 */
export async function startSupergateway(): Promise<Server> {
  const port = await freePort();
  const { command, args } = baselineCommand("sdk-v1-stdio");
  const stdio = [command, ...args].map((a) => JSON.stringify(a)).join(" ");
  const proc = spawn(process.execPath, [SUPERGATEWAY, "--stdio", stdio, "--outputTransport", "streamableHttp", "--stateful", "--port", String(port), "--healthEndpoint", "/healthz", "--logLevel", "none"], {
    stdio: ["ignore", "pipe", "pipe"],
    cwd: ROOT,
  });
  let out = "";
  proc.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
  proc.stderr!.setEncoding("utf8").on("data", (d: string) => (out += d));
  try {
    await waitFor("supergateway /healthz", async () => proc.exitCode === null && (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 30_000);
  } catch (err) {
    await stopProc(proc);
    throw new Error(`supergateway did not start: ${(err as Error).message}\n${out.slice(-2000)}`);
  }
  return { name: "supergateway", url: `http://127.0.0.1:${port}/mcp`, pid: proc.pid!, proc, output: () => out, stop: () => stopProc(proc) };
}

/** VmRSS of a process in bytes; worker threads share it, so this is the whole daemon. */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) * 1024;
}

export function threadsOf(pid: number): number {
  return Number(/Threads:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v as T;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * Resolves with /healthz once every plugin found at start has loaded or failed (the daemon
 * listens before that), polling every `everyMs`.
 */
export function waitStartupDone(d: Patchbay, timeoutMs = 600_000, everyMs = 20) {
  return waitFor(
    "the plugins folder loaded",
    async () => {
      const h = (await (await fetch(`${d.url}/healthz`)).json()) as { startup?: { done?: boolean; ms?: number }; counts?: { loaded?: number; loading?: number; errors?: number } };
      return h.startup?.done && h.counts?.loading === 0 ? h : undefined;
    },
    timeoutMs,
    everyMs,
  );
}

/** Resolves once /healthz reports `n` plugins loaded. */
export function waitLoaded(d: Patchbay, n: number, timeoutMs = 120_000) {
  return waitFor(
    `${n} plugins loaded`,
    async () => {
      const h = (await (await fetch(`${d.url}/healthz`)).json()) as { counts?: { loaded?: number; tools?: number } };
      return (h.counts?.loaded ?? 0) >= n ? h.counts : undefined;
    },
    timeoutMs,
    100,
  );
}
