/**
 * Spans and metrics by name and attribute, captured with in-memory exporters from a daemon
 * started in this process (real HTTP, real workers, the official SDK client).
 */
import { telemetryProbes } from "../helpers/metrics.ts";
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import type { HistogramMetricData } from "@opentelemetry/sdk-metrics";
import type { Daemon } from "../../daemon/main.ts";
import { startInProcessDaemon } from "../helpers/in-process.ts";
import { TempDir, waitFor } from "../helpers/env.ts";
import { httpClient, textOf, type RecordingClient } from "../helpers/clients.ts";

const plugins = new TempDir("patchbay-otel-");
const home = new TempDir("patchbay-otel-home-");
const { spans, metrics, telemetry } = telemetryProbes();
let d: Daemon;
let c: RecordingClient;

before(async () => {
  plugins.file(
    "demo.ts",
    `import { definePlugin, z } from "mcp-patchbay";
export default definePlugin({
  version: "2.0.0",
  tools: {
    hello: { input: { who: z.string() }, handler: ({ who }) => "hello " + who },
    fails: { handler: () => { throw new Error("nope"); } },
  },
  resources: { "demo://readme": { mimeType: "text/plain", read: () => "read me" } },
  prompts: { greet: { arguments: { name: z.string() }, render: ({ name }) => "greet " + name } },
});
`,
  );
  d = (await startInProcessDaemon({ plugins: plugins.path, home: home.path, telemetry })).daemon;
  await d.pluginsLoaded();
  c = await httpClient(d.url, { name: "otel-test" });
});
after(async () => {
  await c?.close();
  await d?.close();
  plugins.cleanup();
  home.cleanup();
});

const finished = () => spans.getFinishedSpans();
const server = (name: string) => waitFor(`span ${name}`, () => finished().find((s) => s.name === name && s.kind === 1));
const children = (parent: ReadableSpan) => finished().filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);

test("a successful tool call: SERVER span with MCP semconv attributes and a worker child span in the same trace", async () => {
  spans.reset();
  assert.equal(textOf(await c.client.callTool({ name: "demo__hello", arguments: { who: "otel" } })), "hello otel");
  const s = await server("tools/call demo__hello");
  assert.equal(s.attributes["mcp.method.name"], "tools/call");
  assert.equal(s.attributes["gen_ai.tool.name"], "demo__hello");
  assert.equal(s.attributes["gen_ai.operation.name"], "execute_tool");
  assert.equal(s.attributes["network.transport"], "tcp");
  assert.equal(s.attributes["network.protocol.name"], "http");
  assert.equal(s.attributes["mcp.protocol.version"], "2025-11-25");
  assert.equal(s.attributes["patchbay.plugin.name"], "demo");
  assert.equal(s.attributes["patchbay.plugin.version"], "2.0.0");
  assert.equal(typeof s.attributes["mcp.session.id"], "string");
  assert.ok(s.attributes["jsonrpc.request.id"] !== undefined);
  assert.equal(s.attributes["error.type"], undefined);
  const worker = await waitFor("worker span", () => children(s)[0]);
  assert.equal(worker.spanContext().traceId, s.spanContext().traceId);
  assert.equal(worker.name, "plugin tool hello");
  assert.equal(worker.attributes["patchbay.span.origin"], "worker");
});

test("an isError tool result is error.type=tool_error", async () => {
  const r = await c.client.callTool({ name: "demo__fails", arguments: {} });
  assert.equal(r.isError, true);
  const s = await server("tools/call demo__fails");
  assert.equal(s.attributes["error.type"], "tool_error");
  assert.equal(s.status.code, 2);
});

test("a protocol error records the JSON-RPC code as error.type", async () => {
  await assert.rejects(c.client.callTool({ name: "demo__missing", arguments: {} }));
  const s = await server("tools/call demo__missing");
  assert.equal(s.attributes["error.type"], "-32602");
});

test("resource read and prompt get spans", async () => {
  await c.client.readResource({ uri: "demo://readme" });
  const r = await server("resources/read demo://readme");
  assert.equal(r.attributes["mcp.resource.uri"], "demo://readme");
  await c.client.getPrompt({ name: "demo__greet", arguments: { name: "x" } });
  const p = await server("prompts/get demo__greet");
  assert.equal(p.attributes["gen_ai.prompt.name"], "demo__greet");
  await assert.rejects(c.client.readResource({ uri: "demo://nothing" }));
  // resource not found is -32602 with data.uri (SEP-2164), on the wire and on the span
  assert.equal((await server("resources/read demo://nothing")).attributes["error.type"], "-32602");
});

test("an incoming traceparent in params._meta is continued", async () => {
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  await c.client.callTool({ name: "demo__hello", arguments: { who: "traced" }, _meta: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
  const s = await waitFor("continued span", () => finished().find((x) => x.name === "tools/call demo__hello" && x.spanContext().traceId === traceId));
  assert.equal(s.parentSpanContext?.spanId, "00f067aa0ba902b7");
  assert.ok(children(s).length === 1, "the worker span joins the continued trace");
});

test("metrics: operation duration histogram in seconds with semconv buckets and low-cardinality attributes", async () => {
  const { resourceMetrics } = await metrics.collect();
  const all = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
  const op = all.find((m) => m.descriptor.name === "mcp.server.operation.duration") as HistogramMetricData | undefined;
  assert.ok(op, `metrics: ${all.map((m) => m.descriptor.name)}`);
  assert.equal(op!.descriptor.unit, "s");
  const hello = op!.dataPoints.find((p) => p.attributes["gen_ai.tool.name"] === "demo__hello");
  assert.ok(hello);
  assert.deepEqual(hello!.value.buckets.boundaries, [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300]);
  assert.ok(hello!.value.count >= 2);
  assert.equal(hello!.attributes["mcp.session.id"], undefined, "no ids on metrics");
  assert.equal(hello!.attributes["jsonrpc.request.id"], undefined);
  const failed = op!.dataPoints.find((p) => p.attributes["gen_ai.tool.name"] === "demo__fails");
  assert.equal(failed?.attributes["error.type"], "tool_error");
  // a name the client made up is not a series of its own (its span keeps it, see above)
  assert.ok(!op!.dataPoints.some((p) => p.attributes["gen_ai.tool.name"] === "demo__missing"), "unknown tool name on a metric");
  const other = op!.dataPoints.find((p) => p.attributes["gen_ai.tool.name"] === "_OTHER");
  assert.equal(other?.attributes["error.type"], "-32602");
  const names = all.map((m) => m.descriptor.name);
  for (const n of ["patchbay.sessions.open", "patchbay.plugin.reloads", "patchbay.plugins.loaded", "patchbay.plugin.worker.heap"]) assert.ok(names.includes(n), `missing ${n}`);
});

test("plugin reloads and compile errors are spans with the plugin name", async () => {
  plugins.file("broken.ts", "export default {{;\n");
  const s = await waitFor("compile error span", () => finished().find((x) => x.name === "patchbay.plugin.load broken"));
  assert.equal(s.attributes["patchbay.plugin.name"], "broken");
  assert.equal(s.attributes["error.type"], "plugin_load_error");
  assert.ok(s.events.some((e) => e.name === "plugin.error"));
});

test("session duration is recorded when a session ends", async () => {
  const extra = await httpClient(d.url);
  await (extra.client.transport as any).terminateSession();
  await extra.close();
  await waitFor("session closed", () => d.store.size === 1 || undefined);
  const sd = await metrics.histogram("mcp.server.session.duration");
  assert.ok(sd && sd.dataPoints.reduce((a, p) => a + p.value.count, 0) >= 1);
});
