/**
 * The daemon's life from outside: SIGTERM with calls in flight on every transport, `kill -9`
 * then start, start after a reboot-like stale state file, `stdio` when the daemon cannot
 * start, and the compile cache in $PATCHBAY_HOME/cache. Real processes, official SDK clients.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createNetServer } from "node:net";
import { CLI, TempDir, waitFor } from "./helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "./helpers/daemon.ts";
import { httpClient, sseClient, stdioClient, textOf, wsClient, type RecordingClient } from "./helpers/clients.ts";
import { isPidAlive } from "../daemon/state-file.ts";

const dir = new TempDir("patchbay-lifecycle-");
const plugins = dir.join("plugins");
// A tool that ignores cancellation, as many real ones do, and notes when it started. With
// `until` it sleeps until that file exists (the test says when), else for `ms`.
dir.file(
  "plugins/sleepy.mjs",
  `import { appendFileSync, existsSync } from "node:fs";
export default { tools: { sleep: {
  input: { type: "object", properties: { ms: { type: "number" }, tag: { type: "string" }, until: { type: "string" } }, required: ["ms", "tag"] },
  handler: async ({ ms, tag, until }, ctx) => {
    appendFileSync(ctx.dataDir + "/started.log", tag + "\\n");
    if (until) await new Promise((r) => { const t = setInterval(() => existsSync(until) && (clearInterval(t), r()), 20); });
    else await new Promise((r) => setTimeout(r, ms));
    return "slept " + tag;
  },
} } };
`,
);
const daemons = new Set<RunningDaemon>();
const strayPids = new Set<number>();
const clients = new Set<RecordingClient>();

after(async () => {
  // a failed test leaves clients open (an SSE client reconnects forever): close them all
  for (const c of clients) await c.close().catch(() => undefined);
  // stop() also removes each daemon's temp home, including daemons a test already signalled
  for (const d of daemons) await d.stop().catch(() => undefined);
  for (const pid of strayPids) if (isPidAlive(pid)) process.kill(pid, "SIGKILL");
  dir.cleanup();
});

async function daemon(opts: { home?: string; args?: string[] } = {}) {
  const d = await startDaemonProcess({ plugins, ...opts });
  daemons.add(d);
  return d;
}

/** Every transport a remote client can use, each with its own SDK client. */
async function clientsFor(url: string): Promise<Record<"http" | "sse" | "ws", RecordingClient>> {
  const all = { http: await httpClient(url), sse: await sseClient(url), ws: await wsClient(url) };
  for (const c of Object.values(all)) clients.add(c);
  return all;
}

/** Calls settle to a result or an error, never a hang: 20 s is the clients' own timeout. */
const CLIENT_TIMEOUT = { timeout: 20_000 };
type Settled = { result?: any; error?: Error };
function sleepCall(c: RecordingClient, ms: number, tag: string, until?: string): Promise<Settled> {
  return c.client.callTool({ name: "sleepy__sleep", arguments: { ms, tag, ...(until ? { until } : {}) } }, undefined, CLIENT_TIMEOUT).then(
    (result) => ({ result }),
    (error: Error) => ({ error }),
  );
}

const startedTags = (home: string) => {
  const f = `${home}/data/sleepy/started.log`;
  return existsSync(f) ? readFileSync(f, "utf8").split("\n").filter(Boolean) : [];
};

async function sigterm(d: RunningDaemon): Promise<number | null> {
  const exited = once(d.proc, "exit");
  d.proc.kill("SIGTERM");
  await waitFor("shutdown to begin", () => /shutting down/.test(d.stderr()) || undefined);
  return exited.then(([code]) => code as number | null);
}

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** A pid no process has any more. */
function deadPid(): number {
  const pid = spawnSync(process.execPath, ["-e", ""]).pid!;
  assert.equal(isPidAlive(pid), false);
  return pid;
}

/** What a daemon leaves after a reboot: its state file, naming a pid that is now someone else's. */
async function writeStaleState(home: string) {
  mkdirSync(home, { recursive: true });
  const port = await deadPort();
  // our own pid: certainly alive, certainly not a patchbay daemon
  writeFileSync(`${home}/daemon.json`, JSON.stringify({ pid: process.pid, host: "127.0.0.1", port, url: `http://127.0.0.1:${port}`, startedAt: new Date().toISOString(), version: "0.0.0", pluginsDir: plugins }));
}

function runCli(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, encoding: "utf8", timeout: 30_000 });
}

/**
 * `patchbay stdio` as Claude Desktop runs it: stdin stays open. Resolves with its exit code
 * and stderr, or with `hung: true` if it is still running after `boundMs` (then killed).
 */
async function stdioThatMustExit(env: Record<string, string>, boundMs = 30_000) {
  const proc = spawn(process.execPath, [CLI, "stdio", "--plugins", plugins], { env: { ...process.env, PATCHBAY_LOG_LEVEL: "info", ...env }, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  proc.stdout.setEncoding("utf8").on("data", (d) => (out += d));
  proc.stderr.setEncoding("utf8").on("data", (d) => (err += d));
  proc.stdin.write(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "lifecycle", version: "1" } } }) + "\n");
  const timer = setTimeout(() => proc.kill("SIGKILL"), boundMs);
  const [code, signal] = await once(proc, "exit");
  clearTimeout(timer);
  return { code: code as number | null, hung: signal === "SIGKILL", out, err };
}

test("SIGTERM with calls in flight on Streamable HTTP, legacy SSE and WebSocket: every call answers, then exit 0", async () => {
  // the calls end when the test lets them, once it has seen the drain refuse new work; the
  // grace period is one no busy machine exhausts
  const config = dir.file("long-grace.json", JSON.stringify({ shutdownGraceMs: 60_000 }));
  const release = dir.join("release-drain");
  const d = await daemon({ args: ["--config", config] });
  const c = await clientsFor(d.url);
  const calls = { http: sleepCall(c.http, 0, "http", release), sse: sleepCall(c.sse, 0, "sse", release), ws: sleepCall(c.ws, 0, "ws", release) };
  await waitFor("all three calls running", () => startedTags(d.home).length === 3 || undefined);
  const exit = sigterm(d);
  await waitFor("shutdown to begin", () => /shutting down/.test(d.stderr()) || undefined);

  // draining: nothing new is accepted, on a new connection or on an open session
  const probe = await fetch(`${d.url}/healthz`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.status, (e: Error) => e.message);
  const late = sleepCall(c.ws, 10, "late");
  {
    // the late call is refused while the three still run
    const { result, error } = await late;
    const lateText = result ? textOf(result) : error!.message;
    assert.ok(error || result.isError, `a call that arrives during the drain fails: ${lateText}`);
    assert.match(lateText, /shutting down/);
  }
  writeFileSync(release, "");

  for (const [transport, call] of Object.entries(calls)) {
    const { result, error } = await call;
    assert.equal(error, undefined, `${transport}: ${error?.message}`);
    assert.equal(textOf(result), `slept ${transport}`, transport);
    assert.notEqual(result.isError, true, transport);
  }
  assert.notEqual(probe, 200, "a request during the drain is refused");
  assert.equal(await exit, 0);
  assert.equal(existsSync(`${d.home}/daemon.json`), false);
});

test("SIGTERM with calls that outlast the grace period: every client gets an error promptly, then exit 0", async () => {
  const config = dir.file("short-grace.json", JSON.stringify({ shutdownGraceMs: 300 }));
  const d = await daemon({ args: ["--config", config] });
  const c = await clientsFor(d.url);
  const calls = { http: sleepCall(c.http, 60_000, "http"), sse: sleepCall(c.sse, 60_000, "sse"), ws: sleepCall(c.ws, 60_000, "ws") };
  await waitFor("all three calls running", () => startedTags(d.home).length === 3 || undefined);
  const exit = sigterm(d);
  for (const [transport, call] of Object.entries(calls)) {
    const { result, error } = await call;
    // a tool-level error result or a JSON-RPC error, both naming the shutdown; not a timeout or a dropped stream
    const text = result ? textOf(result) : error!.message;
    assert.ok(error || result.isError === true, `${transport}: ${text}`);
    assert.match(text, /shutting down/, `${transport}: ${text}`);
  }
  assert.equal(await exit, 0);
});

test("kill -9, then start again: the stale state file is ignored and the compile cache reused", async () => {
  const home = dir.join("home-kill9");
  const first = await daemon({ home });
  const firstPid = first.proc.pid!;
  await waitFor("first cache", () => (existsSync(`${home}/cache/bundles`) && readdirSync(`${home}/cache/bundles`).length > 0) || undefined);
  const gone = once(first.proc, "exit");
  first.proc.kill("SIGKILL");
  await gone;
  daemons.delete(first);
  assert.equal(JSON.parse(readFileSync(`${home}/daemon.json`, "utf8")).pid, firstPid, "kill -9 leaves the state file");

  const second = await daemon({ home });
  assert.equal(JSON.parse(readFileSync(`${home}/daemon.json`, "utf8")).pid, second.proc.pid);
  assert.match(second.stderr(), /"plugin":"sleepy".*"cached":true.*"plugin loaded"/, "the plugin came from the compile cache");
  const c = await httpClient(second.url);
  clients.add(c);
  assert.equal(textOf(await c.client.callTool({ name: "sleepy__sleep", arguments: { ms: 1, tag: "after kill -9" } })), "slept after kill -9");
  assert.equal(await second.stop(), 0);
});

test("start after a reboot: a state file whose pid is alive but not a daemon does not block it", async () => {
  const home = dir.join("home-reboot");
  await writeStaleState(home);
  const status = runCli(["status"], { PATCHBAY_HOME: home });
  assert.equal(status.status, 1);
  assert.match(status.stdout, /No patchbay daemon is running/);

  const d = await daemon({ home });
  assert.equal(JSON.parse(readFileSync(`${home}/daemon.json`, "utf8")).pid, d.proc.pid);
  // and the live daemon is still recognised as running
  const second = runCli(["start", "--port", "0", "--plugins", plugins], { PATCHBAY_HOME: home });
  assert.equal(second.status, 1);
  assert.match(second.stderr, new RegExp(`already running \\(pid ${d.proc.pid}\\)`));
  assert.equal(await d.stop(), 0);
});

test("stdio after a reboot: it starts a daemon instead of waiting on the stale one", async () => {
  const home = dir.join("home-reboot-stdio");
  await writeStaleState(home);
  const c = await stdioClient(["--plugins", plugins], { PATCHBAY_HOME: home, PATCHBAY_PORT: "0" });
  try {
    const state = JSON.parse(readFileSync(`${home}/daemon.json`, "utf8"));
    strayPids.add(state.pid);
    assert.notEqual(state.pid, process.pid);
    assert.equal(textOf(await c.client.callTool({ name: "sleepy__sleep", arguments: { ms: 1, tag: "stdio" } }, undefined, CLIENT_TIMEOUT)), "slept stdio");
  } finally {
    await c.close();
  }
});

test("stdio when the daemon cannot start (PATCHBAY_HOME is a file): exits non-zero with a message, stdin still open", async () => {
  const home = dir.file("not-a-folder", "just a file\n");
  const r = await stdioThatMustExit({ PATCHBAY_HOME: home, PATCHBAY_PORT: "0" });
  assert.equal(r.hung, false, `still running with stdin open; stderr:\n${r.err}`);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /patchbay: .*not-a-folder/);
  assert.equal(r.out, "", "nothing on stdout but JSON-RPC (and here nothing at all)");
});

test("stdio when the daemon cannot start (its port is taken by another program): exits non-zero with the daemon's reason", async () => {
  const squatter: Server = createHttpServer((_req, res) => res.end("not patchbay"));
  await new Promise<void>((r) => squatter.listen(0, "127.0.0.1", () => r()));
  const port = (squatter.address() as { port: number }).port;
  try {
    const home = dir.join("home-port-taken");
    const r = await stdioThatMustExit({ PATCHBAY_HOME: home, PATCHBAY_PORT: String(port) });
    assert.equal(r.hung, false, `still running with stdin open; stderr:\n${r.err}`);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /could not start the daemon/);
    assert.match(r.err, new RegExp(`port ${port} .*already in use`));
  } finally {
    squatter.closeAllConnections();
    await new Promise((r) => squatter.close(r));
  }
});

test("compile cache: kept across a clean exit and used by the next start; per-process cache folders of earlier versions swept when their process is dead, live ones kept", async () => {
  const home = dir.join("home-cache");
  const dead = deadPid();
  dir.file(`home-cache/cache/${dead}/old-bundle.mjs`, "export default {};\n");
  dir.file(`home-cache/cache/${process.pid}/live-bundle.mjs`, "export default {};\n");
  const d = await daemon({ home });
  assert.equal(existsSync(`${home}/cache/${dead}`), false, "a dead process's cache is swept");
  assert.equal(existsSync(`${home}/cache/${process.pid}`), true, "a live process's cache is kept");
  assert.doesNotMatch(d.stderr(), /"cached":true/, "nothing was cached before the first start");
  assert.equal(await d.stop(), 0);
  assert.equal(readdirSync(`${home}/cache/bundles`).length, 1, "the bundle stays for the next start");
  const again = await daemon({ home });
  assert.match(again.stderr(), /"plugin":"sleepy".*"cached":true.*"plugin loaded"/);
  assert.equal(await again.stop(), 0);
});
