/** `/metrics` in Prometheus text format, and OTLP over http/protobuf and http/json to a local receiver. */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage } from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { TempDir, waitFor } from "./helpers/env.ts";
import { startDaemonProcess } from "./helpers/daemon.ts";
import { httpClient } from "./helpers/clients.ts";

const plugins = new TempDir("patchbay-exp-");
plugins.file("m.mjs", `export default { tools: { ping: { handler: () => "pong" } } };`);
after(() => plugins.cleanup());

test("/metrics parses as Prometheus text and holds per-tool histogram buckets", async () => {
  const d = await startDaemonProcess({ plugins: plugins.path });
  try {
    const c = await httpClient(d.url);
    for (let i = 0; i < 3; i++) await c.client.callTool({ name: "m__ping", arguments: {} });
    await c.close();
    const res = await fetch(`${d.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/plain/);
    const text = await res.text();
    // every non-comment line is `name{labels} value`
    for (const line of text.split("\n").filter((l) => l && !l.startsWith("#"))) assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? -?[0-9.e+-]+|NaN|[+-]Inf$/, line);
    assert.match(text, /# TYPE mcp_server_operation_duration histogram/);
    const bucket = text.split("\n").find((l) => l.startsWith("mcp_server_operation_duration_bucket") && l.includes('gen_ai_tool_name="m__ping"') && l.includes('le="+Inf"'));
    assert.ok(bucket, text);
    assert.equal(Number(bucket!.split(" ").at(-1)), 3);
    assert.ok(text.split("\n").some((l) => l.startsWith("mcp_server_operation_duration_bucket") && l.includes('le="0.01"') && l.includes("m__ping")));
  } finally {
    await d.stop();
  }
});

interface Received { path: string; contentType: string; body: Buffer }

async function receiver() {
  const got: Received[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    got.push({ path: req.url ?? "", contentType: String(req.headers["content-type"]), body: Buffer.concat(chunks) });
    res.writeHead(200, { "content-type": String(req.headers["content-type"]) });
    res.end(String(req.headers["content-type"]).includes("json") ? "{}" : "");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { got, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

for (const protocol of ["http/protobuf", "http/json"]) {
  test(`OTLP ${protocol}: a local receiver gets the spans and metrics`, async () => {
    const rx = await receiver();
    const d = await startDaemonProcess({
      plugins: plugins.path,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_EXPORTER_OTLP_PROTOCOL: protocol, OTEL_SERVICE_NAME: "patchbay-under-test", OTEL_BSP_SCHEDULE_DELAY: "100", OTEL_METRIC_EXPORT_INTERVAL: "300" },
    });
    try {
      const c = await httpClient(d.url);
      await c.client.callTool({ name: "m__ping", arguments: {} });
      await c.close();
      const traces = await waitFor("traces", () => rx.got.find((r) => r.path === "/v1/traces" && r.body.includes("tools/call m__ping")));
      const metrics = await waitFor("metrics", () => rx.got.find((r) => r.path === "/v1/metrics" && r.body.includes("mcp.server.operation.duration")));
      if (protocol === "http/json") {
        assert.match(traces.contentType, /application\/json/);
        const body = JSON.parse(traces.body.toString());
        const resAttrs = body.resourceSpans[0].resource.attributes;
        assert.ok(resAttrs.some((a: any) => a.key === "service.name" && a.value.stringValue === "patchbay-under-test"));
        const spanNames = body.resourceSpans.flatMap((r: any) => r.scopeSpans.flatMap((s: any) => s.spans.map((x: any) => x.name)));
        assert.ok(spanNames.includes("tools/call m__ping"));
        assert.ok(JSON.parse(metrics.body.toString()).resourceMetrics.length > 0);
      } else {
        assert.match(traces.contentType, /application\/x-protobuf/);
        assert.ok(traces.body.includes("patchbay-under-test"));
        assert.match(metrics.contentType, /application\/x-protobuf/);
      }
    } finally {
      await d.stop();
      await rx.close();
    }
  });
}

// The duration histogram is aggregated in-process (cumulative, explicit buckets) unless the
// OTLP exporter asks for delta: then the SDK's own instrument serves it, so it is delta too.
for (const preference of ["cumulative", "delta"]) {
  test(`OTLP http/json with temporality preference ${preference}: mcp.server.operation.duration follows it`, async () => {
    const rx = await receiver();
    const d = await startDaemonProcess({
      plugins: plugins.path,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: rx.url, OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: preference, OTEL_BSP_SCHEDULE_DELAY: "100", OTEL_METRIC_EXPORT_INTERVAL: "300" },
    });
    try {
      const c = await httpClient(d.url);
      for (let i = 0; i < 2; i++) await c.client.callTool({ name: "m__ping", arguments: {} });
      await c.close();
      const find = () => {
        for (const r of rx.got.filter((g) => g.path === "/v1/metrics")) {
          const body = JSON.parse(r.body.toString());
          for (const rm of body.resourceMetrics ?? [])
            for (const sm of rm.scopeMetrics ?? [])
              for (const m of sm.metrics ?? [])
                if (m.name === "mcp.server.operation.duration" && m.histogram?.dataPoints?.some((p: any) => p.attributes?.some((a: any) => a.value?.stringValue === "m__ping"))) return m;
        }
        return undefined;
      };
      const metric = await waitFor("duration histogram", find);
      // OTLP: AGGREGATION_TEMPORALITY_DELTA = 1, CUMULATIVE = 2
      assert.equal(metric.histogram.aggregationTemporality, preference === "delta" ? 1 : 2);
      const point = metric.histogram.dataPoints.find((p: any) => p.attributes.some((a: any) => a.value?.stringValue === "m__ping"));
      assert.equal(Number(point.count), 2);
      assert.equal(point.explicitBounds.length, 14);
    } finally {
      await d.stop();
      await rx.close();
    }
  });
}

test("OTLP grpc: a local gRPC receiver gets the spans and metrics (the bundled exporter's grpc-js)", async () => {
  // a receiver that accepts any unary call and keeps the raw protobuf request
  const grpc = await import("@grpc/grpc-js");
  const got: { path: string; body: Buffer }[] = [];
  const server = new grpc.Server();
  const raw = { requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b, responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b };
  const service = Object.fromEntries(
    ["/opentelemetry.proto.collector.trace.v1.TraceService/Export", "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"].map((path) => [path, { path, requestStream: false, responseStream: false, originalName: path, ...raw }]),
  );
  server.addService(service as never, Object.fromEntries(Object.keys(service).map((path) => [path, (call: { request: Buffer }, cb: (e: null, r: Buffer) => void) => {
    got.push({ path, body: call.request });
    cb(null, Buffer.alloc(0));
  }])) as never);
  const port = await new Promise<number>((res, rej) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  const d = await startDaemonProcess({
    plugins: plugins.path,
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_EXPORTER_OTLP_PROTOCOL: "grpc", OTEL_SERVICE_NAME: "patchbay-under-grpc", OTEL_BSP_SCHEDULE_DELAY: "100", OTEL_METRIC_EXPORT_INTERVAL: "300" },
  });
  try {
    const c = await httpClient(d.url);
    await c.client.callTool({ name: "m__ping", arguments: {} });
    await c.close();
    const traces = await waitFor("traces over gRPC", () => got.find((r) => r.path.includes("TraceService") && r.body.includes("tools/call m__ping")));
    assert.ok(traces.body.includes("patchbay-under-grpc"));
    await waitFor("metrics over gRPC", () => got.find((r) => r.path.includes("MetricsService") && r.body.includes("mcp.server.operation.duration")));
    assert.doesNotMatch(d.stderr(), /ChannelCredentials|metrics export failed/);
  } finally {
    await d.stop();
    server.forceShutdown();
  }
});
