/**
 * One daemon per PATCHBAY_HOME (daemon/home-lock.ts), from outside: two `patchbay start`
 * at once, a stale lock (dead pid, reused pid), the lock gone after SIGTERM, and N cold
 * `patchbay stdio` bridges at once — official SDK clients over StdioClientTransport — that
 * must end up on one daemon, every one of them answered.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { CLI, TempDir, waitFor } from "./helpers/env.ts";
import { stopPids } from "./helpers/daemon.ts";
import { stdioClient, textOf, type RecordingClient } from "./helpers/clients.ts";
import { isPidAlive } from "../daemon/state-file.ts";
import { homeLockPath, processStartTime, tryLock } from "../daemon/home-lock.ts";

const dir = new TempDir("patchbay-home-lock-");
const plugins = dir.join("plugins");
dir.file("plugins/echo.mjs", `export default { tools: { say: { input: { type: "object", properties: { text: { type: "string" } } }, handler: async ({ text }) => "said " + text } } };\n`);
const procs = new Set<ChildProcess>();
const strayPids = new Set<number>();

after(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  await stopPids(strayPids);
  dir.cleanup();
});

interface Started {
  proc: ChildProcess;
  out: () => string;
  err: () => string;
  /** resolves with the URL once it prints its banner, or with the exit code if it exits first */
  outcome: Promise<{ url?: string; code?: number | null }>;
}

function start(home: string): Started {
  const proc = spawn(process.execPath, [CLI, "start", "--port", "0", "--plugins", plugins], { env: { ...process.env, PATCHBAY_HOME: home, PATCHBAY_LOG_LEVEL: "warn" }, stdio: ["ignore", "pipe", "pipe"] });
  procs.add(proc);
  let out = "";
  let err = "";
  proc.stdout!.setEncoding("utf8").on("data", (d) => (out += d));
  proc.stderr!.setEncoding("utf8").on("data", (d) => (err += d));
  const outcome = new Promise<{ url?: string; code?: number | null }>((resolve) => {
    proc.stdout!.on("data", () => {
      const m = /MCP \(HTTP\):\s+(http:\/\/[^\s]+)\/mcp/.exec(out);
      if (m) resolve({ url: m[1] });
    });
    proc.once("exit", (code) => resolve({ code }));
  });
  return { proc, out: () => out, err: () => err, outcome };
}

async function stop(p: ChildProcess): Promise<number | null> {
  if (p.exitCode !== null || p.signalCode !== null) return p.exitCode;
  const exited = once(p, "exit");
  p.kill("SIGTERM");
  const [code] = await exited;
  return code as number | null;
}

/** A pid no process has any more. */
function deadPid(): number {
  const pid = spawnSync(process.execPath, ["-e", ""]).pid!;
  assert.equal(isPidAlive(pid), false);
  return pid;
}

const lockOf = (home: string) => JSON.parse(readFileSync(homeLockPath(home), "utf8")) as { pid: number; start?: string };

/** Every `patchbay start` process whose PATCHBAY_HOME is `home` (Linux: read from /proc). */
function daemonsOn(home: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0");
      if (!cmd.includes(CLI) || !cmd.includes("start")) continue;
      if (readFileSync(`/proc/${name}/environ`, "utf8").split("\0").includes(`PATCHBAY_HOME=${home}`)) pids.push(Number(name));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}

async function twoStartsAtOnce(home: string) {
  const a = start(home);
  const b = start(home);
  const [ra, rb] = await Promise.all([a.outcome, b.outcome]);
  const running = [ra, rb].filter((r) => r.url);
  assert.equal(running.length, 1, `exactly one runs; a: ${JSON.stringify(ra)} ${a.err()}\nb: ${JSON.stringify(rb)} ${b.err()}`);
  const [winner, loser] = ra.url ? [a, b] : [b, a];
  const lost = ra.url ? rb : ra;
  assert.equal(lost.code, 1);
  const lines = loser.err().trim().split("\n");
  assert.equal(lines.length, 1, `one line: ${loser.err()}`);
  assert.match(lines[0], new RegExp(`^patchbay: a daemon is already running \\(pid ${winner.proc.pid}\\) (at http://127\\.0\\.0\\.1:\\d+|still starting \\(no URL yet\\)) for PATCHBAY_HOME `));
  assert.equal(loser.out(), "", "the loser printed no banner");
  assert.equal(lockOf(home).pid, winner.proc.pid);
  assert.equal(JSON.parse(readFileSync(`${home}/daemon.json`, "utf8")).pid, winner.proc.pid);
  return { winner, url: (running[0] as { url: string }).url };
}

test("two `patchbay start` at once on one home: exactly one runs, the other says where in one line and exits 1", async () => {
  const home = dir.join("home-two");
  const { winner, url } = await twoStartsAtOnce(home);
  // a third, once the first listens, names its URL
  const third = start(home);
  const r = await third.outcome;
  assert.equal(r.code, 1);
  assert.equal(third.err().trim(), `patchbay: a daemon is already running (pid ${winner.proc.pid}) at ${url} for PATCHBAY_HOME ${home}; stop it first, or use another PATCHBAY_HOME`);
  assert.equal(await stop(winner.proc), 0);
  assert.equal(existsSync(homeLockPath(home)), false, "SIGTERM removes the lock");
  assert.equal(existsSync(`${home}/daemon.json`), false);
});

test("a stale lock (dead pid) is taken over, also by two starters at once", async () => {
  const home = dir.join("home-stale");
  mkdirSync(home, { recursive: true });
  writeFileSync(homeLockPath(home), JSON.stringify({ pid: deadPid(), since: new Date().toISOString() }));
  const { winner } = await twoStartsAtOnce(home);
  assert.equal(await stop(winner.proc), 0);
});

test("a lock whose pid is alive but started at another time (a reused pid) is stale", { skip: process.platform !== "linux" && "start times come from /proc" }, async () => {
  const home = dir.join("home-reused");
  mkdirSync(home, { recursive: true });
  // our own pid: alive, but the lock says it started at another time
  const start0 = processStartTime(process.pid)!;
  writeFileSync(homeLockPath(home), JSON.stringify({ pid: process.pid, start: `${start0}0` }));
  const d = start(home);
  const r = await d.outcome;
  assert.ok(r.url, d.err());
  assert.equal(lockOf(home).pid, d.proc.pid);
  assert.equal(await stop(d.proc), 0);
  // and the same pid with its true start time holds the lock: in-process, tryLock says so
  const held = tryLock(dir.join("held.lock"));
  assert.equal(held.ok, true);
  const again = tryLock(dir.join("held.lock"));
  assert.deepEqual(again.ok ? "taken twice" : again.owner.pid, process.pid);
  if (held.ok) held.lock.release();
  assert.equal(existsSync(dir.join("held.lock")), false);
});

test("N cold `patchbay stdio` at once on an empty home: one daemon, every client answered", async () => {
  const N = 5;
  const home = dir.join("home-stdio-cold");
  const clients: RecordingClient[] = [];
  try {
    const connected = await Promise.allSettled(Array.from({ length: N }, () => stdioClient(["--plugins", plugins], { PATCHBAY_HOME: home, PATCHBAY_PORT: "0", PATCHBAY_LOG_LEVEL: "warn" })));
    for (const c of connected) if (c.status === "fulfilled") clients.push(c.value);
    assert.deepEqual(connected.map((c) => c.status), Array(N).fill("fulfilled"), String(connected.find((c) => c.status === "rejected")?.reason));
    const state = JSON.parse(readFileSync(`${home}/daemon.json`, "utf8"));
    strayPids.add(state.pid);
    const answers = await Promise.all(clients.map((c, i) => c.client.callTool({ name: "echo__say", arguments: { text: `client ${i}` } }, undefined, { timeout: 20_000 })));
    assert.deepEqual(answers.map(textOf), clients.map((_, i) => `said client ${i}`));
    // every bridge is a session of that one daemon, and no other daemon runs on the home
    const health = await (await fetch(`${state.url}/healthz`, { headers: state.token ? { authorization: `Bearer ${state.token}` } : {} })).json();
    assert.equal(health.pid, state.pid);
    assert.equal(health.sessions.open, N);
    assert.equal(lockOf(home).pid, state.pid);
    if (process.platform === "linux") {
      // daemons that lost the race exit at once; wait for them rather than for a clock
      await waitFor("only the winner left", () => (daemonsOn(home).length === 1 ? true : undefined));
      assert.deepEqual(daemonsOn(home), [state.pid]);
    }
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  }
});

test("`patchbay stdio` while another process holds the home waits for it instead of starting a daemon, and goes on once the holder is gone", async () => {
  const home = dir.join("home-stdio-held");
  mkdirSync(home, { recursive: true });
  // A live process that holds the home's lock but never listens: what a daemon that is still
  // starting looks like to a bridge. Its lock names its own pid and start time.
  const holder = spawn(process.execPath, ["-e", "setInterval(() => {}, 1e9)"], { stdio: "ignore" });
  procs.add(holder);
  await waitFor("the holder's start time", () => processStartTime(holder.pid!) ?? undefined);
  writeFileSync(homeLockPath(home), JSON.stringify({ pid: holder.pid, start: processStartTime(holder.pid!), since: new Date().toISOString() }));
  const connecting = stdioClient(["--plugins", plugins], { PATCHBAY_HOME: home, PATCHBAY_PORT: "0", PATCHBAY_LOG_LEVEL: "warn" });
  connecting.catch(() => undefined);
  // a negative window: a bridge that ignored the lock would have started its daemon by now
  // (a slow machine can only make this pass wrongly, never fail wrongly)
  await new Promise((r) => setTimeout(r, 2_000));
  if (process.platform === "linux") assert.deepEqual(daemonsOn(home), [], "no daemon started while another process held the home");
  assert.equal(existsSync(`${home}/daemon.json`), false);
  // the holder goes without cleaning up: its lock is stale now, and the waiting bridge starts one
  holder.kill("SIGKILL");
  await once(holder, "exit");
  const c = await connecting;
  try {
    assert.equal(textOf(await c.client.callTool({ name: "echo__say", arguments: { text: "x" } }, undefined, { timeout: 20_000 })), "said x");
    const state = JSON.parse(readFileSync(`${home}/daemon.json`, "utf8")) as { pid: number };
    strayPids.add(state.pid);
    if (process.platform === "linux") assert.deepEqual(daemonsOn(home), [state.pid]);
  } finally {
    await c.close();
  }
});
