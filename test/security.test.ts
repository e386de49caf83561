/** Secure defaults and guard rails, against the real daemon with raw requests and SDK clients. */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { request } from "node:http";
import { connect } from "node:net";
import WebSocket from "ws";
import { CLI, TempDir, waitFor } from "./helpers/env.ts";
import { startDaemonProcess } from "./helpers/daemon.ts";
import { httpClient, wsClient, sseClient, textOf } from "./helpers/clients.ts";
import { v2WsClient } from "./helpers/clients-v2.ts";

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
  // 5 s idle: two sessions and a third request surely come before the first goes idle that long
  const d = await startDaemonProcess({ plugins: plugins.path, env: { PATCHBAY_MAX_SESSIONS: "2", PATCHBAY_SESSION_IDLE_TIMEOUT_MS: "5000" } });
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

test("the idle timeout closes idle WebSocket connections, not ones waiting on a long call or holding a 2026-07-28 listen stream", { timeout: 60_000 }, async () => {
  const dir = new TempDir("patchbay-idle-ws-");
  // the long call ends only once the idle connection has been closed by the timeout; 5 s idle:
  // the three connections surely start their call and their stream before that
  const release = dir.join("release");
  dir.file(
    "slow.mjs",
    `import { existsSync } from "node:fs";
export default { tools: { wait: { handler: () => new Promise((r) => { const t = setInterval(() => existsSync(${JSON.stringify(release)}) && (clearInterval(t), r("waited")), 20); }) } } };`,
  );
  const d = await startDaemonProcess({ plugins: dir.path, env: { PATCHBAY_SESSION_IDLE_TIMEOUT_MS: "5000" } });
  const idle = await wsClient(d.url);
  const waiting = await wsClient(d.url);
  const listening = await v2WsClient(d.url, { modern: true });
  try {
    let idleClosed = false;
    idle.client.onclose = () => (idleClosed = true);
    const sub = await listening.client.listen({ toolsListChanged: true });
    // a call that outlasts the idle timeout is answered
    const call = waiting.client.callTool({ name: "slow__wait", arguments: {} }, undefined, { timeout: 120_000 });
    await waitFor("the idle connection closed by the timeout", () => idleClosed || undefined);
    dir.file("release", "");
    assert.equal(textOf(await call), "waited");
    // the listener is still there to hear a change
    const before = listening.count("notifications/tools/list_changed");
    dir.file("late.mjs", `export default { tools: { t: { handler: () => "t" } } };`);
    await listening.waitNotification("notifications/tools/list_changed", before + 1);
    await sub.close();
  } finally {
    await Promise.all([idle, waiting, listening].map((c) => c.close().catch(() => undefined)));
    await d.stop();
    dir.cleanup();
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

/** A raw GET, so the test controls every header (fetch normalises some). */
function rawGet(url: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    request({ host: "127.0.0.1", port, path, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    })
      .on("error", reject)
      .end();
  });
}

/** The status line the daemon answers a raw WebSocket upgrade with. */
function upgradeStatus(url: string, path: string, extraHeaders: Record<string, string>): Promise<number> {
  const port = Number(new URL(url).port);
  const extra = Object.entries(extraHeaders).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => s.write(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-protocol: mcp\r\n${extra}\r\n`));
    let got = "";
    s.setEncoding("utf8").on("data", (c) => {
      got += c;
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
      if (m) {
        s.destroy();
        resolve(Number(m[1]));
      }
    });
    s.on("error", reject);
    s.on("close", () => reject(new Error(`connection closed without a status line: ${JSON.stringify(got)}`)));
  });
}

const MALFORMED_COOKIES = ["patchbay_token=%", "patchbay_token=%E0%A4%A", "theme=dark; patchbay_token=%zz"];
const MALFORMED_AUTH = ["Bearer %", "Bearer", "Basic czNjcmV0LXRva2VuLWZvci10ZXN0cw==", `Bearer ${"x".repeat(8_000)}`, `Bearer ${TOKEN.slice(0, -1)}!`];

test("with a token: a malformed credential (cookie, header, ?token=) is a 401 everywhere, never a 500; /healthz stays public", async () => {
  const d = await startDaemonProcess({ plugins: plugins.path, args: ["--token", TOKEN] });
  try {
    const attempts: [string, Record<string, string>][] = [
      ...MALFORMED_COOKIES.map((cookie): [string, Record<string, string>] => ["", { cookie }]),
      ...MALFORMED_AUTH.map((authorization): [string, Record<string, string>] => ["", { authorization }]),
      ["?token=%", {}],
      ["?token=%E0%A4%A", {}],
      [`?token=${"x".repeat(TOKEN.length)}`, {}],
    ];
    for (const [query, headers] of attempts) {
      for (const path of ["/", "/mcp", "/sse", "/api/overview", "/metrics"]) {
        const r = await rawGet(d.url, `${path}${query}`, headers);
        assert.equal(r.status, 401, `${path}${query} ${JSON.stringify(headers)}`);
      }
      const health = await rawGet(d.url, `/healthz${query}`, headers);
      assert.equal(health.status, 200);
      assert.deepEqual(JSON.parse(health.body), { status: "ok" });
      assert.equal(await upgradeStatus(d.url, `/ws${query}`, headers), 401, `upgrade ${query} ${JSON.stringify(headers)}`);
    }
    // the daemon is still there, and the real token still works
    assert.equal(d.proc.exitCode, null);
    assert.equal((await d.health(TOKEN)).counts.tools, 1);
    assert.equal((await fetch(`${d.url}/?token=${TOKEN}`, { redirect: "manual" })).status, 302);
  } finally {
    await d.stop();
  }
});

test("a client that resets its connection right after an upgrade request does not take the daemon down", async () => {
  const d = await startDaemonProcess({ plugins: plugins.path, args: ["--token", TOKEN] });
  try {
    const port = Number(new URL(d.url).port);
    // Refused upgrades (bad origin, no token, unknown path): the daemon writes its answer
    // into a connection the peer has already reset.
    const refused = [["/ws", "origin: https://evil.example\r\n"], ["/ws", ""], ["/nowhere", `authorization: Bearer ${TOKEN}\r\n`]];
    for (let i = 0; i < 300 && d.proc.exitCode === null; i++) {
      const [path, extra] = refused[i % refused.length];
      await new Promise<void>((resolve) => {
        const s = connect(port, "127.0.0.1", () => {
          s.write(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`);
          s.resetAndDestroy();
          resolve();
        });
        s.on("error", () => resolve());
      });
    }
    assert.equal((await d.health(TOKEN)).status, "ok");
    assert.equal(d.proc.exitCode, null, d.stderr());
  } finally {
    await d.stop();
  }
});

test("an Origin with our host but the wrong scheme (https:) → 403 over HTTP and on a WebSocket upgrade", async () => {
  const d = await startDaemonProcess({ plugins: plugins.path });
  try {
    const { port } = new URL(d.url);
    for (const origin of [`https://127.0.0.1:${port}`, `ws://127.0.0.1:${port}`]) {
      assert.equal((await rawGet(d.url, "/healthz", { origin })).status, 403, origin);
      const mcp = await fetch(`${d.url}/mcp`, { method: "POST", headers: { ...MCP_HEADERS, origin }, body: INIT });
      assert.equal(mcp.status, 403, origin);
      assert.equal((await mcp.json()).error.code, -32000);
      const status = await new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, ["mcp"], { origin });
        ws.on("unexpected-response", (_q, res) => resolve(res.statusCode!));
        ws.on("open", () => reject(new Error("the upgrade should have been refused")));
        ws.on("error", () => undefined);
      });
      assert.equal(status, 403, origin);
    }
    // our own origin is fine, over both
    assert.equal((await rawGet(d.url, "/healthz", { origin: `http://127.0.0.1:${port}` })).status, 200);
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, ["mcp"], { origin: `http://127.0.0.1:${port}` });
    await new Promise((resolve, reject) => ws.on("open", resolve).on("error", reject));
    ws.close();
  } finally {
    await d.stop();
  }
});

test("CLI: a host that only looks like loopback (127.evil.example) is refused without a token; a malformed one names the key", () => {
  const home = new TempDir("patchbay-host-");
  try {
    const run = (host: string) => spawnSync(process.execPath, [CLI, "start", "--host", host, "--port", "0", "--plugins", home.join("none")], { env: { ...process.env, PATCHBAY_HOME: home.path }, encoding: "utf8", timeout: 30_000 });
    for (const host of ["127.evil.example", "127.0.0.1.nip.io", "localhost.evil.example"]) {
      const r = run(host);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`refusing to listen on ${host.replace(/\./g, "\\.")} without a token`));
    }
    for (const host of ["127.0.0.1:8080", "http://127.0.0.1", "[::1]"]) {
      const r = run(host);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /"host": must be an IP address or a hostname/);
    }
  } finally {
    home.cleanup();
  }
});
