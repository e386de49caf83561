/**
 * Trace sampling under load: at most `tracesPerSecond` new traces are recorded, while the
 * duration histogram and the dashboard's per-tool stats count every call; a worker child
 * span exists only under a recorded parent; a client's sampled traceparent is always
 * continued. In-process daemon, real workers, the official SDK client.
 */
import { telemetryProbes } from "../helpers/metrics.ts";
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { SamplingDecision, ROOT_CONTEXT, SpanKind, TraceFlags, trace } from "@opentelemetry/api";
import { ParentBasedSampler } from "@opentelemetry/sdk-trace";
import type { Daemon } from "../../daemon/main.ts";
import { startInProcessDaemon } from "../helpers/in-process.ts";
import { RateLimitedSampler } from "../../daemon/telemetry/rate-limited-sampler.ts";
import { TempDir } from "../helpers/env.ts";
import { httpClient, type RecordingClient } from "../helpers/clients.ts";

test("the sampler keeps one second's worth of traces as burst and refills at its rate", () => {
  let now = 0;
  const s = new RateLimitedSampler(3, () => now);
  const decide = () => s.shouldSample(ROOT_CONTEXT, "t", "n", SpanKind.SERVER, {}, []).decision;
  assert.deepEqual([decide(), decide(), decide(), decide()], [SamplingDecision.RECORD_AND_SAMPLED, SamplingDecision.RECORD_AND_SAMPLED, SamplingDecision.RECORD_AND_SAMPLED, SamplingDecision.NOT_RECORD]);
  now += 1000 / 3; // one token back
  assert.equal(decide(), SamplingDecision.RECORD_AND_SAMPLED);
  assert.equal(decide(), SamplingDecision.NOT_RECORD);
  now += 60_000; // never more than the burst
  assert.deepEqual([decide(), decide(), decide(), decide()].filter((d) => d === SamplingDecision.RECORD_AND_SAMPLED).length, 3);
});

test("only requests (SERVER spans) spend the budget; a sampled parent is continued with the budget spent", () => {
  const now = 0;
  const root = new RateLimitedSampler(1, () => now);
  const s = new ParentBasedSampler({ root });
  const decide = (kind: SpanKind, ctx = ROOT_CONTEXT) => s.shouldSample(ctx, "4bf92f3577b34da6a3ce929d0e0e4736", "n", kind, {}, []).decision;
  assert.equal(decide(SpanKind.SERVER), SamplingDecision.RECORD_AND_SAMPLED);
  assert.equal(decide(SpanKind.SERVER), SamplingDecision.NOT_RECORD, "budget spent");
  assert.equal(decide(SpanKind.INTERNAL), SamplingDecision.RECORD_AND_SAMPLED, "plugin events are always recorded");
  const sampledParent = trace.setSpanContext(ROOT_CONTEXT, { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: TraceFlags.SAMPLED, isRemote: true });
  assert.equal(decide(SpanKind.SERVER, sampledParent), SamplingDecision.RECORD_AND_SAMPLED, "a sampled traceparent is continued");
  const unsampledParent = trace.setSpanContext(ROOT_CONTEXT, { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: TraceFlags.NONE, isRemote: true });
  assert.equal(decide(SpanKind.SERVER, unsampledParent), SamplingDecision.NOT_RECORD);
});

const plugins = new TempDir("patchbay-sampling-");
const home = new TempDir("patchbay-sampling-home-");
const { spans, metrics, telemetry } = telemetryProbes();
let d: Daemon;
let c: RecordingClient;

before(async () => {
  plugins.file("s.mjs", `export default { tools: { hello: { handler: () => "hi" } } };`);
  // one trace a second: the calls below all land within a second or so of each other
  d = (await startInProcessDaemon({ plugins: plugins.path, home: home.path, config: { tracesPerSecond: 1 }, telemetry })).daemon;
  await d.pluginsLoaded();
  c = await httpClient(d.url, { name: "sampling-test" });
});
after(async () => {
  await c?.close();
  await d?.close();
  plugins.cleanup();
  home.cleanup();
});

test("calls beyond the trace budget are counted in metrics and stats but not traced", async () => {
  const calls = 20;
  // startup spent the budget (plugin load, initialize): wait for one token to come back
  await new Promise((r) => setTimeout(r, 1200));
  for (let i = 0; i < calls; i++) await c.client.callTool({ name: "s__hello", arguments: {} });
  const servers = spans.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER && s.attributes["mcp.method.name"] === "tools/call");
  assert.ok(servers.length >= 1, "the first call of the burst is traced");
  assert.ok(servers.length < calls, `${servers.length} of ${calls} calls traced with a budget of 1 a second`);
  const workers = spans.getFinishedSpans().filter((s) => s.attributes["patchbay.span.origin"] === "worker");
  assert.equal(workers.length, servers.length, "a worker span for each traced call, none for the others");
  const serverIds = new Set(servers.map((s) => s.spanContext().spanId));
  for (const w of workers) assert.ok(serverIds.has(w.parentSpanContext?.spanId ?? ""), "worker span under a recorded parent");

  const op = await metrics.histogram("mcp.server.operation.duration");
  const hello = op?.dataPoints.find((p) => p.attributes["gen_ai.tool.name"] === "s__hello" && p.attributes["mcp.method.name"] === "tools/call");
  assert.equal(hello?.value.count, calls, "every call in the histogram");
  assert.equal(d.telemetry!.store.toolStats().find((t) => t.tool === "s__hello")?.calls, calls, "every call in the dashboard stats");
});

test("a sampled traceparent from the client is continued even when the budget is spent", async () => {
  for (let i = 0; i < 5; i++) await c.client.callTool({ name: "s__hello", arguments: {} });
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  await c.client.callTool({ name: "s__hello", arguments: {}, _meta: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
  const mine = spans.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
  assert.ok(mine.some((s) => s.kind === SpanKind.SERVER), "server span in the client's trace");
  assert.ok(mine.some((s) => s.attributes["patchbay.span.origin"] === "worker"), "worker span in the client's trace");
});
