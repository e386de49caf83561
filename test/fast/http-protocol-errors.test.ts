/**
 * Raw HTTP requests against /mcp and the shared checks: every refusal the Streamable HTTP
 * spec and our security defaults define, with its status code and JSON-RPC error.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { TempDir, waitFor } from "../helpers/env.ts";
import { startInProcessDaemon, type InProcessDaemon } from "../helpers/in-process.ts";
import { httpClient } from "../helpers/clients.ts";
import { gzipSync } from "node:zlib";

const plugins = new TempDir("patchbay-http-");
let d: InProcessDaemon;
let port: number;
const ACCEPT = "application/json, text/event-stream";
const INIT = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } } };

/** A raw request, so we control every header (fetch would not let us set Host). */
function raw(method: string, path: string, headers: Record<string, string>, body?: string | Buffer): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let data = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (data += c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: data }));
      // SSE responses stay open; one event is enough
      if (String(res.headers["content-type"]).startsWith("text/event-stream")) res.once("data", () => { res.destroy(); resolve({ status: res.statusCode!, headers: res.headers, body: data }); });
    });
    req.on("error", reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}
const rpcCode = (body: string) => JSON.parse(body).error.code;

before(async () => {
  plugins.file("p.mjs", `export default { tools: { t: { handler: () => "ok" } }, resourceTemplates: { "note://{id}": { read: (uri, { id }) => "note " + id } } };`);
  d = await startInProcessDaemon({ plugins: plugins.path, env: { PATCHBAY_SSE_KEEPALIVE_MS: "200" } });
  port = Number(new URL(d.url).port);
});
after(async () => {
  await d?.stop();
  plugins.cleanup();
});

test("POST with a wrong Accept → 406", async () => {
  const r = await raw("POST", "/mcp", { accept: "application/json", "content-type": "application/json" }, JSON.stringify(INIT));
  assert.equal(r.status, 406);
});

test("POST with a wrong Content-Type → 415", async () => {
  const r = await raw("POST", "/mcp", { accept: ACCEPT, "content-type": "text/plain" }, JSON.stringify(INIT));
  assert.equal(r.status, 415);
});

test("a compressed body (Content-Encoding: gzip) → 415, not a parse error", async () => {
  const r = await raw("POST", "/mcp", { accept: ACCEPT, "content-type": "application/json", "content-encoding": "gzip" }, gzipSync(JSON.stringify(INIT)));
  assert.equal(r.status, 415);
  assert.match(JSON.parse(r.body).error.message, /Content-Encoding gzip is not supported/);
});

test("two Mcp-Session-Id headers (which Node joins into one value) → 400, not 404", async () => {
  const r = await raw("POST", "/mcp", { accept: ACCEPT, "content-type": "application/json", "mcp-session-id": ["a", "b"] as unknown as string }, JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }));
  assert.equal(r.status, 400);
  assert.match(JSON.parse(r.body).error.message, /more than one Mcp-Session-Id header/);
});

test("a URI over the SDK's template matcher limit (1,000,000 characters) is an unknown resource (-32602), not an internal error", async () => {
  const c = await httpClient(d.url);
  try {
    assert.deepEqual((await c.client.readResource({ uri: "note://7" })).contents.map((x: any) => x.text), ["note 7"]);
    for (const uri of [`note://${"x".repeat(1_000_001)}`, `zz://${"x".repeat(1_000_001)}`]) {
      await assert.rejects(c.client.readResource({ uri }), (e: any) => e.code === -32602, `read ${uri.slice(0, 10)}`);
      // a subscription to a URI nothing serves yet is taken (a plugin may serve it later); never an internal error
      await c.client.subscribeResource({ uri }).catch((e: any) => assert.notEqual(e.code, -32603, `subscribe ${uri.slice(0, 10)}: ${e.message}`));
    }
  } finally {
    await c.close();
  }
});

test("the read-only routes refuse other methods with 405 and Allow; a plain request to /ws is 426 with Upgrade", async () => {
  for (const path of ["/", "/healthz", "/metrics", "/dashboard/app.js"]) {
    for (const method of ["POST", "PUT", "DELETE"]) {
      const r = await raw(method, path, {});
      assert.equal(r.status, 405, `${method} ${path}: ${r.body}`);
      assert.equal(r.headers.allow, "GET, HEAD", `${method} ${path}`);
    }
  }
  assert.equal((await raw("HEAD", "/healthz", {})).status, 200);
  assert.equal((await raw("GET", "/healthz", {})).status, 200);
  const ws = await raw("GET", "/ws", {});
  assert.equal(ws.status, 426);
  assert.equal(ws.headers.upgrade, "websocket");
});

test("malformed JSON → 400 with -32700", async () => {
  const r = await raw("POST", "/mcp", { accept: ACCEPT, "content-type": "application/json" }, "{ not json");
  assert.equal(r.status, 400);
  assert.equal(rpcCode(r.body), -32700);
});

test("a JSON value that is not a message → 400 with -32600", async () => {
  const r = await raw("POST", "/mcp", { accept: ACCEPT, "content-type": "application/json" }, "42");
  assert.equal(r.status, 400);
  assert.equal(rpcCode(r.body), -32600);
});

test("a non-initialize request without a session id → 400", async () => {
  const r = await raw("POST", "/mcp", { accept: ACCEPT, "content-type": "application/json" }, JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }));
  assert.equal(r.status, 400);
  assert.match(r.body, /Mcp-Session-Id header is required/);
});

test("an unknown session id → 404 on POST, GET and DELETE", async () => {
  for (const method of ["POST", "GET", "DELETE"]) {
    const r = await raw(method, "/mcp", { accept: ACCEPT, "content-type": "application/json", "mcp-session-id": "no-such-session" }, method === "POST" ? JSON.stringify({ jsonrpc: "2.0", id: 3, method: "ping" }) : undefined);
    assert.equal(r.status, 404, method);
  }
});

test("GET without a session id → 400; PUT → 405 with Allow", async () => {
  assert.equal((await raw("GET", "/mcp", { accept: "text/event-stream" })).status, 400);
  const put = await raw("PUT", "/mcp", {}, "");
  assert.equal(put.status, 405);
  assert.equal(put.headers.allow, "GET, POST, DELETE");
});

test("a body over 4 MiB → 413", async () => {
  const big = JSON.stringify({ ...INIT, params: { ...INIT.params, pad: "x".repeat(4 * 1024 * 1024 + 10) } });
  const r = await raw("POST", "/mcp", { accept: ACCEPT, "content-type": "application/json" }, big);
  assert.equal(r.status, 413);
});

test("a bad MCP-Protocol-Version on a session request → 400", async () => {
  const init = await raw("POST", "/mcp", { accept: ACCEPT, "content-type": "application/json" }, JSON.stringify(INIT));
  assert.equal(init.status, 200);
  const sid = String(init.headers["mcp-session-id"]);
  assert.ok(sid.length > 10);
  const r = await raw("POST", "/mcp", { accept: ACCEPT, "content-type": "application/json", "mcp-session-id": sid, "mcp-protocol-version": "1999-01-01" }, JSON.stringify({ jsonrpc: "2.0", id: 9, method: "ping" }));
  assert.equal(r.status, 400);
  assert.match(r.body, /protocol version/i);
  // DELETE ends the session; it is unknown afterwards
  const del = await raw("DELETE", "/mcp", { "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25" });
  assert.equal(del.status, 200);
  const after = await raw("POST", "/mcp", { accept: ACCEPT, "content-type": "application/json", "mcp-session-id": sid }, JSON.stringify({ jsonrpc: "2.0", id: 10, method: "ping" }));
  assert.equal(after.status, 404);
});

test("a foreign Host header → 403 (DNS rebinding protection)", async () => {
  const r = await raw("POST", "/mcp", { host: "evil.example:80", accept: ACCEPT, "content-type": "application/json" }, JSON.stringify(INIT));
  assert.equal(r.status, 403);
  const h = await raw("GET", "/healthz", { host: "evil.example" });
  assert.equal(h.status, 403);
});

test("a foreign Origin → 403; our own origin is fine", async () => {
  const bad = await raw("POST", "/mcp", { origin: "https://evil.example", accept: ACCEPT, "content-type": "application/json" }, JSON.stringify(INIT));
  assert.equal(bad.status, 403);
  const good = await raw("GET", "/healthz", { origin: `http://127.0.0.1:${port}` });
  assert.equal(good.status, 200);
  const localhost = await raw("GET", "/healthz", { host: `localhost:${port}`, origin: `http://localhost:${port}` });
  assert.equal(localhost.status, 200);
});

test("unknown paths → 404", async () => {
  assert.equal((await raw("GET", "/nope", {})).status, 404);
});

test("a DELETE from the SDK client ends its session", async () => {
  const c = await httpClient(d.url);
  const before = (await d.health()).sessions.open;
  await (c.client.transport as any).terminateSession();
  await c.close();
  const after = (await d.health()).sessions.open;
  assert.equal(after, before - 1);
});

test("legacy SSE: /messages without a sessionId → 400, unknown → 404, GET → 405, wrong type → 415", async () => {
  assert.equal((await raw("POST", "/messages", { "content-type": "application/json" }, "{}")).status, 400);
  assert.equal((await raw("POST", "/messages?sessionId=nope", { "content-type": "application/json" }, "{}")).status, 404);
  assert.equal((await raw("GET", "/messages?sessionId=nope", {})).status, 405);
  assert.equal((await raw("POST", "/sse", {}, "")).status, 405);
});

test("legacy SSE: the stream announces its endpoint, keeps alive with comments, and rejects bad bodies", async () => {
  const { endpoint, text, close } = await openSseStream();
  try {
    assert.match(endpoint, /^\/messages\?sessionId=/);
    await waitFor("keepalive comment", () => text().includes(": keepalive") || undefined);
    assert.equal((await raw("POST", endpoint, { "content-type": "text/plain" }, "{}")).status, 415);
    const bad = await raw("POST", endpoint, { "content-type": "application/json" }, "{ nope");
    assert.equal(bad.status, 400);
    assert.equal(rpcCode(bad.body), -32700);
    const ok = await raw("POST", endpoint, { "content-type": "application/json" }, JSON.stringify(INIT));
    assert.equal(ok.status, 202);
    await waitFor("initialize answer on the stream", () => text().includes('"serverInfo"') || undefined);
  } finally {
    close();
  }
});

/** Opens a legacy SSE stream; resolves with its /messages endpoint and everything it has sent. */
async function openSseStream(): Promise<{ endpoint: string; text: () => string; close: () => void }> {
  const { chunks, close } = await new Promise<{ chunks: string[]; close: () => void }>((resolve, reject) => {
    const got: string[] = [];
    const req = request({ host: "127.0.0.1", port, method: "GET", path: "/sse", headers: { host: `127.0.0.1:${port}`, accept: "text/event-stream" } }, (res) => {
      res.setEncoding("utf8");
      res.on("data", (c) => got.push(c));
      resolve({ chunks: got, close: () => res.destroy() });
    });
    req.on("error", reject);
    req.end();
  });
  const endpoint = await waitFor("endpoint event", () => /event: endpoint\ndata: (\S+)/.exec(chunks.join(""))?.[1]);
  return { endpoint, text: () => chunks.join(""), close };
}

const deepArray = (n: number) => "[".repeat(n) + "]".repeat(n);

test("legacy SSE: well-formed JSON that is not one JSON-RPC message → 400 with a JSON -32600, its id when readable, else null", { timeout: 60_000 }, async () => {
  const sse = await openSseStream();
  try {
    const notMessages = ["42", "null", '"text"', "{}", '{"foo":1}', "[]", JSON.stringify([{ jsonrpc: "2.0", id: 1, method: "ping" }]), JSON.stringify({ jsonrpc: "1.0", id: 1, method: "ping" }), JSON.stringify({ jsonrpc: "2.0", id: {}, method: "ping" })];
    for (const body of notMessages) {
      const r = await raw("POST", sse.endpoint, { "content-type": "application/json" }, body);
      assert.equal(r.status, 400, body);
      assert.match(String(r.headers["content-type"]), /^application\/json/, body);
      const sent = JSON.parse(body);
      const id = typeof sent?.id === "number" ? sent.id : null;
      assert.deepEqual(JSON.parse(r.body), { jsonrpc: "2.0", error: { code: -32600, message: JSON.parse(r.body).error.message }, id }, body);
    }
    // the session is still usable
    assert.equal((await raw("POST", sse.endpoint, { "content-type": "application/json" }, JSON.stringify(INIT))).status, 202);
    await waitFor("initialize answer on the stream", () => sse.text().includes('"serverInfo"') || undefined);
  } finally {
    sse.close();
  }
});

test("legacy SSE: bodies that used to leave the request hanging get an answer", { timeout: 60_000 }, async () => {
  const sse = await openSseStream();
  try {
    const post = async (body: string) => {
      const r = await fetch(`${d.url}${sse.endpoint}`, { method: "POST", headers: { "content-type": "application/json" }, body });
      return { status: r.status, json: await r.json() };
    };
    // a 100k-deep array: the SDK's error text for it overflowed the stack
    const deep = await post(deepArray(100_000));
    assert.equal(deep.status, 400);
    assert.equal(deep.json.error.code, -32600);
    assert.equal(deep.json.id, null);
    // an object whose toString is not a function: String(body) throws too
    const toStringKey = await post(JSON.stringify({ jsonrpc: "2.0", id: 7, method: "ping", toString: 1 }));
    assert.equal(toStringKey.status, 400);
    assert.equal(toStringKey.json.error.code, -32600);
    // deep nesting inside a message is refused too, before anything walks it, with the message's id
    const inside = await post(`{"jsonrpc":"2.0","id":41,"method":"ping","params":{"x":${deepArray(100_000)}}}`);
    assert.deepEqual([inside.status, inside.json.error.code, inside.json.id], [400, -32600, 41]);
    // and the session still answers
    assert.equal((await raw("POST", sse.endpoint, { "content-type": "application/json" }, JSON.stringify({ jsonrpc: "2.0", id: 42, method: "ping" }))).status, 202);
    await waitFor("the ping's answer on the stream", () => sse.text().includes('"id":42') || undefined);
  } finally {
    sse.close();
  }
  assert.equal((await raw("GET", "/healthz", {})).status, 200);
});
