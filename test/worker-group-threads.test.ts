/**
 * The threads of a worker group, driven through PluginWorker with real threads and no
 * daemon: versions of plugins share the group's thread; once the versions a thread has
 * left behind (their modules stay imported) reach the limit, the next load goes to a fresh
 * thread, and a thread ends when its last plugin has been stopped. A plugin that does not
 * let go of the thread (a loop) gets the thread ended.
 *
 * The threads run daemon/plugins/worker-entry.ts from source (tsx registered inside them).
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { pino } from "pino";
import { PluginWorker } from "../daemon/plugins/plugin-worker.ts";
import { WorkerGroup } from "../daemon/plugins/worker-group.ts";
import { TempDir, waitFor } from "./helpers/env.ts";

const dir = new TempDir("patchbay-group-threads-");
after(() => dir.cleanup());
const ENTRY = new URL("../daemon/plugins/worker-entry.ts", import.meta.url).href;
const BOOT = `import { register } from ${JSON.stringify(import.meta.resolve("tsx/esm/api"))}; register(); await import(${JSON.stringify(ENTRY)});`;
let spawned = 0;
const spawn = () => {
  spawned++;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(BOOT)}`), { stdout: true, stderr: true, workerData: { shared: true } });
};
const logger = pino({ level: "silent" });

let versions = 0;
/** A new version of a plugin (a bundle of its own, as each reload compiles). */
function version(name: string, body = ""): string {
  return dir.file(`${name}-${++versions}.mjs`, `import { threadId } from "node:worker_threads";
${body}
export default { name: ${JSON.stringify(name)}, tools: { thread: { handler: () => String(threadId) }, spin: { handler: () => { for (;;) {} } } } };
`);
}

function start(group: WorkerGroup, name: string, callTimeoutMs = 10_000): Promise<PluginWorker> {
  const file = version(name);
  const w = new PluginWorker({ file, bundlePath: file, defaultName: name, dataDir: dir.join(`data-${name}`), heapMb: 64, callTimeoutMs, logger, pool: group, group: group.name });
  return w.start().then(() => w);
}
const threadOf = async (w: PluginWorker) => ((await w.call({ kind: "tool", target: "thread", args: {} })).value as { content: { text: string }[] }).content[0].text;

test("versions share the thread until it has left enough behind; then a fresh thread takes the loads, and the old one ends with its last plugin", async () => {
  spawned = 0;
  const group = new WorkerGroup({ name: "g", heapMb: 64, logger, spawn, staleLoadsLimit: 2 });
  const other = await start(group, "other");
  let current = await start(group, "edited");
  const first = await threadOf(current);
  assert.equal(await threadOf(other), first, "both plugins in one thread");
  // two reloads of "edited": each leaves its old version's module behind in the thread
  for (let i = 0; i < 2; i++) {
    const next = await start(group, "edited");
    await current.stop(0);
    current = next;
    assert.equal(await threadOf(current), first, `reload ${i + 1} still joins the first thread`);
  }
  // the first thread has left 2 versions behind: the next load starts a fresh thread
  const next = await start(group, "edited");
  await current.stop(0);
  current = next;
  const second = await threadOf(current);
  assert.notEqual(second, first);
  assert.equal(spawned, 2);
  assert.equal(group.threadCount, 2, "the first thread still serves `other`");
  assert.equal(await threadOf(other), first);
  await other.stop(0);
  await waitFor("first thread ended", () => group.threadCount === 1 || undefined);
  await current.stop(0);
  await waitFor("second thread ended", () => group.threadCount === 0 || undefined);
  await group.close();
});

test("stopping a plugin whose thread is stuck ends the thread; the group's other plugin restarts in a fresh one", async () => {
  spawned = 0;
  const group = new WorkerGroup({ name: "g2", heapMb: 64, logger, spawn, detachTimeoutMs: 200 });
  const stuck = await start(group, "stuck");
  const bystander = await start(group, "bystander");
  const first = await threadOf(bystander);
  const restarted = new Promise((r) => bystander.once("restarted", r));
  void stuck.call({ kind: "tool", target: "spin", args: {} }).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 50));
  await stuck.stop(0);
  assert.deepEqual(await restarted, { reason: "worker exited with code 1", ok: true });
  const fresh = await threadOf(bystander);
  assert.notEqual(fresh, first);
  assert.equal(spawned, 2);
  await bystander.stop(0);
  await waitFor("threads ended", () => group.threadCount === 0 || undefined);
  await group.close();
});

test("a closed group refuses new plugins with WorkerGoneError", async () => {
  const group = new WorkerGroup({ name: "g3", heapMb: 64, logger, spawn });
  await group.close();
  await assert.rejects(start(group, "late"), /worker group g3 is closed/);
});
