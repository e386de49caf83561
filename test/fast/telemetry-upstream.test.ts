/**
 * The upstream leg of a relayed call in telemetry, captured with in-memory exporters from a
 * daemon started in this process, relaying to a real stdio MCP server (SDK v1): a CLIENT span
 * child of the SERVER span, the upstream receiving that CLIENT span's context in `_meta`,
 * and the `mcp.client.operation.duration` histogram.
 */
import { telemetryProbes } from "../helpers/metrics.ts";
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { Daemon } from "../../daemon/main.ts";
import { startInProcessDaemon } from "../helpers/in-process.ts";
import { ROOT, TempDir, waitFor } from "../helpers/env.ts";
import { httpClient, textOf, type RecordingClient } from "../helpers/clients.ts";

const req = createRequire(join(ROOT, "package.json"));
const plugins = new TempDir("patchbay-otel-up-");
const home = new TempDir("patchbay-otel-up-home-");
const servers = new TempDir("patchbay-otel-up-servers-");
const { spans, metrics, telemetry } = telemetryProbes();
let d: Daemon;
let c: RecordingClient;

before(async () => {
  const server = servers.file(
    "meta-server.cjs",
    `const { McpServer } = require(${JSON.stringify(req.resolve("@modelcontextprotocol/sdk/server/mcp.js"))});
const { StdioServerTransport } = require(${JSON.stringify(req.resolve("@modelcontextprotocol/sdk/server/stdio.js"))});
const server = new McpServer({ name: "meta-server", version: "1.0.0" });
server.registerTool("meta", { description: "returns the _meta it got" }, async (extra) => ({ content: [{ type: "text", text: JSON.stringify(extra._meta ?? {}) }] }));
server.registerTool("bad", { description: "a tool error" }, async () => ({ isError: true, content: [{ type: "text", text: "bad" }] }));
server.connect(new StdioServerTransport());
`,
  );
  plugins.file("up.mcp.json", JSON.stringify({ command: process.execPath, args: [server] }));
  d = (await startInProcessDaemon({ plugins: plugins.path, home: home.path, telemetry })).daemon;
  await d.pluginsLoaded();
  c = await httpClient(d.url, { name: "otel-up-test" });
});
after(async () => {
  await c?.close();
  await d?.close();
  plugins.cleanup();
  home.cleanup();
  servers.cleanup();
});

const finished = () => spans.getFinishedSpans();

test("a relayed tool call: SERVER span, CLIENT child for the upstream leg, and the upstream gets the CLIENT span's context", async () => {
  spans.reset();
  const meta = JSON.parse(textOf(await c.client.callTool({ name: "up__meta", arguments: {} })));
  const srv = await waitFor("SERVER span", () => finished().find((s) => s.name === "tools/call up__meta" && s.kind === 1));
  const leg = await waitFor("CLIENT span", () => finished().find((s) => s.kind === 2 && s.parentSpanContext?.spanId === srv.spanContext().spanId));
  assert.equal(leg.name, "tools/call meta");
  assert.equal(leg.spanContext().traceId, srv.spanContext().traceId);
  assert.equal(leg.attributes["mcp.method.name"], "tools/call");
  assert.equal(leg.attributes["gen_ai.tool.name"], "meta");
  assert.equal(leg.attributes["gen_ai.operation.name"], "execute_tool");
  assert.equal(leg.attributes["network.transport"], "pipe");
  assert.equal(leg.attributes["patchbay.plugin.name"], "up");
  assert.equal(typeof leg.attributes["mcp.protocol.version"], "string");
  assert.equal(leg.attributes["error.type"], undefined);
  const tp = String(meta.traceparent);
  assert.match(tp, /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-9a-f]$/);
  assert.equal(tp.split("-")[1], leg.spanContext().traceId);
  assert.equal(tp.split("-")[2], leg.spanContext().spanId, "the upstream's parent is the CLIENT span");
});

test("a tool error upstream marks the CLIENT span; mcp.client.operation.duration is recorded in seconds", async () => {
  spans.reset();
  const r = await c.client.callTool({ name: "up__bad", arguments: {} });
  assert.equal(r.isError, true);
  const leg = await waitFor("CLIENT span", () => finished().find((s) => s.kind === 2 && s.name === "tools/call bad"));
  assert.equal(leg.attributes["error.type"], "tool_error");
  assert.equal(leg.status.code, 2);
  const h = await metrics.histogram("mcp.client.operation.duration");
  assert.ok(h, "histogram present");
  assert.equal(h.descriptor.unit, "s");
  const ok = h.dataPoints.find((p) => p.attributes["gen_ai.tool.name"] === "meta");
  const bad = h.dataPoints.find((p) => p.attributes["gen_ai.tool.name"] === "bad");
  assert.ok(ok && bad, JSON.stringify(h.dataPoints.map((p) => p.attributes)));
  assert.equal(ok.attributes["mcp.method.name"], "tools/call");
  assert.equal(ok.attributes["network.transport"], "pipe");
  assert.equal(ok.attributes["error.type"], undefined);
  assert.equal(bad.attributes["error.type"], "tool_error");
  assert.ok(ok.value.count >= 1 && ok.value.sum! > 0 && ok.value.sum! < 60, "seconds, not milliseconds");
  assert.equal(ok.attributes["mcp.session.id"], undefined, "no ids on metrics");
});
