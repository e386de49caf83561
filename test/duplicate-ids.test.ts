/**
 * A request whose id is still in flight on the same connection is refused with -32600, on
 * every transport, as Streamable HTTP always did: otherwise both answers carry one id, and a
 * client's cancel of that id reaches whichever call the server found first. The first
 * request still gets its answer, and once it has, the id may be used again.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { TempDir } from "./helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "./helpers/daemon.ts";
import { rawSse, rawStdio, rawWebSocket, type RawWire } from "./helpers/raw-wires.ts";

const plugins = new TempDir("patchbay-dupids-");
const home = new TempDir("patchbay-dupids-home-");
const release = home.join("release-slow");
let d: RunningDaemon;

before(async () => {
  // slow ends only once the test lets it (after the refusal), however long the refusal takes
  plugins.file(
    "p.mjs",
    `import { existsSync } from "node:fs";
export default { tools: {
  slow: { handler: () => new Promise((r) => { const t = setInterval(() => existsSync(${JSON.stringify(release)}) && (clearInterval(t), r("slow")), 20); }) },
  fast: { handler: () => "fast" },
} };`,
  );
  d = await startDaemonProcess({ plugins: plugins.path });
});
after(async () => {
  await d?.stop();
  plugins.cleanup();
  home.cleanup();
});

const call = (id: number | string, name: string) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: {} } });

async function script(wire: RawWire) {
  rmSync(release, { force: true });
  try {
    const init = await wire.ask({ jsonrpc: "2.0", id: "init", method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } } } as { id: string });
    assert.equal(init.result?.serverInfo?.name, "patchbay");
    await wire.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    await wire.send(call(7, "p__slow"));
    await wire.send(call(7, "p__fast"));
    // the refusal comes at once, the slow call's answer after it (once the test lets it end)
    const refused = await wire.answer(7);
    assert.equal(refused.error?.code, -32600, JSON.stringify(refused));
    assert.match(refused.error.message, /duplicate request id in flight/);
    writeFileSync(release, "");
    assert.deepEqual((await wire.answer(7)).result?.content, [{ type: "text", text: "slow" }], "the first request still gets its answer");
    // answered: the id is free again
    assert.deepEqual((await wire.ask(call(7, "p__fast"))).result?.content, [{ type: "text", text: "fast" }]);
  } finally {
    await wire.close();
  }
}

test("WebSocket: a request id already in flight is refused with -32600; the first still answers; the id is free afterwards", async () => {
  await script(await rawWebSocket(d.url));
});

test("legacy SSE: a request id already in flight is refused with 400 / -32600; the first still answers; the id is free afterwards", async () => {
  await script(await rawSse(d.url));
});

test("stdio --standalone: a request id already in flight is refused with -32600; the first still answers; the id is free afterwards", async () => {
  await script(rawStdio(["--standalone", "--plugins", plugins.path], { PATCHBAY_HOME: home.path }));
});
