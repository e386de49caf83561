/** WebSocket peers that stop answering pings, or stop reading, are dropped and free their session. */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import WebSocket from "ws";
import { TempDir, waitFor } from "./helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "./helpers/daemon.ts";

const plugins = new TempDir("patchbay-wslive-");
let d: RunningDaemon;

before(async () => {
  plugins.file("big.mjs", `export default { tools: { blob: { handler: () => "x".repeat(60000) } } };`);
  // A live peer has one heartbeat to answer a ping, a silent one is dropped one to two
  // heartbeats after it connects: 2 s, so that a busy machine can neither make a live peer
  // miss its pong nor drop the silent one before the test has looked at its session.
  d = await startDaemonProcess({ plugins: plugins.path, env: { PATCHBAY_WS_HEARTBEAT_MS: "2000", PATCHBAY_MAX_BODY_BYTES: "65536" } });
});
after(async () => {
  await d?.stop();
  plugins.cleanup();
});

const INIT = (id: number) => JSON.stringify({ jsonrpc: "2.0", id, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "ws-liveness", version: "1" } } });
const openSessions = async () => (await d.health()).sessions.open as number;

test("a peer that never answers pings is dropped by the heartbeat", async () => {
  const ws = new WebSocket(`${d.url.replace("http", "ws")}/ws`, ["mcp"], { autoPong: false });
  const closed = once(ws, "close");
  await once(ws, "open");
  ws.send(INIT(1));
  await once(ws, "message");
  assert.equal(await openSessions(), 1);
  const [code] = await closed;
  assert.equal(code, 1006, "terminated without a close handshake");
  await waitFor("session freed", async () => (await openSessions()) === 0 || undefined);
});

test("a live peer answering pings stays connected across several heartbeats", async () => {
  const ws = new WebSocket(`${d.url.replace("http", "ws")}/ws`, ["mcp"]);
  await once(ws, "open");
  ws.send(INIT(1));
  await once(ws, "message");
  let pings = 0;
  ws.on("ping", () => pings++);
  await waitFor("three pings", () => pings >= 3 || undefined);
  assert.equal(ws.readyState, WebSocket.OPEN);
  ws.close();
  await once(ws, "close");
});

test("a peer that stops reading is cut off before the send buffer grows without bound", async () => {
  // a long heartbeat, so only the send-buffer bound can drop this peer
  const slow = await startDaemonProcess({ plugins: plugins.path, env: { PATCHBAY_WS_HEARTBEAT_MS: "600000", PATCHBAY_MAX_BODY_BYTES: "65536" } });
  const ws = new WebSocket(`${slow.url.replace("http", "ws")}/ws`, ["mcp"]);
  await once(ws, "open");
  ws.send(INIT(1));
  await once(ws, "message");
  ws.send(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }));
  // stop reading: the kernel buffers fill, then the server's bufferedAmount grows
  (ws as unknown as { _socket: { pause(): void } })._socket.pause();
  for (let i = 0; i < 400; i++) ws.send(JSON.stringify({ jsonrpc: "2.0", id: 100 + i, method: "tools/call", params: { name: "big__blob", arguments: {} } }));
  try {
    await waitFor("slow reader dropped", async () => (await slow.health()).sessions.open === 0 || undefined, 30_000);
    assert.match(slow.stderr(), /session closed/);
  } finally {
    ws.terminate();
    await slow.stop();
  }
});
