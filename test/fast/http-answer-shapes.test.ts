/**
 * How /mcp answers a request, in both eras (session-http-transport.ts, stateless-fast-path.ts):
 * a request whose first outbound message is its own response gets one `application/json`
 * body; one that sends progress first gets an SSE stream with the progress before the
 * result; a batch gets a JSON array of its answers in order. A 2026-07-28 request takes the
 * fast path once the SDK has served the instance a first request, and the answer is the same
 * either way. Plus the session transport's own refusals.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { TempDir } from "../helpers/env.ts";
import { startInProcessDaemon, type InProcessDaemon } from "../helpers/in-process.ts";

const plugins = new TempDir("patchbay-shapes-");
let d: InProcessDaemon;
let session: string;
const ACCEPT = "application/json, text/event-stream";
const V2025 = "2025-11-25";
const V2026 = "2026-07-28";
const META_2026 = { "io.modelcontextprotocol/protocolVersion": V2026, "io.modelcontextprotocol/clientCapabilities": {}, "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" } };

before(async () => {
  plugins.file(
    "shapes.mjs",
    `export default { name: "shapes", tools: {
  echo: { handler: ({ text }) => String(text) },
  steps: { handler: async (_args, ctx) => { ctx.progress(1, 2, "half"); ctx.progress(2, 2, "done"); return "stepped"; } },
} };`,
  );
  d = await startInProcessDaemon({ plugins: plugins.path });
  const init = await post({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: V2025, capabilities: {}, clientInfo: { name: "raw", version: "1" } } });
  session = init.headers.get("mcp-session-id")!;
  assert.equal(init.headers.get("content-type"), "application/json");
  await init.text();
  assert.equal((await post({ jsonrpc: "2.0", method: "notifications/initialized" }, session)).status, 202);
});
after(async () => {
  if (session) await fetch(`${d.url}/mcp`, { method: "DELETE", headers: { "mcp-session-id": session, "mcp-protocol-version": V2025 } }).catch(() => undefined);
  await d?.stop();
  plugins.cleanup();
});

function post(body: unknown, sessionId?: string, headers: Record<string, string> = {}) {
  const h: Record<string, string> = { accept: ACCEPT, "content-type": "application/json", "mcp-protocol-version": V2025, ...headers };
  if (sessionId) h["mcp-session-id"] = sessionId;
  return fetch(`${d.url}/mcp`, { method: "POST", headers: h, body: JSON.stringify(body) });
}

function sseData(text: string): any[] {
  return text
    .split("\n")
    .filter((l) => l.startsWith("data: "))
    .map((l) => JSON.parse(l.slice(6)));
}

const call = (id: number | string, name: string, args: Record<string, unknown> = {}, meta?: Record<string, unknown>) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args, ...(meta ? { _meta: meta } : {}) } });

test("2025 session: a tool call answered by its result alone is one application/json body with the session id", async () => {
  const r = await post(call(1, "shapes__echo", { text: "hi" }), session);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get("content-type"), "application/json");
  assert.equal(r.headers.get("mcp-session-id"), session);
  assert.ok(Number(r.headers.get("content-length")) > 0);
  const m = await r.json();
  assert.equal(m.id, 1);
  assert.equal(m.result.content[0].text, "hi");
});

test("2025 session: progress sent before the result switches the answer to SSE, progress first", async () => {
  const r = await post(call(2, "shapes__steps", {}, { progressToken: "p2" }), session);
  assert.equal(r.status, 200);
  assert.match(String(r.headers.get("content-type")), /^text\/event-stream/);
  assert.equal(r.headers.get("mcp-session-id"), session);
  const messages = sseData(await r.text());
  const progress = messages.filter((m) => m.method === "notifications/progress");
  assert.deepEqual(progress.map((m) => m.params.progress), [1, 2]);
  assert.equal(messages.at(-1).id, 2);
  assert.equal(messages.at(-1).result.content[0].text, "stepped");
  assert.ok(messages.indexOf(progress[1]) < messages.length - 1, "progress comes before the result");
});

test("2025 session: a batch from a 2025-03-26 client is answered as one JSON array, in order, even a batch of one", async () => {
  // batching existed until 2025-03-26: a session of that version, with the header or without
  const init = await post({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-03-26", capabilities: {}, clientInfo: { name: "old", version: "1" } } }, undefined, { "mcp-protocol-version": "2025-03-26" });
  const old = init.headers.get("mcp-session-id")!;
  assert.equal((await init.json()).result.protocolVersion, "2025-03-26");
  const noHeader = (body: unknown) => fetch(`${d.url}/mcp`, { method: "POST", headers: { accept: ACCEPT, "content-type": "application/json", "mcp-session-id": old }, body: JSON.stringify(body) });
  for (const send of [(body: unknown) => post(body, old, { "mcp-protocol-version": "2025-03-26" }), noHeader]) {
    const r = await send([call("a", "shapes__echo", { text: "one" }), call("b", "shapes__echo", { text: "two" })]);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "application/json");
    const answers = await r.json();
    assert.ok(Array.isArray(answers));
    assert.deepEqual(answers.map((a: any) => [a.id, a.result.content[0].text]), [["a", "one"], ["b", "two"]]);
    const one = await (await send([call("c", "shapes__echo", { text: "three" })])).json();
    assert.ok(Array.isArray(one), "a batch of one is answered with an array of one (JSON-RPC 2.0, 6)");
    assert.deepEqual(one.map((a: any) => a.id), ["c"]);
  }
});

test("2025 session: a batch on a session of 2025-06-18 or later, which removed batching, is 400 / -32600", async () => {
  const batch = [call("d", "shapes__echo", { text: "one" }), call("e", "shapes__echo", { text: "two" })];
  const noHeader = await fetch(`${d.url}/mcp`, { method: "POST", headers: { accept: ACCEPT, "content-type": "application/json", "mcp-session-id": session }, body: JSON.stringify(batch) });
  for (const r of [await post(batch, session), noHeader]) {
    assert.equal(r.status, 400);
    const body = await r.json();
    assert.equal(body.error.code, -32600);
    assert.match(body.error.message, /batches are not supported in protocol version 2025-11-25/);
  }
});

test("2025 session: a second initialize is -32600; an unsupported MCP-Protocol-Version is 400 / -32000", async () => {
  const again = await post({ jsonrpc: "2.0", id: 3, method: "initialize", params: { protocolVersion: V2025, capabilities: {}, clientInfo: { name: "raw", version: "1" } } }, session);
  assert.equal(again.status, 400);
  assert.equal((await again.json()).error.code, -32600);
  const bad = await post(call(4, "shapes__echo", { text: "x" }), session, { "mcp-protocol-version": "1999-01-01" });
  assert.equal(bad.status, 400);
  const body = await bad.json();
  assert.equal(body.error.code, -32000);
  assert.match(body.error.message, /Unsupported protocol version: 1999-01-01/);
});

test("2025 session: a notification-only POST is 202 and the GET stream is one per session (409)", async () => {
  assert.equal((await post({ jsonrpc: "2.0", method: "notifications/roots/list_changed" }, session)).status, 202);
  const ac = new AbortController();
  const get = () => fetch(`${d.url}/mcp`, { headers: { accept: "text/event-stream", "mcp-session-id": session, "mcp-protocol-version": V2025 }, signal: ac.signal });
  const first = await get();
  assert.equal(first.status, 200);
  assert.match(String(first.headers.get("content-type")), /^text\/event-stream/);
  const second = await get();
  assert.equal(second.status, 409);
  ac.abort();
});

const modernHeaders = (name: string) => ({ "mcp-protocol-version": V2026, "mcp-method": "tools/call", "mcp-name": name });

test("2026-07-28: the first answer (SDK entry) and the next ones (fast path) are the same JSON", async () => {
  const bodies: any[] = [];
  for (let i = 1; i <= 3; i++) {
    const r = await post(call(100 + i, "shapes__echo", { text: "same" }, META_2026), undefined, modernHeaders("shapes__echo"));
    assert.equal(r.status, 200);
    assert.match(String(r.headers.get("content-type")), /^application\/json/);
    assert.equal(r.headers.get("mcp-session-id"), null);
    const m = await r.json();
    assert.equal(m.id, 100 + i);
    bodies.push({ ...m, id: 0 });
  }
  assert.equal(bodies[0].result.resultType, "complete");
  assert.deepEqual(bodies[1], bodies[0]);
  assert.deepEqual(bodies[2], bodies[0]);
});

test("2026-07-28: a request the quick route takes and one the SDK's classifier routes (an extra _meta key) get the same answer", async () => {
  const answer = async (id: number, meta: Record<string, unknown>) => {
    const r = await post(call(id, "shapes__echo", { text: "same" }, meta), undefined, modernHeaders("shapes__echo"));
    return { status: r.status, type: r.headers.get("content-type"), body: { ...(await r.json()), id: 0 } };
  };
  const quick = await answer(301, META_2026);
  const classified = await answer(302, { ...META_2026, "vendor.example/tag": "x" });
  assert.equal(quick.status, 200);
  assert.deepEqual(classified, quick);
  // an envelope the shape check does not know is left to the SDK, whose answer names the bad key
  const bad = await post(call(303, "shapes__echo", { text: "same" }, { ...META_2026, "io.modelcontextprotocol/clientCapabilities": { roots: { listChanged: "yes" } } }), undefined, modernHeaders("shapes__echo"));
  assert.equal(bad.status, 400);
  const err = await bad.json();
  assert.equal(err.error.code, -32602);
  assert.match(err.error.message, /clientCapabilities/);
});

test("2026-07-28: progress before the result switches the answer to SSE on the fast path too", async () => {
  for (let i = 1; i <= 2; i++) {
    const r = await post(call(200 + i, "shapes__steps", {}, { ...META_2026, progressToken: `q${i}` }), undefined, modernHeaders("shapes__steps"));
    assert.equal(r.status, 200);
    assert.match(String(r.headers.get("content-type")), /^text\/event-stream/);
    const messages = sseData(await r.text());
    assert.deepEqual(messages.filter((m) => m.method === "notifications/progress").map((m) => m.params.progress), [1, 2]);
    assert.equal(messages.at(-1).result.content[0].text, "stepped");
  }
});

test("2026-07-28: a header that disagrees with the body still gets the SDK's -32020 after the instances are warm", async () => {
  const r = await post(call(300, "shapes__echo", { text: "x" }, META_2026), undefined, modernHeaders("shapes__steps"));
  assert.equal(r.status, 400);
  assert.equal((await r.json()).error.code, -32020);
  const unknown = await post(call(301, "shapes__nope", {}, META_2026), undefined, modernHeaders("shapes__nope"));
  assert.equal(unknown.status, 200);
  assert.equal((await unknown.json()).error.code, -32602);
});
