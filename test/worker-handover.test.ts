/**
 * A call that reaches a plugin version after a reload swapped it out runs on the version
 * that replaced it (issue 21, item 1), driven through PluginWorker with real threads and no
 * daemon, so the interleaving is forced rather than hoped for: the calls wait for a parked
 * version to wake, and the version is retired while they wait.
 *
 * The threads run daemon/plugins/thread/worker-entry.ts from source (tsx registered inside them),
 * so these need no build.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import { pino } from "pino";
import { PluginWorker } from "../daemon/plugins/host/plugin-worker.ts";
import type { WorkerPool } from "../daemon/plugins/host/worker-pool.ts";
import { TempDir, waitFor } from "./helpers/env.ts";

const dir = new TempDir("patchbay-handover-");
const ENTRY = new URL("../daemon/plugins/thread/worker-entry.ts", import.meta.url).href;
const BOOT = `import { register } from ${JSON.stringify(import.meta.resolve("tsx/esm/api"))}; register(); await import(${JSON.stringify(ENTRY)});`;
const sourcePool = { take: async () => ({ worker: new Worker(new URL(`data:text/javascript,${encodeURIComponent(BOOT)}`), { stdout: true, stderr: true }), release: () => undefined }) } as unknown as WorkerPool;

const workers: PluginWorker[] = [];
function version(n: number, opts: { idleMs?: number } = {}) {
  const file = dir.file(`v${n}.mjs`, `export default { name: "p", tools: { which: { handler: () => "v${n}" } } };\n`);
  const w = new PluginWorker({ file, bundlePath: file, defaultName: "p", dataDir: dir.join("data"), heapMb: 64, callTimeoutMs: 10_000, logger: pino({ level: "silent" }), pool: sourcePool, idleMs: opts.idleMs ?? 0, firstIdleMs: opts.idleMs });
  workers.push(w);
  return w;
}
const text = (o: { value: unknown }) => JSON.stringify(o.value);

after(async () => {
  await Promise.all(workers.map((w) => w.stop(0)));
  dir.cleanup();
});

test("calls waiting for a parked version to wake run on its successor when it is retired meanwhile", async () => {
  const old = version(1, { idleMs: 50 });
  await old.start();
  await waitFor("v1 parked", () => old.state === "parked" || undefined);
  const next = version(2);
  await next.start();
  // eight calls routed to v1 before the swap: each waits for v1's thread to boot again
  const calls = Array.from({ length: 8 }, () => old.call({ kind: "tool", target: "which", args: {} }));
  assert.equal(old.inUse, true, "a version with calls waiting to wake it is in use");
  const retired = old.retire(next, 5_000);
  const results = await Promise.all(calls);
  for (const r of results) assert.match(text(r), /v2/);
  await retired;
  assert.equal(old.state, "stopped");
});

test("calls already sent to the old version finish there; a call arriving after retire goes to the successor", async () => {
  const file = dir.file("slow.mjs", `export default { name: "p", tools: { slow: { handler: async () => { await new Promise((r) => setTimeout(r, 300)); return "old-slow"; } }, which: { handler: () => "old" } } };\n`);
  const old = new PluginWorker({ file, bundlePath: file, defaultName: "p", dataDir: dir.join("data"), heapMb: 64, callTimeoutMs: 10_000, logger: pino({ level: "silent" }), pool: sourcePool });
  workers.push(old);
  await old.start();
  const next = version(3);
  await next.start();
  const inFlight = old.call({ kind: "tool", target: "slow", args: {} });
  await new Promise((r) => setTimeout(r, 50));
  const retired = old.retire(next, 5_000);
  const late = old.call({ kind: "tool", target: "which", args: {} });
  assert.match(text(await inFlight), /old-slow/);
  assert.match(text(await late), /v3/);
  await retired;
});

test("without a successor (an unload, a shutdown) a late call still fails", async () => {
  const w = version(4);
  await w.start();
  const stopped = w.stop(1_000);
  await assert.rejects(w.call({ kind: "tool", target: "which", args: {} }), /not running/);
  await stopped;
});
