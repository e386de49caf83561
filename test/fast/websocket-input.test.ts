/** Bad WebSocket input: binary, invalid JSON, oversize, wrong subprotocol, bad Origin. */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import WebSocket from "ws";
import { TempDir, waitFor } from "../helpers/env.ts";
import { startInProcessDaemon, type InProcessDaemon } from "../helpers/in-process.ts";

const plugins = new TempDir("patchbay-ws-");
let d: InProcessDaemon;
let wsUrl: string;

before(async () => {
  plugins.file("p.mjs", `export default { tools: { t: { handler: () => "ok" } } };`);
  d = await startInProcessDaemon({ plugins: plugins.path, env: { PATCHBAY_MAX_BODY_BYTES: "65536" } });
  wsUrl = `${d.url.replace("http", "ws")}/ws`;
});
after(async () => {
  await d?.stop();
  plugins.cleanup();
});

async function open(protocols: string[] = ["mcp"], headers: Record<string, string> = {}) {
  const ws = new WebSocket(wsUrl, protocols, { headers });
  await once(ws, "open");
  return ws;
}
function nextMessage(ws: WebSocket): Promise<any> {
  return new Promise((resolve) => ws.once("message", (d) => resolve(JSON.parse(String(d)))));
}
function closed(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => ws.once("close", (code) => resolve(code)));
}
function refusedStatus(protocols: string[], headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, protocols, { headers });
    ws.on("unexpected-response", (_req, res) => {
      resolve(res.statusCode!);
      res.resume();
      ws.terminate();
    });
    ws.on("open", () => reject(new Error("should have been refused")));
    ws.on("error", () => undefined);
  });
}

test("the mcp subprotocol is negotiated and a message round-trips", async () => {
  const ws = await open();
  assert.equal(ws.protocol, "mcp");
  ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw-ws", version: "1" } } }));
  const res = await nextMessage(ws);
  assert.equal(res.id, 1);
  assert.equal(res.result.serverInfo.name, "patchbay");
  ws.close();
});

test("malformed JSON gets -32700 and the connection stays usable", async () => {
  const ws = await open();
  ws.send("{ not json");
  const err = await nextMessage(ws);
  assert.equal(err.error.code, -32700);
  assert.equal(err.id, null);
  ws.send(JSON.stringify({ hello: "world" }));
  assert.equal((await nextMessage(ws)).error.code, -32600);
  ws.send(JSON.stringify({ jsonrpc: "2.0", id: 7, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "x", version: "1" } } }));
  assert.equal((await nextMessage(ws)).id, 7);
  ws.close();
});

test("a binary frame closes with 1003", async () => {
  const ws = await open();
  const code = closed(ws);
  ws.send(Buffer.from([1, 2, 3]), { binary: true });
  assert.equal(await code, 1003);
});

test("a frame over the size limit closes with 1009", async () => {
  const ws = await open();
  const code = closed(ws);
  ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping", params: { pad: "x".repeat(70_000) } }));
  assert.equal(await code, 1009);
});

test("a missing or wrong subprotocol is refused with 400", async () => {
  assert.equal(await refusedStatus([]), 400);
  assert.equal(await refusedStatus(["graphql-ws"]), 400);
});

test("a foreign Origin is refused with 403", async () => {
  assert.equal(await refusedStatus(["mcp"], { origin: "https://evil.example" }), 403);
});

test("a closed WebSocket frees its session", async () => {
  const ws = await open();
  ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "leaver", version: "1" } } }));
  await nextMessage(ws);
  const before = (await d.health()).sessions.open;
  ws.close();
  await closed(ws);
  await waitFor("the session freed", async () => (await d.health()).sessions.open < before || undefined);
  assert.equal((await d.health()).sessions.open, before - 1);
});
