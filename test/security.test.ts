/** Secure defaults and guard rails, against the real daemon with raw requests and SDK clients. */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import WebSocket from "ws";
import { TempDir, waitFor } from "./helpers/env.ts";
import { startDaemonProcess } from "./helpers/daemon.ts";
import { httpClient, wsClient, sseClient, textOf } from "./helpers/clients.ts";

const plugins = new TempDir("patchbay-sec-");
plugins.file("p.mjs", `export default { tools: { t: { input: { type: "object", properties: { secret: { type: "string" } } }, handler: () => "ok" } } };`);
after(() => plugins.cleanup());
const TOKEN = "s3cret-token-for-tests";
const INIT = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } } });
const MCP_HEADERS = { accept: "application/json, text/event-stream", "content-type": "application/json" };

test("with a token: every endpoint but /healthz needs it; /healthz says only alive without it", async () => {
  const d = await startDaemonProcess({ plugins: plugins.path, args: ["--token", TOKEN] });
  try {
    const noAuth = await fetch(`${d.url}/mcp`, { method: "POST", headers: MCP_HEADERS, body: INIT });
    assert.equal(noAuth.status, 401);
    assert.match(noAuth.headers.get("www-authenticate") ?? "", /Bearer/);
    const wrong = await fetch(`${d.url}/mcp`, { method: "POST", headers: { ...MCP_HEADERS, authorization: "Bearer nope" }, body: INIT });
    assert.equal(wrong.status, 401);
    for (const path of ["/", "/sse", "/api/overview"]) assert.equal((await fetch(`${d.url}${path}`)).status, 401, path);
    assert.deepEqual(await (await fetch(`${d.url}/healthz`)).json(), { status: "ok" });
    const full = await (await fetch(`${d.url}/healthz`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();
    assert.equal(full.counts.tools, 1);
    // WebSocket upgrade without the token is refused
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${d.url.replace("http", "ws")}/ws`, ["mcp"]);
      ws.on("unexpected-response", (_q, res) => resolve(res.statusCode!));
      ws.on("error", () => undefined);
    });
    assert.equal(status, 401);
    // with the token, every transport works
    for (const make of [httpClient, wsClient, sseClient]) {
      const c = await make(d.url, { token: TOKEN });
      assert.equal(textOf(await c.client.callTool({ name: "p__t", arguments: {} })), "ok");
      await c.close();
    }
    // the dashboard trades ?token= for an HttpOnly cookie
    const redirect = await fetch(`${d.url}/?token=${TOKEN}`, { redirect: "manual" });
    assert.equal(redirect.status, 302);
    const cookie = redirect.headers.get("set-cookie")!;
    assert.match(cookie, /HttpOnly/);
    const page = await fetch(`${d.url}/`, { headers: { cookie: cookie.split(";")[0] } });
    assert.equal(page.status, 200);
    // the state file holds the token for the bridge, readable by the owner only
    const state = JSON.parse(readFileSync(`${d.home}/daemon.json`, "utf8"));
    assert.equal(state.token, TOKEN);
  } finally {
    await d.stop();
  }
});

test("open-session limit → 503; idle sessions are closed and free their slot", async () => {
  const d = await startDaemonProcess({ plugins: plugins.path, env: { PATCHBAY_MAX_SESSIONS: "2", PATCHBAY_SESSION_IDLE_TIMEOUT_MS: "1200" } });
  try {
    const a = await httpClient(d.url);
    const b = await httpClient(d.url);
    const third = await fetch(`${d.url}/mcp`, { method: "POST", headers: MCP_HEADERS, body: INIT });
    assert.equal(third.status, 503);
    assert.equal(third.headers.get("retry-after"), "5");
    await waitFor("idle sessions closed", async () => (await d.health()).sessions.open === 0 || undefined);
    const sid = (a.client.transport as any).sessionId;
    const gone = await fetch(`${d.url}/mcp`, { method: "POST", headers: { ...MCP_HEADERS, "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25" }, body: JSON.stringify({ jsonrpc: "2.0", id: 5, method: "ping" }) });
    assert.equal(gone.status, 404);
    const c = await httpClient(d.url);
    assert.deepEqual(await c.client.ping(), {});
    await Promise.all([a.close(), b.close(), c.close()].map((p) => p.catch(() => undefined)));
  } finally {
    await d.stop();
  }
});

test("rate limit: over the limit a call gets a clear error and the session stays usable", async () => {
  const d = await startDaemonProcess({ plugins: plugins.path, env: { PATCHBAY_RATE_LIMIT_PER_MINUTE: "3" } });
  try {
    const c = await httpClient(d.url);
    for (let i = 0; i < 3; i++) assert.equal(textOf(await c.client.callTool({ name: "p__t", arguments: {} })), "ok");
    await assert.rejects(c.client.callTool({ name: "p__t", arguments: {} }), (e: any) => e.code === -32029 && /Rate limit exceeded: at most 3 calls per minute/.test(e.message));
    assert.deepEqual(await c.client.ping(), {});
    // listing is not a call and is not limited
    assert.equal((await c.client.listTools()).tools.length, 1);
    await c.close();
  } finally {
    await d.stop();
  }
});

test("audit log: one JSON line per call with arguments redacted, rotating by size", async () => {
  const logDir = new TempDir("patchbay-audit-");
  const file = logDir.join("audit.log");
  const d = await startDaemonProcess({ plugins: plugins.path, env: { PATCHBAY_AUDIT_FILE: file } });
  try {
    const c = await httpClient(d.url, { name: "auditor" });
    await c.client.callTool({ name: "p__t", arguments: { secret: "hunter2" } });
    await c.client.callTool({ name: "p__missing", arguments: {} }).catch(() => undefined);
    const lines = await waitFor("audit lines", () => {
      const l = existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").filter(Boolean) : [];
      return l.length >= 2 ? l.map((x) => JSON.parse(x)) : undefined;
    });
    assert.equal(lines[0].method, "tools/call");
    assert.equal(lines[0].name, "p__t");
    assert.equal(lines[0].outcome, "ok");
    assert.equal(lines[0].client, "auditor");
    assert.equal(lines[0].transport, "streamable-http");
    assert.equal(lines[0].arguments, "[redacted]");
    assert.equal(typeof lines[0].durationMs, "number");
    assert.equal(lines[1].outcome, "error");
    assert.ok(!readFileSync(file, "utf8").includes("hunter2"));
    await c.close();
  } finally {
    await d.stop();
    logDir.cleanup();
  }
});
