/**
 * The 2025 lifecycle has `initialize` come first. Streamable HTTP enforces it (no session
 * without it); on legacy SSE, WebSocket and stdio a connection that skips it gets -32600 for
 * anything but `ping`, instead of being served without the client's capabilities, log level
 * or subscriptions — which is what a legacy SSE client whose EventSource reconnected by
 * itself after its session ended would otherwise get. The 2026-07-28 revision has no
 * initialize, and its requests are served as before.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { TempDir } from "./helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "./helpers/daemon.ts";
import { rawSse, rawStdio, rawWebSocket, type RawWire } from "./helpers/raw-wires.ts";

const plugins = new TempDir("patchbay-uninit-");
const home = new TempDir("patchbay-uninit-home-");
let d: RunningDaemon;

before(async () => {
  plugins.file("p.mjs", `export default { tools: { t: { handler: () => "ok" } } };`);
  d = await startDaemonProcess({ plugins: plugins.path });
});
after(async () => {
  await d?.stop();
  plugins.cleanup();
  home.cleanup();
});

const INIT = { jsonrpc: "2.0", id: "init", method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } } };
const CALL = (id: number) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "p__t", arguments: {} } });

/** The same script over any wire: refused before initialize, served after it. */
async function script(wire: RawWire) {
  try {
    const early = await wire.ask(CALL(1));
    assert.equal(early.error?.code, -32600, JSON.stringify(early));
    assert.match(early.error.message, /tools\/call before initialize/);
    assert.equal((await wire.ask({ jsonrpc: "2.0", id: 2, method: "tools/list", params: {} } as { id: number })).error?.code, -32600);
    assert.deepEqual((await wire.ask({ jsonrpc: "2.0", id: 3, method: "ping" } as { id: number })).result, {}, "ping is allowed before initialize");
    assert.equal((await wire.ask(INIT)).result?.serverInfo?.name, "patchbay");
    await wire.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    const served = await wire.ask(CALL(4));
    assert.deepEqual(served.result?.content, [{ type: "text", text: "ok" }], JSON.stringify(served));
  } finally {
    await wire.close();
  }
}

test("WebSocket: a request before initialize gets -32600, ping is answered, and after initialize the call is served", async () => {
  await script(await rawWebSocket(d.url));
});

test("legacy SSE: a request before initialize gets -32600 on the stream, ping is answered, and after initialize the call is served", async () => {
  await script(await rawSse(d.url));
});

test("stdio --standalone: a request before initialize gets -32600, ping is answered, and after initialize the call is served", async () => {
  await script(rawStdio(["--standalone", "--plugins", plugins.path], { PATCHBAY_HOME: home.path }));
});

test("2026-07-28 requests need no initialize: served on a WebSocket as the first message", async () => {
  const ws = await rawWebSocket(d.url);
  try {
    const meta = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}, "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" } };
    const r = await ws.ask({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "p__t", arguments: {}, _meta: meta } } as { id: number });
    assert.deepEqual(r.result?.content, [{ type: "text", text: "ok" }], JSON.stringify(r));
  } finally {
    await ws.close();
  }
});
