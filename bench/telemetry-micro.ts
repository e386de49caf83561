/**
 * What telemetry costs one `tools/call` in CPU, without a daemon around it:
 *
 *   MODE=unsampled|all npx tsx bench/telemetry-micro.ts [ROOT=checkout]
 *
 * The instrumentation a call goes through (startRequestSpan, addWorkerSpan with the worker's
 * span when traced, setResultSize, end), with the SDK wired as the daemon wires it
 * (startTelemetry: dashboard store, Prometheus reader), measured against the same loop without
 * it. The loop parses a small JSON-RPC message 20 times a call (FILLER) so young-generation
 * collections come about as often as in the daemon. Blocks with and without telemetry
 * alternate in one process, so load from elsewhere hits both alike; reported: the median
 * difference in µs per call. `unsampled`: the rate limit leaves every call out (1 trace a
 * second); `all`: every call traced (tracesPerSecond 0). ROOT runs another checkout's code.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import pino from "pino";

const root = resolve(process.env.ROOT ?? ".");
const { startTelemetry } = (await import(pathToFileURL(`${root}/daemon/telemetry/sdk.ts`).href)) as typeof import("../daemon/telemetry/sdk.ts");
const { startRequestSpan } = (await import(pathToFileURL(`${root}/daemon/telemetry/instrumentation.ts`).href)) as typeof import("../daemon/telemetry/instrumentation.ts");
const mode = process.env.MODE === "all" ? "all" : "unsampled";
const n = Number(process.env.N ?? 20_000);
const blocks = Number(process.env.BLOCKS ?? 15);
const filler = Number(process.env.FILLER ?? 20);
const message = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "bench__echo", arguments: { text: "hello 1" }, _meta: { a: [1, 2, 3], b: "x".repeat(40) } } });
let kept: unknown;
const caller = { transport: "streamable-http" as const, sessionId: "6f1c2a8e-1b7e-4c59-9d2c-3f0e4a5b6c7d", protocolVersion: "2025-11-25" };
let id = 0;

function base() {
  for (let f = 0; f < filler; f++) kept = JSON.parse(message);
}

function withTelemetry() {
  base();
  const span = startRequestSpan({ method: "tools/call", target: "bench__echo", attributes: { "gen_ai.tool.name": "bench__echo", "gen_ai.operation.name": "execute_tool", "patchbay.plugin.name": "bench", "patchbay.plugin.version": "1.0.0" }, caller, requestId: id++ });
  const tp = span.traceparent;
  let ws;
  if (tp?.endsWith("-01")) {
    // what the plugin thread sends back for a traced call
    const [, traceId, parentSpanId] = tp.split("-");
    const now = performance.timeOrigin + performance.now();
    ws = { name: "plugin tool echo", traceId, spanId: "0123456789abcdef", parentSpanId, startTime: now - 0.05, endTime: now, ok: true, attributes: { "patchbay.plugin.name": "bench", "patchbay.call.kind": "tool" } };
  }
  span.addWorkerSpan(ws);
  span.setResultSize(12);
  span.end();
}

function cpuPerCall(fn: () => void): number {
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / n;
}

const tel = await startTelemetry({ logger: pino({ level: "silent" }), tracesPerSecond: mode === "all" ? 0 : 1 });
tel.bindRegistry({ tools: new Map([["bench__echo", {}]]), prompts: new Map(), on() {}, off() {} } as never);
for (let i = 0; i < 3; i++) {
  cpuPerCall(base);
  cpuPerCall(withTelemetry);
}
const d: number[] = [];
for (let b = 0; b < blocks; b++) {
  const without = cpuPerCall(base);
  d.push(cpuPerCall(withTelemetry) - without);
}
d.sort((a, b) => a - b);
await tel.shutdown();
void kept;
console.log(`${root} ${mode}: +${d[Math.floor(blocks / 2)].toFixed(2)} µs CPU per call (median of ${blocks} interleaved blocks of ${n}; quartiles ${d[Math.floor(blocks / 4)].toFixed(2)}–${d[Math.floor((3 * blocks) / 4)].toFixed(2)})`);
