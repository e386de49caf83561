/**
 * Named profiles (config `profiles`): a client picks one per connection and sees and can
 * call only its part, on every transport and in both eras; list_changed reaches only the
 * clients whose view changed; an unknown profile is a clear error.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import WebSocket from "ws";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { WebSocketClientTransport } from "@modelcontextprotocol/sdk/client/websocket.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport as V2HttpTransport } from "@modelcontextprotocol/client";
import { CLI, TempDir } from "./helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "./helpers/daemon.ts";
import { connect, ensureGlobalWebSocket, stdioClient, textOf, type RecordingClient } from "./helpers/clients.ts";
import { connectV2, MODERN_REVISION } from "./helpers/clients-v2.ts";

const TOOLS_CHANGED = "notifications/tools/list_changed";

const home = new TempDir("patchbay-profiles-home-");
const plugins = new TempDir("patchbay-profiles-plugins-");
const cfg = new TempDir("patchbay-profiles-config-");
const configFile = cfg.file(
  "patchbay.json",
  JSON.stringify({
    profiles: {
      alpha: { include: ["alpha__*", "alpha://*"], exclude: ["alpha__sec?et"] },
      beta: { include: ["beta__*"] },
    },
  }),
);
const ALPHA = `export default {
  tools: { one: { handler: () => "one" }, secret: { handler: () => "secret" } },
  prompts: { hello: { render: () => "hi" } },
  resources: { "alpha://r": { read: () => "r" } },
};`;
const BETA = `export default { tools: { two: { handler: () => "two" } }, resources: { "beta://r": { read: () => "b" } } };`;
plugins.file("alpha.mjs", ALPHA);
plugins.file("beta.mjs", BETA);

let d: RunningDaemon;
const open: RecordingClient[] = [];

before(async () => {
  d = await startDaemonProcess({ plugins: plugins.path, home: home.path, args: ["--config", configFile] });
  ensureGlobalWebSocket();
});

after(async () => {
  for (const c of open) await c.close().catch(() => undefined);
  await d?.stop();
  plugins.cleanup();
  cfg.cleanup();
  home.cleanup();
});

const toolNames = async (c: RecordingClient) => (await c.client.listTools()).tools.map((t) => t.name).sort();

async function keep(c: Promise<RecordingClient>): Promise<RecordingClient> {
  const client = await c;
  open.push(client);
  return client;
}

/** A call outside the profile is refused exactly as an unknown name: -32602 "Unknown tool: NAME". */
async function assertUnknownTool(call: Promise<unknown>, name: string) {
  await assert.rejects(call, (err: any) => {
    assert.equal(err.code, -32602);
    assert.match(err.message, new RegExp(`Unknown tool: ${name}`));
    return true;
  });
}

test("Streamable HTTP 2025 session: lists and calls only the profile's part (tools, prompts, resources)", async () => {
  const c = await keep(connect(new StreamableHTTPClientTransport(new URL(`${d.url}/mcp?profile=alpha`))));
  assert.deepEqual(await toolNames(c), ["alpha__one"]);
  assert.equal(textOf(await c.client.callTool({ name: "alpha__one", arguments: {} })), "one");
  await assertUnknownTool(c.client.callTool({ name: "beta__two", arguments: {} }), "beta__two");
  await assertUnknownTool(c.client.callTool({ name: "alpha__secret", arguments: {} }), "alpha__secret");
  assert.deepEqual((await c.client.listPrompts()).prompts.map((p) => p.name), ["alpha__hello"]);
  assert.deepEqual((await c.client.listResources()).resources.map((r) => r.uri), ["alpha://r"]);
  await assert.rejects(c.client.readResource({ uri: "beta://r" }), (err: any) => err.code === -32602);
  // subscribing outside the profile is refused the same way; inside it is accepted
  await assert.rejects(c.client.subscribeResource({ uri: "beta://r" }), (err: any) => err.code === -32602 && /beta:\/\/r/.test(err.message));
  await c.client.subscribeResource({ uri: "alpha://r" });
  // the session keeps its profile, and /healthz shows it
  const health = await d.health();
  const s = health.sessions.list.find((x: any) => x.transport === "streamable-http" && x.profile === "alpha");
  assert.ok(s, JSON.stringify(health.sessions.list));
});

test("2026-07-28 stateless requests carry the profile on every request URL", async () => {
  const c = await connectV2(new V2HttpTransport(new URL(`${d.url}/mcp?profile=beta`)), { modern: true });
  try {
    assert.deepEqual((await c.client.listTools()).tools.map((t) => t.name), ["beta__two"]);
    assert.equal(textOf(await c.client.callTool({ name: "beta__two", arguments: {} })), "two");
    await assertUnknownTool(c.client.callTool({ name: "alpha__one", arguments: {} }), "alpha__one");
  } finally {
    await c.close();
  }
  // and without a profile, the same daemon serves everything
  const all = await connectV2(new V2HttpTransport(new URL(`${d.url}/mcp`)), { modern: true });
  try {
    assert.deepEqual((await all.client.listTools()).tools.map((t) => t.name).sort(), ["alpha__one", "alpha__secret", "beta__two"]);
  } finally {
    await all.close();
  }
});

test("an unknown profile is HTTP 400 with -32602 on /mcp (both eras) and /sse, and a refused upgrade on /ws", async () => {
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${d.url}/mcp?profile=nope`, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers }, body: JSON.stringify(body) });
  const init = await post({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } } });
  assert.equal(init.status, 400);
  const initBody = await init.json();
  assert.equal(initBody.error.code, -32602);
  assert.equal(initBody.error.message, "Unknown profile: nope (known: alpha, beta)");
  const meta = { "io.modelcontextprotocol/protocolVersion": MODERN_REVISION, "io.modelcontextprotocol/clientCapabilities": {}, "io.modelcontextprotocol/clientInfo": { name: "t", version: "1" } };
  const modern = await post({ jsonrpc: "2.0", id: 2, method: "tools/list", params: { _meta: meta } }, { "mcp-protocol-version": MODERN_REVISION, "mcp-method": "tools/list" });
  assert.equal(modern.status, 400);
  assert.equal((await modern.json()).error.code, -32602);

  const sse = await fetch(`${d.url}/sse?profile=nope`);
  assert.equal(sse.status, 400);
  assert.match((await sse.json()).error.message, /Unknown profile: nope/);

  const status = await new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(`${d.url.replace(/^http/, "ws")}/ws?profile=nope`, "mcp");
    ws.once("open", () => reject(new Error("upgrade accepted")));
    ws.once("unexpected-response", (_req, res) => resolve(res.statusCode!));
    ws.once("error", () => undefined);
  });
  assert.equal(status, 400);
});

test("WebSocket and SSE: listing and calling only the profile's part", async () => {
  const ws = await keep(connect(new WebSocketClientTransport(new URL(`${d.url.replace(/^http/, "ws")}/ws?profile=beta`))));
  assert.deepEqual(await toolNames(ws), ["beta__two"]);
  await assertUnknownTool(ws.client.callTool({ name: "alpha__one", arguments: {} }), "alpha__one");

  const sse = await keep(connect(new SSEClientTransport(new URL(`${d.url}/sse?profile=alpha`))));
  assert.deepEqual(await toolNames(sse), ["alpha__one"]);
  assert.equal(textOf(await sse.client.callTool({ name: "alpha__one", arguments: {} })), "one");
  await assertUnknownTool(sse.client.callTool({ name: "beta__two", arguments: {} }), "beta__two");
  const health = await d.health();
  assert.ok(health.sessions.list.some((x: any) => x.transport === "sse" && x.profile === "alpha"));
  assert.ok(health.sessions.list.some((x: any) => x.transport === "websocket" && x.profile === "beta"));
});

test("list_changed reaches the clients whose view changed, and not one whose profile excludes the change", async () => {
  const wsUrl = (q: string) => new URL(`${d.url.replace(/^http/, "ws")}/ws${q}`);
  const alpha = await keep(connect(new WebSocketClientTransport(wsUrl("?profile=alpha"))));
  const beta = await keep(connect(new WebSocketClientTransport(wsUrl("?profile=beta"))));
  const all = await keep(connect(new WebSocketClientTransport(wsUrl(""))));
  const alphaHttp = await keep(connect(new StreamableHTTPClientTransport(new URL(`${d.url}/mcp?profile=alpha`))));
  // a change only the beta view sees
  plugins.file("beta.mjs", BETA.replace(`two: { handler: () => "two" }`, `two: { handler: () => "two" }, three: { handler: () => "three" }`));
  await beta.waitNotification(TOOLS_CHANGED, 1);
  await all.waitNotification(TOOLS_CHANGED, 1);
  assert.deepEqual(await toolNames(beta), ["beta__three", "beta__two"]);
  // then one the alpha view sees: on the ordered WebSocket, alpha's first notice is this one
  plugins.file("alpha.mjs", ALPHA.replace(`one: { handler: () => "one" }`, `one: { handler: () => "one" }, four: { handler: () => "four" }`));
  await alpha.waitNotification(TOOLS_CHANGED, 1);
  await alphaHttp.waitNotification(TOOLS_CHANGED, 1);
  await beta.client.ping();
  await alpha.client.ping();
  assert.equal(alpha.count(TOOLS_CHANGED), 1, "alpha heard of the beta-only change");
  assert.equal(beta.count(TOOLS_CHANGED), 1, "beta heard of the alpha-only change");
  assert.equal(all.count(TOOLS_CHANGED) >= 1, true);
  assert.deepEqual(await toolNames(alpha), ["alpha__four", "alpha__one"]);
  // a change inside alpha's excluded part is no change to its view
  plugins.file("alpha.mjs", ALPHA.replace(`one: { handler: () => "one" }`, `one: { handler: () => "one" }, four: { handler: () => "four" }`).replace(`secret: { handler: () => "secret" }`, `secret: { handler: () => "s2", description: "changed" }`));
  await all.waitNotification(TOOLS_CHANGED, all.count(TOOLS_CHANGED) + 1);
  await alpha.client.ping();
  assert.equal(alpha.count(TOOLS_CHANGED), 1);
});

test("patchbay stdio --profile through the bridge; an unknown one exits 2 with the message", async () => {
  const c = await keep(stdioClient(["--profile", "beta", "--config", configFile, "--plugins", plugins.path], { PATCHBAY_HOME: home.path }));
  const names = await toolNames(c);
  assert.ok(names.length > 0 && names.every((n) => n.startsWith("beta__")), names.join(", "));
  await assertUnknownTool(c.client.callTool({ name: "alpha__one", arguments: {} }), "alpha__one");
  const health = await d.health();
  assert.ok(health.sessions.list.some((x: any) => x.bridged && x.profile === "beta"), JSON.stringify(health.sessions.list));

  // the daemon refuses a profile it does not know; the bridge says so and exits 2
  const r = spawnSync(process.execPath, [CLI, "stdio", "--profile", "nope", "--config", configFile, "--plugins", plugins.path], { env: { ...process.env, PATCHBAY_HOME: home.path }, input: "", encoding: "utf8", timeout: 30_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /Unknown profile: nope \(known: alpha, beta\)/);
  // standalone: checked before anything starts
  const s = spawnSync(process.execPath, [CLI, "stdio", "--standalone", "--profile", "nope", "--config", configFile, "--plugins", plugins.path], { env: { ...process.env, PATCHBAY_HOME: home.path }, input: "", encoding: "utf8", timeout: 30_000 });
  assert.equal(s.status, 2, s.stderr);
  assert.match(s.stderr, /Unknown profile: nope/);
});

test("claude-config --profile adds --profile NAME to the entry; an unknown one exits 2", () => {
  const env = { ...process.env, PATCHBAY_HOME: home.path };
  const r = spawnSync(process.execPath, [CLI, "claude-config", "--profile", "alpha", "--config", configFile], { env, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const entry = JSON.parse(r.stdout.slice(0, r.stdout.lastIndexOf("}") + 1)).mcpServers.patchbay;
  assert.deepEqual(entry.args.slice(-2), ["--profile", "alpha"]);
  assert.ok(entry.args.includes("--config"));
  const bad = spawnSync(process.execPath, [CLI, "claude-config", "--profile", "nope", "--config", configFile], { env, encoding: "utf8" });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /Unknown profile: nope \(known: alpha, beta\)/);
});

test("the config validates profiles: a bad glob list or name is a config error naming the key", () => {
  const bad = cfg.file("bad.json", JSON.stringify({ profiles: { alpha: { include: "alpha__*" } } }));
  const r = spawnSync(process.execPath, [CLI, "claude-config", "--config", bad], { env: { ...process.env, PATCHBAY_HOME: home.path }, encoding: "utf8" });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /profiles\.alpha\.include/);
});
