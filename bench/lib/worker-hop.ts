/**
 * The floor the worker hop puts under every Patchbay call: a bare `worker_threads` round trip
 * (one small message to a thread that echoes it back), sequential, nothing else. Patchbay
 * makes one such round trip per call to keep each plugin in its own thread.
 */
import { Worker } from "node:worker_threads";

export async function workerRoundTrip(calls: number): Promise<{ p50: number; p99: number; perSec: number }> {
  const w = new Worker(`require("node:worker_threads").parentPort.on("message", (m) => require("node:worker_threads").parentPort.postMessage(m));`, { eval: true });
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
    const elapsed = performance.now() - t0;
    lat.sort((a, b) => a - b);
    return { p50: lat[lat.length >> 1], p99: lat[Math.floor(lat.length * 0.99)], perSec: (calls / elapsed) * 1000 };
  } finally {
    await w.terminate();
  }
}
