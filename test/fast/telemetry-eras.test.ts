/**
 * Telemetry per protocol era: `mcp.protocol.version` on every MCP span, `mcp.session.id`
 * only on 2025-era sessions (the conventions forbid it on 2026-07-28 traffic), and spans
 * for the revision's own methods, server/discover and subscriptions/listen.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";
import type { Daemon } from "../../daemon/main.ts";
import { startInProcessDaemon } from "../helpers/in-process.ts";
import { TempDir, waitFor } from "../helpers/env.ts";
import { httpClient, textOf } from "../helpers/clients.ts";
import { MODERN_REVISION, rawModern, v2HttpClient, v2WsClient } from "../helpers/clients-v2.ts";

const plugins = new TempDir("patchbay-otel-eras-");
const home = new TempDir("patchbay-otel-eras-home-");
const spans = new InMemorySpanExporter();
let d: Daemon;

before(async () => {
  plugins.file("demo.mjs", `export default { tools: { hello: { handler: () => "hello" } } };\n`);
  d = (await startInProcessDaemon({ plugins: plugins.path, home: home.path, telemetry: { extraSpanProcessors: [new SimpleSpanProcessor({ exporter: spans })] } })).daemon;
  await d.pluginsLoaded();
});
after(async () => {
  await d?.close();
  plugins.cleanup();
  home.cleanup();
});

const serverSpans = () => spans.getFinishedSpans().filter((s) => s.kind === 1);

test("2026-07-28 over HTTP: every span has mcp.protocol.version and none has mcp.session.id; server/discover and subscriptions/listen are spans", async () => {
  spans.reset();
  const c = await v2HttpClient(d.url, { modern: true, name: "otel-modern" });
  assert.equal(textOf(await c.client.callTool({ name: "demo__hello", arguments: {} })), "hello");
  const sub = await c.client.listen({ toolsListChanged: true });
  await sub.close();
  await c.close();
  await rawModern(d.url, "tools/list", {}, { meta: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tracestate: "vendor=abc", baggage: "tenant=t1" } });
  const discover = await waitFor("server/discover span", () => serverSpans().find((s) => s.name === "server/discover"));
  const call = await waitFor("tools/call span", () => serverSpans().find((s) => s.name === "tools/call demo__hello"));
  const listen = await waitFor("subscriptions/listen span", () => serverSpans().find((s) => s.name === "subscriptions/listen"));
  const traced = await waitFor("continued tools/list span", () => serverSpans().find((s) => s.name === "tools/list" && s.spanContext().traceId === "4bf92f3577b34da6a3ce929d0e0e4736"));
  for (const s of [discover, call, listen, traced]) {
    assert.equal(s.attributes["mcp.protocol.version"], MODERN_REVISION, s.name);
    assert.equal(s.attributes["mcp.session.id"], undefined, `${s.name} must not carry a session id`);
    assert.equal(s.attributes["network.protocol.name"], "http");
  }
  assert.equal(discover.attributes["mcp.method.name"], "server/discover");
  assert.equal(traced.parentSpanContext?.spanId, "00f067aa0ba902b7", "traceparent in _meta continues the trace");
  assert.equal(traced.spanContext().traceState?.get("vendor"), "abc", "tracestate in _meta is kept");
});

test("2025 sessions keep mcp.session.id and their negotiated version; a 2026-07-28 WebSocket connection has none", async () => {
  spans.reset();
  const legacy = await httpClient(d.url, { name: "otel-legacy" });
  await legacy.client.callTool({ name: "demo__hello", arguments: {} });
  await legacy.close();
  const s = await waitFor("2025 tools/call span", () => serverSpans().find((x) => x.name === "tools/call demo__hello"));
  assert.equal(typeof s.attributes["mcp.session.id"], "string");
  assert.equal(s.attributes["mcp.protocol.version"], "2025-11-25");

  spans.reset();
  const ws = await v2WsClient(d.url, { modern: true, name: "otel-ws" });
  await ws.client.callTool({ name: "demo__hello", arguments: {} });
  await ws.close();
  const w = await waitFor("ws tools/call span", () => serverSpans().find((x) => x.name === "tools/call demo__hello"));
  assert.equal(w.attributes["mcp.protocol.version"], MODERN_REVISION);
  assert.equal(w.attributes["mcp.session.id"], undefined);
  assert.equal(w.attributes["network.protocol.name"], "websocket");
});
