/**
 * Child processes plugins start (daemon/plugins/host/child-processes.ts): they end when the
 * daemon stops on SIGTERM (one that ignores SIGTERM is killed after the grace), with their
 * whole process group when detached; when their plugin's thread ends on a reload; when
 * `stdio --standalone` reaches the end of its input. After `kill -9` of the daemon they live
 * on: that is the README's honest limit, held here so it stays honest.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { readFileSync, writeFileSync } from "node:fs";
import { CLI, TempDir, waitFor } from "./helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "./helpers/daemon.ts";
import { httpClient, stdioClient, type RecordingClient } from "./helpers/clients.ts";
import { isPidAlive } from "../daemon/state-file.ts";

const dir = new TempDir("patchbay-children-");
const plugins = dir.join("plugins");
// `stubborn` ignores SIGTERM; `leader` is detached and starts a grandchild of its own
const spawner = `import { spawn } from "node:child_process";
const node = process.execPath;
export default { tools: {
  stubborn: { handler: async () => {
    const c = spawn(node, ["-e", "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)"], { stdio: "ignore" });
    return { pids: [c.pid] };
  } },
  leader: { handler: async () => {
    const c = spawn(node, ["-e", "const g = require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }); console.log(g.pid); setInterval(() => {}, 1000)"], { detached: true, stdio: ["ignore", "pipe", "ignore"] });
    const line = await new Promise((r) => c.stdout.once("data", (d) => r(String(d).trim())));
    return { pids: [c.pid, Number(line)] };
  } },
} };
`;
dir.file("plugins/spawner.mjs", spawner);
const daemons = new Set<RunningDaemon>();
const pids = new Set<number>();

after(async () => {
  for (const d of daemons) await d.stop().catch(() => undefined);
  for (const pid of pids) if (isPidAlive(pid)) process.kill(pid, "SIGKILL");
  dir.cleanup();
});

async function spawnChildren(c: RecordingClient, tool: "stubborn" | "leader"): Promise<number[]> {
  const r: any = await c.client.callTool({ name: `spawner__${tool}`, arguments: {} }, undefined, { timeout: 20_000 });
  assert.notEqual(r.isError, true, JSON.stringify(r));
  const got = r.structuredContent?.pids ?? JSON.parse(r.content[0].text).pids;
  for (const pid of got) {
    pids.add(pid);
    assert.equal(isPidAlive(pid), true);
  }
  return got;
}

/**
 * Ended: no such process, or a zombie. A child whose plugin thread has ended is not reaped
 * until the daemon exits (only the libuv loop that spawned it waits for it), so on Linux a
 * killed one stays as a zombie until then; elsewhere the pid alone decides.
 */
function isGone(pid: number): boolean {
  if (!isPidAlive(pid)) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat[stat.lastIndexOf(")") + 2] === "Z";
  } catch {
    return process.platform === "linux";
  }
}
const allGone = (list: number[]) => waitFor(`children ${list.join(", ")} gone`, () => (list.every(isGone) ? true : undefined));

test("SIGTERM of the daemon ends the children plugins started: one that ignores SIGTERM, and a detached one with its grandchild", async () => {
  const d = await startDaemonProcess({ plugins });
  daemons.add(d);
  const c = await httpClient(d.url);
  const started = [...(await spawnChildren(c, "stubborn")), ...(await spawnChildren(c, "leader"))];
  await c.close();
  assert.equal(await d.stop(), 0);
  await allGone(started);
});

test("a plugin's reload ends the children its old thread started", async () => {
  const d = await startDaemonProcess({ plugins });
  daemons.add(d);
  const c = await httpClient(d.url);
  try {
    const started = await spawnChildren(c, "leader");
    // a change esbuild keeps (a comment alone leaves the bundle as it was: no reload)
    writeFileSync(`${plugins}/spawner.mjs`, `${spawner}export const saved = 2;\n`);
    await allGone(started);
  } finally {
    await c.close();
    await d.stop();
  }
});

test("stdio --standalone: the end of input ends the children its plugins started", async () => {
  const c = await stdioClient(["--standalone", "--plugins", plugins], { PATCHBAY_HOME: dir.join("home-stdio"), PATCHBAY_LOG_LEVEL: "warn" });
  const started = await spawnChildren(c, "stubborn");
  await c.close();
  await allGone(started);
});

test("stdio --standalone: SIGTERM (as a client stopping its server sends) ends the children its plugins started", { skip: process.platform === "win32" && "POSIX signals" }, async () => {
  const proc = spawn(process.execPath, [CLI, "stdio", "--standalone", "--plugins", plugins], { env: { ...process.env, PATCHBAY_HOME: dir.join("home-stdio-term"), PATCHBAY_LOG_LEVEL: "warn" }, stdio: ["pipe", "pipe", "ignore"] });
  const got: any[] = [];
  createInterface({ input: proc.stdout! }).on("line", (line) => got.push(JSON.parse(line)));
  const ask = (m: { id: number }) => {
    proc.stdin!.write(JSON.stringify({ jsonrpc: "2.0", ...m }) + "\n");
    return waitFor(`answer ${m.id}`, () => got.find((a) => a.id === m.id));
  };
  await ask({ id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "children", version: "1" } } } as { id: number });
  const r = await ask({ id: 2, method: "tools/call", params: { name: "spawner__stubborn", arguments: {} } } as { id: number });
  const started: number[] = r.result.structuredContent?.pids ?? JSON.parse(r.result.content[0].text).pids;
  for (const pid of started) pids.add(pid);
  assert.equal(started.some(isGone), false);
  const exited = once(proc, "exit");
  proc.kill("SIGTERM"); // stdin stays open: only the signal ends it
  await exited;
  await allGone(started);
});

test("kill -9 of the daemon: the children live on (README says so; nothing in Node can prevent it)", { skip: process.platform === "win32" && "POSIX signals" }, async () => {
  const d = await startDaemonProcess({ plugins });
  const c = await httpClient(d.url);
  const started = await spawnChildren(c, "stubborn");
  await c.close().catch(() => undefined);
  const gone = once(d.proc, "exit");
  d.proc.kill("SIGKILL");
  await gone;
  await d.stop(); // removes its home
  assert.equal(started.some(isGone), false);
  for (const pid of started) process.kill(pid, "SIGKILL");
});
