/**
 * The edges of token auth. OAuth discovery documents: Patchbay has no authorization server,
 * so every discovery path answers 404 — before the token check. A 401 there (what any other
 * path gets without the token) tells clients such as mcp-remote to start an OAuth sign-in
 * that can never finish. And a token with URL characters still works from the printed link.
 */
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { TempDir } from "./helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "./helpers/daemon.ts";

const TOKEN = "discovery-test-token";
const plugins = new TempDir("patchbay-auth-edges-");
let withToken: RunningDaemon;
let open: RunningDaemon;
before(async () => {
  plugins.file("p.mjs", `export default { tools: { t: { handler: () => "ok" } } };`);
  withToken = await startDaemonProcess({ plugins: plugins.path, args: ["--token", TOKEN] });
  open = await startDaemonProcess({ plugins: plugins.path });
});
after(async () => {
  await withToken?.stop();
  await open?.stop();
  plugins.cleanup();
});

// The paths the MCP SDKs (and so mcp-remote, Inspector, Claude) try, for a server at /mcp.
const DISCOVERY = [
  "/.well-known/oauth-protected-resource",
  "/.well-known/oauth-protected-resource/mcp",
  "/.well-known/oauth-authorization-server",
  "/.well-known/oauth-authorization-server/mcp",
  "/.well-known/openid-configuration",
  "/.well-known/openid-configuration/mcp",
  "/mcp/.well-known/openid-configuration",
];

test("every OAuth discovery path answers 404 without a token, with or without one configured, for GET, HEAD and OPTIONS", async () => {
  for (const d of [withToken, open]) {
    for (const path of DISCOVERY) {
      for (const method of ["GET", "HEAD", "OPTIONS"]) {
        const res = await fetch(`${d.url}${path}`, { method, headers: { "mcp-protocol-version": "2025-11-25" } });
        assert.equal(res.status, 404, `${method} ${path}`);
        assert.equal(res.headers.get("www-authenticate"), null, `${method} ${path}`);
        if (method === "GET") assert.match((await res.json()).error, /no OAuth authorization server: send Authorization: Bearer <token>/, path);
        else await res.arrayBuffer();
      }
    }
  }
});

test("the token still guards everything else: /mcp and other /.well-known paths answer 401, and 404 only with the token", async () => {
  const mcp = await fetch(`${withToken.url}/mcp`, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body: "{}" });
  assert.equal(mcp.status, 401);
  assert.match(mcp.headers.get("www-authenticate") ?? "", /^Bearer/);
  await mcp.arrayBuffer();
  const other = await fetch(`${withToken.url}/.well-known/something-else`);
  assert.equal(other.status, 401);
  await other.arrayBuffer();
  const authorized = await fetch(`${withToken.url}/.well-known/something-else`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(authorized.status, 404);
  await authorized.arrayBuffer();
});

test("a foreign Origin on a discovery path is still refused first (403)", async () => {
  const res = await fetch(`${withToken.url}/.well-known/oauth-protected-resource`, { headers: { origin: "http://evil.example" } });
  assert.equal(res.status, 403);
  await res.arrayBuffer();
});

test("a token with characters a URL gives meaning to works in the printed dashboard link", async () => {
  const token = "a b#c&d%e+f";
  const d = await startDaemonProcess({ plugins: plugins.path, args: ["--token", token] });
  try {
    const link = /Dashboard:\s+(\S+)/.exec(d.stdout())![1];
    const res = await fetch(link, { redirect: "manual" });
    assert.equal(res.status, 302);
    await res.arrayBuffer();
    const api = await fetch(`${d.url}/api/overview`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(api.status, 200);
    await api.arrayBuffer();
  } finally {
    await d.stop();
  }
});
