/**
 * PluginWorker's phases when two things happen at once (the ordering decisions listed in
 * daemon/plugins/host/worker-phase.ts): a stop while the thread loads, wakes, restarts,
 * parks or is probed; a call while it parks or restarts; a stuck suspicion or an exit while
 * it parks.
 * Driven through PluginWorker with real threads and no daemon, so each overlap is forced
 * rather than hoped for. Every thread the workers take is counted: when a stop resolves,
 * none of that version's threads may be left running. No test may log an illegal phase
 * transition.
 *
 * The threads run daemon/plugins/thread/worker-entry.ts from source (tsx registered inside
 * them), so these need no build.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { pino } from "pino";
import { PluginWorker, type PluginWorkerOptions } from "../daemon/plugins/host/plugin-worker.ts";
import type { WorkerPool } from "../daemon/plugins/host/worker-pool.ts";
import { TempDir, waitFor } from "./helpers/env.ts";

const dir = new TempDir("patchbay-phases-");
const ENTRY = new URL("../daemon/plugins/thread/worker-entry.ts", import.meta.url).href;
const BOOT = `import { register } from ${JSON.stringify(import.meta.resolve("tsx/esm/api"))}; register(); await import(${JSON.stringify(ENTRY)});`;

/** every thread handed out, per worker (a thread has ended once its threadId is -1) */
const threads = new Map<PluginWorker, Worker[]>();
function poolFor(owner: () => PluginWorker): WorkerPool {
  return {
    take: async () => {
      const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(BOOT)}`), { stdout: true, stderr: true });
      threads.get(owner())?.push(worker);
      return { worker, release: () => undefined };
    },
  } as unknown as WorkerPool;
}
const liveThreads = (w: PluginWorker) => (threads.get(w) ?? []).filter((t) => t.threadId !== -1).length;

const logs: { msg: string; level: number }[] = [];
const logger = pino({ level: "debug" }, { write: (line: string) => void logs.push(JSON.parse(line)) });
const illegal = () => logs.filter((l) => /illegal phase transition/.test(l.msg));

/** the phase's name, which the public `state` folds into three */
const phaseOf = (w: PluginWorker) => (w as unknown as { phase: { name: string } }).phase.name;

let n = 0;
function worker(source: string, opts: Partial<PluginWorkerOptions> = {}): PluginWorker {
  const file = dir.file(`p${++n}.mjs`, source);
  const w: PluginWorker = new PluginWorker({ file, bundlePath: file, defaultName: `p${n}`, dataDir: dir.join(`data${n}`), heapMb: 64, callTimeoutMs: 10_000, logger, pool: poolFor(() => w), idleMs: 0, ...opts });
  threads.set(w, []);
  return w;
}
const call = (w: PluginWorker, target: string, opts: Parameters<PluginWorker["call"]>[1] = {}) => w.call({ kind: "tool", target, args: {} }, opts);
const text = (o: { value: unknown }) => JSON.stringify(o.value);

/** A plugin whose teardown takes a while (and is counted), so a park can be caught while it runs. */
function slowTeardown(): { source: string; teardowns: () => number } {
  const log = dir.join(`teardowns-${n + 1}.log`);
  return {
    source: `import { appendFileSync } from "node:fs";
export default {
  teardown: async () => { appendFileSync(${JSON.stringify(log)}, "t\\n"); await new Promise((r) => setTimeout(r, 400)); },
  tools: { which: { handler: () => "answered" } },
};
`,
    teardowns: () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean).length : 0),
  };
}

/** `spin` holds its thread in a sync loop for `ms`, after writing `began` (a loop no ping or park gets through). */
function spinner(ms: number) {
  const began = dir.join(`began-${n + 1}`);
  return {
    began,
    source: `import { writeFileSync } from "node:fs";
export default {
  tools: {
    spin: { handler: () => { writeFileSync(${JSON.stringify(began)}, ""); const end = Date.now() + ${ms}; while (Date.now() < end); return "spun"; } },
    which: { handler: () => "answered" },
    exit: { handler: () => { process.exit(3); } },
  },
};
`,
  };
}

after(async () => {
  await Promise.all([...threads.keys()].map((w) => w.stop(0)));
  dir.cleanup();
  assert.deepEqual(illegal(), [], "no phase transition outside the table");
});

test("a stop while the plugin loads ends the loaded thread unused; start still reports the manifest", async () => {
  const w = worker(`export default { tools: { which: { handler: () => "answered" } } };\n`);
  const started = w.start();
  const stopped = w.stop(1_000);
  assert.equal(w.state, "stopped");
  assert.equal((await started).tools.length, 1);
  await stopped;
  assert.equal(liveThreads(w), 0, "the thread the load brought is ended before the stop resolves");
  await assert.rejects(call(w, "which"), /not running/);
});

test("a stop while a call wakes a parked plugin ends the booting thread; the call fails with the stop's error", async () => {
  const w = worker(`export default { tools: { which: { handler: () => "answered" } } };\n`, { idleMs: 50 });
  w.startParked({ name: "p", tools: [], resources: [], resourceTemplates: [], prompts: [] } as never);
  let woken = false;
  w.on("woken", () => (woken = true));
  const pending = call(w, "which");
  assert.equal(phaseOf(w), "waking");
  const stopped = w.stop(1_000, new Error("daemon closing"));
  await assert.rejects(pending, /daemon closing/);
  await stopped;
  assert.equal(liveThreads(w), 0);
  assert.equal(woken, false);
  assert.equal(w.wakes, 0);
  assert.equal(phaseOf(w), "stopped");
});

test("a stop while the thread restarts after a crash waits for the restart's boot and ends its thread", async () => {
  const { source } = spinner(0);
  const w = worker(source);
  await w.start();
  const restarted: unknown[] = [];
  w.on("restarted", (info) => restarted.push(info));
  await assert.rejects(call(w, "exit"), /restarted|exited/);
  assert.equal(phaseOf(w), "restarting");
  await w.stop(1_000);
  assert.equal(liveThreads(w), 0, "no thread of the stopped version is left booting");
  assert.deepEqual(restarted, [], "a version being stopped is not reported restarted");
  assert.equal(phaseOf(w), "stopped");
});

test("a call while the thread restarts waits for the fresh thread and is answered there", async () => {
  const { source } = spinner(0);
  const w = worker(source);
  await w.start();
  const restarted = new Promise((r) => w.once("restarted", r));
  await assert.rejects(call(w, "exit"), /restarted|exited/);
  assert.equal(phaseOf(w), "restarting");
  assert.match(text(await call(w, "which")), /answered/);
  assert.deepEqual(await restarted, { reason: "worker exited with code 3", ok: true });
  await w.stop(1_000);
  assert.equal(liveThreads(w), 0);
});

test("a call while the plugin parks waits for the park, then wakes it; teardown runs once per park", async () => {
  const { source, teardowns } = slowTeardown();
  const w = worker(source, { idleMs: 50 });
  await w.start();
  await waitFor("parking", () => phaseOf(w) === "parking" || undefined);
  assert.match(text(await call(w, "which")), /answered/);
  assert.equal(w.parks, 1);
  assert.equal(w.wakes, 1);
  assert.equal(teardowns(), 1);
  await w.stop(1_000);
  assert.equal(teardowns(), 2, "the woken thread is torn down by the stop");
  assert.equal(liveThreads(w), 0);
});

test("a stop while the plugin parks lets the park finish and does not run teardown twice", async () => {
  const { source, teardowns } = slowTeardown();
  const w = worker(source, { idleMs: 50 });
  let parked = 0;
  w.on("parked", () => parked++);
  await w.start();
  await waitFor("parking", () => phaseOf(w) === "parking" || undefined);
  await w.stop(1_000);
  assert.equal(teardowns(), 1);
  assert.equal(parked, 1);
  assert.equal(w.state, "stopped");
  assert.equal(liveThreads(w), 0);
});

test("a stuck suspicion while the plugin parks is dropped: it ends parked, not restarted", async () => {
  // A cancelled call whose handler spins for 1.5 s: its deadline (200 ms) passes while the
  // park waits for the thread, which answers the park once the loop ends. A probe started
  // then would have failed and restarted the plugin.
  const { source, began } = spinner(1_500);
  const w = worker(source, { idleMs: 50 });
  await w.start();
  const restarted: unknown[] = [];
  w.on("restarted", (info) => restarted.push(info));
  const abort = new AbortController();
  const spinning = call(w, "spin", { signal: abort.signal, timeoutMs: 200 });
  await waitFor("the loop", () => existsSync(began) || undefined);
  abort.abort();
  await assert.rejects(spinning, /cancelled/);
  await waitFor("parking", () => phaseOf(w) === "parking" || undefined);
  await waitFor("parked", () => w.state === "parked" || undefined);
  assert.deepEqual(restarted, []);
  assert.equal(w.parks, 1);
  assert.match(text(await call(w, "which")), /answered/);
  await w.stop(1_000);
  assert.equal(liveThreads(w), 0);
});

test("a thread that exits while it parks is parked, not restarted (nothing was in flight)", async () => {
  const w = worker(`export default { teardown: () => { process.exit(0); }, tools: { which: { handler: () => "answered" } } };\n`, { idleMs: 50 });
  const restarted: unknown[] = [];
  w.on("restarted", (info) => restarted.push(info));
  await w.start();
  await new Promise<void>((r) => w.once("parked", () => r()));
  assert.equal(w.state, "parked");
  assert.deepEqual(restarted, []);
  assert.match(text(await call(w, "which")), /answered/);
  assert.equal(w.wakes, 1);
  await w.stop(1_000);
  assert.equal(liveThreads(w), 0);
});

test("a stop while a timed-out call's thread is probed does not restart it, and ends the stuck thread", async () => {
  const { source } = spinner(3_000);
  const w = worker(source);
  await w.start();
  const restarted: unknown[] = [];
  w.on("restarted", (info) => restarted.push(info));
  await assert.rejects(call(w, "spin", { timeoutMs: 200 }), /did not answer/);
  const probing = (w as unknown as { phase: { name: string; done: Promise<void> } }).phase;
  assert.equal(probing.name, "probing");
  await w.stop(300);
  assert.equal(liveThreads(w), 0);
  // the probe (1 s) ends after the stop; its verdict must not restart a stopped version
  await probing.done;
  assert.deepEqual(restarted, []);
  assert.equal(phaseOf(w), "stopped");
});

test("an illegal transition is logged as a bug and taken, never thrown", () => {
  const w = worker(`export default { tools: {} };\n`);
  const before = logs.length;
  (w as unknown as { transition(p: { name: string }): void }).transition({ name: "stopped" });
  const logged = logs.slice(before).filter((l) => /illegal phase transition/.test(l.msg));
  assert.equal(logged.length, 1);
  assert.equal(logged[0].level, 50);
  assert.equal(w.state, "stopped");
  logs.splice(before);
});
