/**
 * A message nested thousands of levels deep is a few kilobytes, far under every size
 * limit, yet it overflows the stack of any recursive walk (the SDK's validators, structured
 * clone). Every transport refuses it with -32600 before anything walks it — the id echoed
 * where it can be read — and the daemon lives on. (It used to die of an uncaught
 * RangeError on /ws and /messages.) stdio is covered in stdio-input.test.ts.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import WebSocket from "ws";
import { TempDir } from "../helpers/env.ts";
import { startInProcessDaemon, type InProcessDaemon } from "../helpers/in-process.ts";
import { httpClient, textOf } from "../helpers/clients.ts";

const plugins = new TempDir("patchbay-deep-");
let d: InProcessDaemon;

before(async () => {
  plugins.file("p.mjs", `export default { tools: { t: { handler: () => "ok" } } };`);
  d = await startInProcessDaemon({ plugins: plugins.path });
});
after(async () => {
  await d?.stop();
  plugins.cleanup();
});

const nested = (levels: number) => "[".repeat(levels) + "]".repeat(levels);
/** an initialize whose capabilities nest `levels` deep: 2,000 levels is about 4 KB */
const deepInit = (id: number, levels = 2000) => `{"jsonrpc":"2.0","id":${id},"method":"initialize","params":{"protocolVersion":"2025-11-25","clientInfo":{"name":"x","version":"1"},"capabilities":{"experimental":{"x":${nested(levels)}}}}}`;
const MCP_HEADERS = { accept: "application/json, text/event-stream", "content-type": "application/json" };

async function alive() {
  const c = await httpClient(d.url);
  try {
    assert.equal(textOf(await c.client.callTool({ name: "p__t", arguments: {} })), "ok");
  } finally {
    await c.close();
  }
}

test("WebSocket: a deeply nested message gets -32600 with its id, and the connection and the daemon stay up", async () => {
  const ws = new WebSocket(`${d.url.replace("http", "ws")}/ws`, ["mcp"]);
  await once(ws, "open");
  const next = () => new Promise<any>((resolve) => ws.once("message", (m) => resolve(JSON.parse(String(m)))));
  ws.send(deepInit(1));
  const refused = await next();
  assert.equal(refused.error?.code, -32600);
  assert.equal(refused.id, 1);
  assert.match(refused.error.message, /nested deeper than 256 levels/);
  ws.send(deepInit(2, 200).replace(nested(200), "{}"));
  assert.equal((await next()).result?.serverInfo?.name, "patchbay", "the same connection still initializes");
  ws.close();
  await alive();
});

test("legacy SSE: a deeply nested message posted to /messages gets 400 / -32600 with its id, and the daemon stays up", async () => {
  const ac = new AbortController();
  const stream = await fetch(`${d.url}/sse`, { headers: { accept: "text/event-stream" }, signal: ac.signal });
  const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/event: endpoint\ndata: (.*)\n/.test(text)) text += (await reader.read()).value ?? "";
  const endpoint = new URL(/event: endpoint\ndata: (.*)\n/.exec(text)![1], d.url).href;
  try {
    const r = await fetch(endpoint, { method: "POST", headers: { "content-type": "application/json" }, body: deepInit(3) });
    assert.equal(r.status, 400);
    const body = await r.json();
    assert.equal(body.error.code, -32600);
    assert.equal(body.id, 3);
    assert.match(body.error.message, /nested deeper than 256 levels/);
  } finally {
    ac.abort();
  }
  await alive();
});

test("Streamable HTTP: a deeply nested initialize, or a request on a session, gets 400 / -32600 with its id, not a 500", async () => {
  const r = await fetch(`${d.url}/mcp`, { method: "POST", headers: MCP_HEADERS, body: deepInit(4) });
  assert.equal(r.status, 400);
  const body = await r.json();
  assert.deepEqual([body.error.code, body.id], [-32600, 4]);
  const c = await httpClient(d.url);
  try {
    const sid = (c.client.transport as { sessionId?: string }).sessionId!;
    const onSession = await fetch(`${d.url}/mcp`, {
      method: "POST",
      headers: { ...MCP_HEADERS, "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25" },
      body: `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"p__t","arguments":{"a":${nested(3000)}}}}`,
    });
    assert.equal(onSession.status, 400);
    assert.deepEqual(((await onSession.json()) as any).id, 5);
    assert.equal(textOf(await c.client.callTool({ name: "p__t", arguments: {} })), "ok", "the session is unharmed");
  } finally {
    await c.close();
  }
});
