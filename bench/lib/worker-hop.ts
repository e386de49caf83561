/**
 * The floor the worker hop puts under every Patchbay call: a bare `worker_threads` round trip
 * (one small message to a thread that echoes it back), sequential, nothing else. Patchbay
 * makes one such round trip per call to keep each plugin in its own thread.
 *
 * Two more ways across, for what they show: the same round trip over a SharedArrayBuffer with
 * the thread asleep in `Atomics.wait` (a wake-up without the message machinery), and with
 * both threads spinning on it (no wake-up at all). Their difference is what waking a
 * sleeping thread costs on this machine; only spinning avoids it, by keeping a core busy.
 */
import { Worker } from "node:worker_threads";

export type HopMode = "message" | "atomics-wait" | "spin";

export interface HopResult {
  p50: number;
  p99: number;
  perSec: number;
}

// Node 20 has it; the project's TypeScript lib (es2022) does not declare it yet
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: unknown } }).waitAsync;

const ECHO_BY_MESSAGE = `require("node:worker_threads").parentPort.on("message", (m) => require("node:worker_threads").parentPort.postMessage(m));`;

// cell 0: requests posted, cell 1: answers given, cell 2: stop
const ECHO_BY_MEMORY = (spin: boolean) => `
const { workerData } = require("node:worker_threads");
const cells = new Int32Array(workerData);
for (let seen = 0; ; ) {
  ${spin ? "while (Atomics.load(cells, 0) === seen && !Atomics.load(cells, 2)) {}" : "Atomics.wait(cells, 0, seen);"}
  if (Atomics.load(cells, 2)) break;
  seen = Atomics.load(cells, 0);
  Atomics.store(cells, 1, seen);
  Atomics.notify(cells, 1);
}`;

function summarize(lat: number[], elapsedMs: number, calls: number): HopResult {
  lat.sort((a, b) => a - b);
  return { p50: lat[lat.length >> 1], p99: lat[Math.floor(lat.length * 0.99)], perSec: (calls / elapsedMs) * 1000 };
}

export async function workerRoundTrip(calls: number, mode: HopMode = "message"): Promise<HopResult> {
  return mode === "message" ? byMessage(calls) : byMemory(calls, mode === "spin");
}

async function byMessage(calls: number): Promise<HopResult> {
  const w = new Worker(ECHO_BY_MESSAGE, { eval: true });
  try {
    const lat: number[] = [];
    const warm = Math.min(2000, calls);
    const t0 = await new Promise<number>((resolve) => {
      let i = 0;
      let sent = 0;
      let start = 0;
      w.on("message", () => {
        if (i >= warm) lat.push(performance.now() - sent);
        if (++i === warm) start = performance.now();
        if (i >= warm + calls) return resolve(start);
        sent = performance.now();
        w.postMessage({ type: "call", id: i, text: "hello" });
      });
      sent = performance.now();
      w.postMessage({ type: "call", id: 0, text: "hello" });
    });
    return summarize(lat, performance.now() - t0, calls);
  } finally {
    await w.terminate();
  }
}

async function byMemory(calls: number, spin: boolean): Promise<HopResult> {
  const shared = new SharedArrayBuffer(12);
  const cells = new Int32Array(shared);
  const w = new Worker(ECHO_BY_MEMORY(spin), { eval: true, workerData: shared });
  await new Promise((resolve) => w.once("online", resolve));
  try {
    const warm = Math.min(2000, calls);
    const lat: number[] = [];
    let start = 0;
    for (let i = 1; i <= warm + calls; i++) {
      if (i === warm + 1) start = performance.now();
      const sent = performance.now();
      Atomics.store(cells, 0, i);
      Atomics.notify(cells, 0);
      if (spin) while (Atomics.load(cells, 1) !== i);
      else
        for (;;) {
          const r = waitAsync(cells, 1, i - 1);
          if (r.async) await r.value;
          if (Atomics.load(cells, 1) === i) break;
        }
      if (i > warm) lat.push(performance.now() - sent);
    }
    return summarize(lat, performance.now() - start, calls);
  } finally {
    Atomics.store(cells, 2, 1);
    Atomics.store(cells, 0, -1);
    Atomics.notify(cells, 0);
    await w.terminate();
  }
}
