/**
 * The threads of a worker group, driven through PluginWorker with real threads and no
 * daemon: versions of plugins share the group's thread; once the versions a thread has
 * left behind (their modules stay imported) reach the limit, the next load goes to a fresh
 * thread, and a thread ends when its last plugin has been stopped. A plugin found stuck
 * gets the thread ended; a long synchronous call does not. A load the thread's crash
 * interrupted is tried again, and every load evaluates its bundle afresh.
 *
 * The threads run daemon/plugins/thread/worker-entry.ts from source (tsx registered inside them).
 *
 * No outcome here may depend on how fast the machine is: a deadline under test is met by
 * code that never ends and is several seconds long for everything else (a plugin's call
 * timeout is also its load deadline, restarts included); the tests wait on what the plugins
 * say (a file they write) rather than on a sleep.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { Worker, type MessagePort } from "node:worker_threads";
import { EventEmitter } from "node:events";
import { existsSync } from "node:fs";
import { pino } from "pino";
import { PluginWorker } from "../daemon/plugins/host/plugin-worker.ts";
import { WorkerGroup } from "../daemon/plugins/host/worker-group.ts";
import { TempDir, waitFor } from "./helpers/env.ts";

const dir = new TempDir("patchbay-group-threads-");
after(() => dir.cleanup());
const ENTRY = new URL("../daemon/plugins/thread/worker-entry.ts", import.meta.url).href;
const BOOT = `import { register } from ${JSON.stringify(import.meta.resolve("tsx/esm/api"))}; register(); await import(${JSON.stringify(ENTRY)});`;
let spawned = 0;
const spawn = () => {
  spawned++;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(BOOT)}`), { stdout: true, stderr: true, workerData: { shared: true } });
};
const logger = pino({ level: "silent" });

/** The worker of a plugin in `group` whose bundle is `file` (these tests skip the compiler). */
const worker = (group: WorkerGroup, name: string, file: string, callTimeoutMs = 30_000) =>
  new PluginWorker({ file, bundlePath: file, defaultName: name, dataDir: dir.join(`data-${name}`), heapMb: 64, callTimeoutMs, logger, pool: group, group: group.name });

let versions = 0;
/** A new version of a plugin with code `body` (a bundle of its own, as each reload compiles), not yet started. */
const member = (group: WorkerGroup, name: string, body: string, callTimeoutMs = 30_000) => worker(group, name, dir.file(`${name}-${++versions}.mjs`, body), callTimeoutMs);

/** Tools that tell their thread and loop forever. */
const PROBE = `import { threadId } from "node:worker_threads";
export default { tools: { thread: { handler: () => String(threadId) }, spin: { handler: () => { for (;;) {} } } } };
`;
/** Tools that count calls and tell their thread. */
const COUNTER = `import { threadId } from "node:worker_threads";
let n = 0;
export default { tools: { next: { handler: () => String(++n) }, thread: { handler: () => String(threadId) } } };
`;

/** A new version of a PROBE plugin, started. */
async function start(group: WorkerGroup, name: string, callTimeoutMs = 30_000): Promise<PluginWorker> {
  const w = member(group, name, PROBE, callTimeoutMs);
  await w.start();
  return w;
}
const textOf = async (w: PluginWorker, target: string) => ((await w.call({ kind: "tool", target, args: {} })).value as { content: { text: string }[] }).content[0].text;
const threadOf = (w: PluginWorker) => textOf(w, "thread");
/** Calls a `crash` tool, which answers and ends the thread right after: the answer still arrives. */
const crashThread = async (w: PluginWorker) => assert.equal(await textOf(w, "crash"), "bye");

test("versions share the thread until it has left enough behind; then a fresh thread takes the loads, and the old one ends with its last plugin", async () => {
  spawned = 0;
  const group = new WorkerGroup({ name: "g", heapMb: 64, patienceMs: 5_000, logger, spawn, staleLoadsLimit: 2 });
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

test("a plugin found stuck after a call timeout ends the thread; the group's other plugin restarts in a fresh one", async () => {
  spawned = 0;
  const group = new WorkerGroup({ name: "g2", heapMb: 64, patienceMs: 5_000, logger, spawn });
  // `spin` never ends, so it cannot meet any deadline; the deadline is also the stuck
  // plugin's load deadline when it restarts, so it must be one a load meets on a busy machine.
  // The bystander loads first: a group's first load also waits for its thread to boot (as
  // the restart's first load does: hence 10 s).
  const bystander = await start(group, "bystander");
  const stuck = await start(group, "stuck", 10_000);
  const first = await threadOf(bystander);
  const restarted = new Promise((r) => bystander.once("restarted", r));
  await assert.rejects(stuck.call({ kind: "tool", target: "spin", args: {} }), /did not answer within 10000 ms/);
  assert.deepEqual(await restarted, { reason: "worker exited with code 1", ok: true });
  const fresh = await threadOf(bystander);
  assert.notEqual(fresh, first);
  assert.equal(await threadOf(stuck), fresh, "the stuck plugin restarted into the fresh thread too");
  assert.equal(spawned, 2);
  await Promise.all([stuck.stop(0), bystander.stop(0)]);
  await waitFor("threads ended", () => group.threadCount === 0 || undefined);
  await group.close();
});

test("stopping a plugin while another runs a long synchronous call costs the busy one nothing", async () => {
  const group = new WorkerGroup({ name: "g4", heapMb: 64, patienceMs: 5_000, logger, spawn });
  // the call holds the thread synchronously from when it says so until the test lets it go
  // (bounded, so that a failing test cannot leave the thread spinning)
  const started = dir.join("busy-started");
  const release = dir.join("busy-release");
  const busy = member(group, "busy", `import { writeFileSync, existsSync } from "node:fs";
export default { tools: { work: { handler: () => {
  writeFileSync(${JSON.stringify(started)}, "");
  const bail = Date.now() + 60_000;
  while (!existsSync(${JSON.stringify(release)}) && Date.now() < bail);
  return "done";
} } } };
`);
  await busy.start();
  const other = await start(group, "other");
  let restarts = 0;
  busy.on("restarted", () => restarts++);
  const work = busy.call({ kind: "tool", target: "work", args: {} });
  await waitFor("the long call running", () => existsSync(started) || undefined, 30_000);
  // its teardown gets no time: the thread, busy, cannot answer now, and must not be ended for it
  await other.stop(0);
  dir.file("busy-release", "");
  assert.equal(((await work).value as { content: { text: string }[] }).content[0].text, "done");
  assert.equal(restarts, 0);
  await busy.stop(0);
  await group.close();
});

test("a load tried again in the same thread (a failed load, an edit undone) evaluates the bundle afresh", async () => {
  const group = new WorkerGroup({ name: "g5", heapMb: 64, patienceMs: 5_000, logger, spawn });
  const keep = await start(group, "keep");
  const flag = dir.join("flag.json");
  const bundle = dir.file(`cfg-${++versions}.mjs`, `import { readFileSync } from "node:fs";
const cfg = JSON.parse(readFileSync(${JSON.stringify(flag)}, "utf8"));
let calls = 0;
let open = true;
export default { teardown() { open = false; }, tools: { n: { handler: () => (open ? "open " : "closed ") + (++calls) + " " + cfg.v } } };
`);
  const make = () => worker(group, "cfg", bundle);
  const n = (w: PluginWorker) => textOf(w, "n");
  const failed = make();
  await assert.rejects(failed.start(), /ENOENT/, "the file its top level reads is missing");
  await failed.stop(0);
  dir.file("flag.json", JSON.stringify({ v: "fixed" }));
  const fixed = make();
  await fixed.start();
  assert.equal(await n(fixed), "open 1 fixed", "the same bundle, loaded again, sees the fix");
  await fixed.stop(0);
  const again = make();
  await again.start();
  assert.equal(await n(again), "open 1 fixed", "a fresh module, not the torn-down one");
  await Promise.all([again.stop(0), keep.stop(0)]);
  await group.close();
});

test("a member whose load the thread's crash interrupted loads again; the one crashing it is restarted", async () => {
  const group = new WorkerGroup({ name: "g6", heapMb: 64, patienceMs: 5_000, logger, spawn });
  const counter = dir.join("loads");
  const crasher = member(group, "crasher", `import { readFileSync, writeFileSync, existsSync } from "node:fs";
export default {
  setup() {
    const n = existsSync(${JSON.stringify(counter)}) ? Number(readFileSync(${JSON.stringify(counter)}, "utf8")) : 0;
    writeFileSync(${JSON.stringify(counter)}, String(n + 1));
    if (n === 1) setTimeout(() => process.exit(9), 50);
  },
  tools: { crash: { handler: () => { setTimeout(() => process.exit(3), 0); return "bye"; } } },
};
`);
  const slow = member(group, "slow", `import { threadId } from "node:worker_threads";
export default { async setup() { await new Promise((r) => setTimeout(r, 300)); }, tools: { thread: { handler: () => String(threadId) } } };
`);
  await crasher.start();
  await slow.start();
  const events: unknown[] = [];
  slow.on("restarted", (e) => events.push(e));
  // the crash restarts both; the crasher's next load crashes the thread again 50 ms in,
  // while slow is still in its 300 ms setup
  await crashThread(crasher);
  await waitFor("slow restarted", () => events.length > 0 || undefined);
  assert.deepEqual(events, [{ reason: "worker exited with code 3", ok: true }]);
  assert.match(await threadOf(slow), /^\d+$/);
  await Promise.all([crasher.stop(0), slow.stop(0)]);
  await group.close();
});

test("a closed group refuses new plugins with WorkerGoneError", async () => {
  const group = new WorkerGroup({ name: "g3", heapMb: 64, patienceMs: 5_000, logger, spawn });
  await group.close();
  await assert.rejects(start(group, "late"), /worker group g3 is closed/);
});

test("new versions that crash the thread at import, again and again: the running members come back each time and never reach the restart limit", async () => {
  const group = new WorkerGroup({ name: "g7", heapMb: 64, patienceMs: 5_000, logger, spawn });
  const steady = member(group, "steady", COUNTER);
  await steady.start();
  const events: { ok: boolean }[] = [];
  steady.on("restarted", (e) => events.push(e));
  for (let i = 0; i < 7; i++) {
    const bad = member(group, "bad", `process.exit(7);\nexport default { tools: {} };\n`);
    await assert.rejects(bad.start(), /exited with code 7 while loading/);
    await bad.stop(0);
    await waitFor(`steady back after bad save ${i + 1}`, async () => /^\d+$/.test(await textOf(steady, "thread").catch(() => "")) || undefined);
  }
  assert.ok(events.length >= 7, `steady restarted with each crash (${events.length})`);
  assert.ok(events.every((e) => e.ok), "and never gave up: crashes under another plugin's load do not count");
  assert.equal(steady.state, "running");
  await steady.stop(0);
  await group.close();
});

test("a load that only hangs fails on its own: the thread and the running members are left alone", async () => {
  const group = new WorkerGroup({ name: "g8", heapMb: 64, patienceMs: 5_000, logger, spawn });
  const steady = member(group, "steady", COUNTER);
  await steady.start();
  assert.equal(await textOf(steady, "next"), "1");
  const thread = await textOf(steady, "thread");
  const hang = member(group, "hang", `await new Promise(() => {});\nexport default { tools: {} };\n`, 500);
  await assert.rejects(hang.start(), /loading took longer than 500 ms/);
  await hang.stop(0);
  assert.equal(await textOf(steady, "next"), "2", "steady kept its state");
  assert.equal(await textOf(steady, "thread"), thread);
  const later = member(group, "later", COUNTER);
  await later.start();
  assert.equal(await textOf(later, "thread"), thread, "a later load is not held up by the hung one");
  await later.stop(0);
  await steady.stop(0);
  await group.close();
});

test("loads that wait behind each other in the shared thread get their time from when they begin", async () => {
  const group = new WorkerGroup({ name: "g9", heapMb: 64, patienceMs: 5_000, logger, spawn });
  // each import busies the thread for 800 ms (wall clock), a load's deadline is 3 s (2.2 s
  // to spare for the load itself on a busy machine); eight of them take longer than two
  // deadlines, and a busier machine only makes the wait longer
  const slow = `const end = Date.now() + 800; while (Date.now() < end);\n${COUNTER}`;
  // the thread boots (under the first load's deadline) before the timed loads come
  const first = member(group, "first", COUNTER);
  await first.start();
  const workers = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => member(group, `slow${i}`, slow, 3_000));
  await Promise.all(workers.map((w) => w.start()));
  for (const w of workers) assert.equal(await textOf(w, "next"), "1");
  await Promise.all([first, ...workers].map((w) => w.stop(0)));
  await group.close();
});

test("a replaced version whose teardown loops: the thread is ended once it stops answering, and the others restart", async () => {
  const group = new WorkerGroup({ name: "g10", heapMb: 64, patienceMs: 500, logger, spawn });
  const steady = member(group, "steady", COUNTER);
  const looper = member(group, "looper", `export default { teardown() { for (;;) {} }, tools: { t: { handler: () => "t" } } };\n`);
  await steady.start();
  await looper.start();
  const thread = await textOf(steady, "thread");
  const restarted = new Promise((r) => steady.once("restarted", r));
  // the teardown never ends, so it cannot meet its deadline; 2 s (teardown's most) so that
  // the teardown has surely begun before the thread is asked whether it still answers
  await looper.stop(2_000);
  assert.deepEqual(await restarted, { reason: "worker exited with code 1", ok: true });
  assert.notEqual(await textOf(steady, "thread"), thread);
  await steady.stop(0);
  await group.close();
});

test("a draining version's calls fail as soon as the shared thread dies, not at the end of the drain", async () => {
  const group = new WorkerGroup({ name: "g11", heapMb: 64, patienceMs: 5_000, logger, spawn });
  // the call never ends and the drain lasts 10 minutes: only the thread's end can settle them
  const began = dir.join("old-call-began");
  const old = member(group, "old", `import { writeFileSync } from "node:fs";
export default { tools: { slow: { handler: () => { writeFileSync(${JSON.stringify(began)}, ""); return new Promise(() => {}); } } } };
`, 600_000);
  const crasher = member(group, "crasher", `export default { tools: { crash: { handler: () => { setTimeout(() => process.exit(3), 0); return "bye"; } } } };\n`);
  await old.start();
  await crasher.start();
  const inflight = old.call({ kind: "tool", target: "slow", args: {} });
  await waitFor("the call running", () => existsSync(began) || undefined, 30_000);
  const stopped = old.stop(600_000);
  await crashThread(crasher);
  await assert.rejects(inflight, /worker exited with code 3/);
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<string>((r) => (timer = setTimeout(() => r("still draining after 60 s"), 60_000)));
  assert.equal(await Promise.race([stopped.then(() => "stopped"), bound]), "stopped", "the drain ended with the thread");
  clearTimeout(timer);
  await crasher.stop(0);
  await group.close();
});

test("a load that throws what cannot be sent fails with a readable error, and later loads in the thread still run", async () => {
  const group = new WorkerGroup({ name: "g12", heapMb: 64, patienceMs: 5_000, logger, spawn });
  const keep = member(group, "keep", COUNTER);
  await keep.start();
  const odd = member(group, "odd", `export default { setup() { throw 1n; }, tools: {} };\n`);
  await assert.rejects(odd.start(), /threw a value that cannot be shown \(bigint\)/);
  await odd.stop(0);
  const later = member(group, "later", COUNTER);
  await later.start();
  assert.equal(await textOf(later, "thread"), await textOf(keep, "thread"));
  await Promise.all([keep.stop(0), later.stop(0)]);
  await group.close();
});

test("what a running member sent just before the shared thread ended reaches it before the end (an answer, then process.exit)", async () => {
  // A stand-in thread, so that the end comes at a chosen point: right after the member's
  // port was given an answer, before that answer could be delivered.
  let port: MessagePort | undefined;
  const thread = Object.assign(new EventEmitter(), {
    stdout: null,
    stderr: null,
    postMessage(msg: { type: string; port?: MessagePort }) {
      if (msg.type === "attach") port = msg.port;
    },
    terminate: async () => 1,
  });
  const group = new WorkerGroup({ name: "g13", heapMb: 64, patienceMs: 5_000, logger, spawn: () => thread as unknown as Worker });
  const { worker, release } = await group.take();
  release();
  const seen: string[] = [];
  worker.on("message", (m: { type: string }) => seen.push(m.type));
  worker.on("exit", (code: number) => seen.push(`exit ${code}`));
  port!.postMessage({ type: "loaded" });
  await waitFor("the member loaded", () => seen.includes("loaded") || undefined);
  port!.postMessage({ type: "result", id: 1, ok: true, value: "bye" });
  thread.emit("exit", 3);
  // nothing is waited for: the end has been handled, and the answer must already be in
  assert.deepEqual(seen, ["loaded", "result", "exit 3"]);
  await group.close();
});
