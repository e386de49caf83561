/**
 * Both MCP eras on a real daemon: the 2026-07-28 revision (stateless; server/discover;
 * per-request _meta envelope; listen streams; cache hints; the revision's error ladder) and
 * the 2025 era (initialize, sessions), over Streamable HTTP, WebSocket and stdio, driven by
 * the v2 client (pinned to 2026-07-28, and in its default 2025 mode), the v1 client and raw
 * requests.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { TempDir, waitFor } from "./helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "./helpers/daemon.ts";
import { httpClient, textOf } from "./helpers/clients.ts";
import { MODERN_REVISION, rawModern, v2HttpClient, v2StdioClient, v2WsClient, type V2Client } from "./helpers/clients-v2.ts";

const plugins = new TempDir("patchbay-eras-");
const home = new TempDir("patchbay-eras-home-");
let d: RunningDaemon;

const ALPHA = `export default { name: "alpha", tools: { zeta: { handler: () => "z" }, beta: { handler: () => "b" } } };\n`;
/** A change every client must hear about: a new plugin file each time (edits racing each other could cancel out). */
let added = 0;
function addPlugin(): string {
  const name = `extra${++added}`;
  writeFileSync(plugins.join(`${name}.mjs`), `export default { name: "${name}", tools: { t: { handler: () => "${name}" } } };\n`);
  return `${name}__t`;
}

before(async () => {
  plugins.file("alpha.mjs", ALPHA);
  plugins.file(
    "echo.mjs",
    `export default { name: "echo",
  tools: {
    say: { input: { type: "object", properties: { text: { type: "string" } } }, handler: ({ text }) => "said " + text },
    // SEP-2243: the client mirrors region into an Mcp-Param-Region header, which must agree
    route: { input: { type: "object", properties: { region: { type: "string", "x-mcp-header": "Region" } }, required: ["region"] }, handler: ({ region }) => "routed " + region },
    chatty: { handler: (_a, ctx) => { ctx.sendLog("info", { note: "info line" }); ctx.sendLog("debug", { note: "debug line" }); return "logged"; } },
  },
  resources: { "echo://readme": { mimeType: "text/plain", read: () => "read me" } },
  resourceTemplates: { "echo://item/{id}": { read: (uri, { id }) => "item " + id } },
  prompts: { hello: { arguments: [{ name: "who" }], render: ({ who }) => "hello " + who } },
};\n`,
  );
  d = await startDaemonProcess({ plugins: plugins.path, home: home.path });
});
after(async () => {
  await d?.stop();
  plugins.cleanup();
  home.cleanup();
});

async function closeAll(...cs: (V2Client | undefined)[]) {
  for (const c of cs) await c?.close().catch(() => undefined);
}

test("2026-07-28 server/discover over raw HTTP: no session, the revision and the capabilities Patchbay serves, cache hints", async () => {
  const r = await rawModern(d.url, "server/discover");
  assert.equal(r.status, 200);
  assert.equal(r.sessionId, null, "a stateless request gets no Mcp-Session-Id");
  const res = r.body.result;
  assert.deepEqual(res.supportedVersions, [MODERN_REVISION]);
  assert.deepEqual(res.capabilities.tools, { listChanged: true });
  assert.deepEqual(res.capabilities.resources, { listChanged: true, subscribe: true });
  assert.deepEqual(res.capabilities.prompts, { listChanged: true });
  assert.ok(res.capabilities.completions);
  assert.equal(res._meta["io.modelcontextprotocol/serverInfo"].name, "patchbay");
  assert.equal(typeof res.ttlMs, "number");
  assert.ok(["public", "private"].includes(res.cacheScope));
});

test("2026-07-28 requests with no session header are answered by the daemon: lists in a fixed order with cache hints, calls, reads, prompts", async () => {
  const tools = await rawModern(d.url, "tools/list");
  assert.equal(tools.status, 200);
  assert.equal(tools.sessionId, null);
  const names = tools.body.result.tools.map((t: { name: string }) => t.name);
  assert.deepEqual(names, [...names].sort(), "tools/list is sorted by name");
  assert.ok(names.includes("alpha__beta") && names.includes("echo__say"));
  assert.ok(tools.body.result.ttlMs > 0, "tools/list carries a cache hint");
  assert.equal(tools.body.result.cacheScope, "public");
  for (const method of ["prompts/list", "resources/list", "resources/templates/list"]) {
    const r = await rawModern(d.url, method);
    assert.equal(r.status, 200, method);
    assert.ok(r.body.result.ttlMs > 0, `${method} carries a cache hint`);
  }
  const call = await rawModern(d.url, "tools/call", { name: "echo__say", arguments: { text: "hi" } });
  assert.equal(call.status, 200);
  assert.equal(call.body.result.content[0].text, "said hi");
  const read = await rawModern(d.url, "resources/read", { uri: "echo://item/7" });
  assert.equal(read.body.result.contents[0].text, "item 7");
  const prompt = await rawModern(d.url, "prompts/get", { name: "echo__hello", arguments: { who: "you" } });
  assert.match(prompt.body.result.messages[0].content.text, /hello you/);
  // a foreign cursor is still -32602 on this revision
  const bad = await rawModern(d.url, "tools/list", { cursor: "nope" });
  assert.equal(bad.body.error.code, -32602);
});

test("2026-07-28 logging: log messages only when the request's _meta asks for a level, and only at or above it", async () => {
  const logsOf = async (meta: Record<string, unknown>) => {
    const res = await fetch(`${d.url}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": MODERN_REVISION, "mcp-method": "tools/call", "mcp-name": "echo__chatty" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo__chatty", arguments: {}, _meta: { "io.modelcontextprotocol/protocolVersion": MODERN_REVISION, "io.modelcontextprotocol/clientCapabilities": {}, ...meta } } }),
    });
    const text = await res.text();
    return text.split("\n").filter((l) => l.startsWith("data:") && l.includes("notifications/message")).map((l) => JSON.parse(l.slice(5)).params.data.note);
  };
  assert.deepEqual(await logsOf({}), [], "no level asked, no log messages");
  assert.deepEqual(await logsOf({ "io.modelcontextprotocol/logLevel": "info" }), ["info line"]);
  assert.deepEqual(await logsOf({ "io.modelcontextprotocol/logLevel": "debug" }), ["info line", "debug line"]);
});

test("2026-07-28 error ladder: header mismatch 400/-32020, unsupported version 400/-32022 with the supported list, removed methods 404/-32601, tampered requestState -32602", async () => {
  const mismatch = await rawModern(d.url, "tools/call", { name: "echo__say", arguments: { text: "x" } }, { headers: { "mcp-name": "echo__other" }, id: 11 });
  assert.equal(mismatch.status, 400);
  assert.equal(mismatch.body.error.code, -32020);
  assert.equal(mismatch.body.id, 11, "the JSON-RPC id is echoed");

  const methodMismatch = await rawModern(d.url, "tools/list", {}, { headers: { "mcp-method": "prompts/list" } });
  assert.equal(methodMismatch.status, 400);
  assert.equal(methodMismatch.body.error.code, -32020);

  const unsupported = await rawModern(d.url, "tools/list", {}, { headers: { "mcp-protocol-version": "2099-01-01" }, meta: { "io.modelcontextprotocol/protocolVersion": "2099-01-01" }, id: 12 });
  assert.equal(unsupported.status, 400);
  assert.equal(unsupported.body.error.code, -32022);
  assert.deepEqual(unsupported.body.error.data.supported, [MODERN_REVISION]);
  assert.equal(unsupported.body.id, 12);

  for (const [method, params] of [["ping", {}], ["logging/setLevel", { level: "info" }], ["resources/subscribe", { uri: "echo://readme" }]] as const) {
    const r = await rawModern(d.url, method, params);
    assert.equal(r.status, 404, method);
    assert.equal(r.body.error.code, -32601, method);
  }

  // Mcp-Param-* headers (SEP-2243) agree with the arguments a tool marks with x-mcp-header
  const routed = await rawModern(d.url, "tools/call", { name: "echo__route", arguments: { region: "eu" } }, { headers: { "mcp-param-region": "eu" } });
  assert.equal(routed.body.result.content[0].text, "routed eu");
  // disagreeing, missing, malformed (unpadded base64)
  for (const headers of [{ "mcp-param-region": "us" }, {}, { "mcp-param-region": "=?base64?ZXU?=" }] as Record<string, string>[]) {
    const r = await rawModern(d.url, "tools/call", { name: "echo__route", arguments: { region: "eu" } }, { headers });
    assert.equal(r.status, 400, JSON.stringify(headers));
    assert.equal(r.body.error.code, -32020, JSON.stringify(headers));
  }

  const tampered = await rawModern(d.url, "tools/call", { name: "echo__say", arguments: { text: "x" }, requestState: "v1.eyJwIjp7fX0.AAAA", inputResponses: { r0: { action: "accept", content: {} } } });
  assert.equal(tampered.body.error.code, -32602);
  assert.match(tampered.body.error.message, /requestState/);
});

test("v2 client pinned to 2026-07-28 over HTTP: discover, list, call, no session; listen hears list_changed after a plugin edit; /healthz shows it by name and era", async () => {
  const c = await v2HttpClient(d.url, { modern: true, name: "modern-http" });
  try {
    assert.equal(c.client.getProtocolEra(), "modern");
    assert.equal(c.client.getServerVersion()?.name, "patchbay");
    assert.equal((c.client.transport as { sessionId?: string }).sessionId, undefined);
    const { tools } = await c.client.listTools();
    assert.ok(tools.some((t) => t.name === "alpha__zeta"));
    assert.equal(textOf(await c.client.callTool({ name: "echo__say", arguments: { text: "v2" } })), "said v2");
    // the client mirrors x-mcp-header arguments into Mcp-Param-* headers itself
    assert.equal(textOf(await c.client.callTool({ name: "echo__route", arguments: { region: "ap" } })), "routed ap");

    const sub = await c.client.listen({ toolsListChanged: true });
    assert.equal(sub.honoredFilter.toolsListChanged, true);
    const before = c.count("notifications/tools/list_changed");
    const tool = addPlugin();
    await c.waitNotification("notifications/tools/list_changed", before + 1);
    assert.ok((await c.client.listTools()).tools.some((t) => t.name === tool));
    await sub.close();

    const h = await d.health();
    assert.equal(h.sessions.list.filter((s: { clientName?: string }) => s.clientName === "modern-http").length, 0, "no pretend session");
    const seen = h.sessions.stateless.find((s: { clientName?: string }) => s.clientName === "modern-http");
    assert.ok(seen, JSON.stringify(h.sessions.stateless));
    assert.equal(seen.era, MODERN_REVISION);
    assert.equal(seen.protocolVersion, MODERN_REVISION);
    assert.ok(seen.calls >= 1);
  } finally {
    await closeAll(c);
  }
});

test("v2 client in its default 2025 mode and the v1 client over HTTP: sessions, calls, list_changed", async () => {
  const v2 = await v2HttpClient(d.url, { name: "legacy-v2" });
  const v1 = await httpClient(d.url, { name: "legacy-v1" });
  try {
    assert.equal(v2.client.getProtocolEra(), "legacy");
    assert.ok((v2.client.transport as { sessionId?: string }).sessionId);
    assert.equal(textOf(await v2.client.callTool({ name: "echo__say", arguments: { text: "2025" } })), "said 2025");
    assert.equal(textOf(await v1.client.callTool({ name: "echo__say", arguments: { text: "v1" } })), "said v1");
    const h = await d.health();
    const mine = h.sessions.list.filter((s: { clientName?: string }) => s.clientName === "legacy-v2" || s.clientName === "legacy-v1");
    assert.equal(mine.length, 2);
    for (const s of mine) assert.equal(s.era, "2025");
    const n2 = v2.count("notifications/tools/list_changed");
    const n1 = v1.count("notifications/tools/list_changed");
    addPlugin();
    await v2.waitNotification("notifications/tools/list_changed", n2 + 1);
    await v1.waitNotification("notifications/tools/list_changed", n1 + 1);
  } finally {
    await closeAll(v2);
    await v1.close().catch(() => undefined);
  }
});

test("WebSocket, both eras: the first message decides (server/discover → 2026-07-28 with listen; initialize → 2025 session)", async () => {
  const modern = await v2WsClient(d.url, { modern: true, name: "ws-modern" });
  const legacy = await v2WsClient(d.url, { name: "ws-legacy" });
  try {
    assert.equal(modern.client.getProtocolEra(), "modern");
    assert.equal(legacy.client.getProtocolEra(), "legacy");
    assert.equal(textOf(await modern.client.callTool({ name: "echo__say", arguments: { text: "ws26" } })), "said ws26");
    assert.equal(textOf(await legacy.client.callTool({ name: "echo__say", arguments: { text: "ws25" } })), "said ws25");
    const sub = await modern.client.listen({ toolsListChanged: true });
    const nm = modern.count("notifications/tools/list_changed");
    const nl = legacy.count("notifications/tools/list_changed");
    addPlugin();
    await modern.waitNotification("notifications/tools/list_changed", nm + 1);
    await legacy.waitNotification("notifications/tools/list_changed", nl + 1);
    await sub.close();
    const h = await d.health();
    const ws = h.sessions.list.filter((s: { transport: string }) => s.transport === "websocket");
    assert.deepEqual(ws.map((s: { era?: string }) => s.era).sort(), ["2025", MODERN_REVISION]);
    assert.ok(ws.some((s: { clientName?: string }) => s.clientName === "ws-modern"), "a 2026-07-28 connection is named by its first request");
  } finally {
    await closeAll(modern, legacy);
  }
});

test("stdio standalone and attached, both eras", async () => {
  const standalone = ["--standalone", "--plugins", plugins.path];
  const env = { PATCHBAY_HOME: home.path };
  const clients: V2Client[] = [];
  try {
    for (const [args, modern] of [[standalone, true], [standalone, false], [[], true], [[], false]] as const) {
      const c = await v2StdioClient([...args], env, { modern, name: `stdio-${args.length ? "standalone" : "attached"}-${modern ? "modern" : "legacy"}` });
      clients.push(c);
      assert.equal(c.client.getProtocolEra(), modern ? "modern" : "legacy");
      assert.equal(textOf(await c.client.callTool({ name: "echo__say", arguments: { text: "io" } })), "said io");
      const read = await c.client.readResource({ uri: "echo://readme" });
      assert.equal((read.contents[0] as { text: string }).text, "read me");
    }
    // attached clients show in the daemon as stdio sessions of their era
    await waitFor("bridged sessions", async () => {
      const h = await d.health();
      const bridged = h.sessions.list.filter((s: { bridged: boolean }) => s.bridged);
      return bridged.length === 2 && bridged.every((s: { era?: string }) => s.era) ? bridged : undefined;
    });
  } finally {
    await closeAll(...clients);
  }
});

test("2026-07-28: a local client may hold more than 16 subscriptions/listen streams (loopback has no per-address share; listen-caps.test.ts covers the limits)", async () => {
  const c = await v2HttpClient(d.url, { modern: true, name: "listen-many" });
  const subs: { close(): Promise<void> }[] = [];
  try {
    for (let i = 0; i < 20; i++) subs.push(await c.client.listen({ toolsListChanged: true }));
  } finally {
    for (const s of subs) await s.close().catch(() => undefined);
    await c.close();
  }
});
