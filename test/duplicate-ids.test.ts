/**
 * A request whose id is still in flight on the same connection is refused with -32600, on
 * every transport, as Streamable HTTP always did: otherwise both answers carry one id, and a
 * client's cancel of that id reaches whichever call the server found first. The first
 * request still gets its answer, and once it has, the id may be used again.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { TempDir, waitFor } from "./helpers/env.ts";
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
    `import { existsSync, writeFileSync } from "node:fs";
export default { tools: {
  slow: { handler: () => new Promise((r) => { const t = setInterval(() => existsSync(${JSON.stringify(release)}) && (clearInterval(t), r("slow")), 20); }) },
  held: { handler: () => { writeFileSync(${JSON.stringify(release + ".started")}, ""); return new Promise((r) => { const t = setInterval(() => existsSync(${JSON.stringify(release)}) && (clearInterval(t), r("held")), 20); }); } },
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

/**
 * A cancelled request is over for the client: its id may be used again at once, though the
 * server never answers it. On a 2025 Streamable HTTP session the cancelled id once stayed
 * "in flight" for the rest of the session (refused with -32600), while every other transport
 * accepted it.
 */
const cancelled = (requestId: number | string) => ({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId, reason: "test" } });

async function cancelScript(wire: RawWire) {
  rmSync(release, { force: true });
  try {
    await wire.ask({ jsonrpc: "2.0", id: "init", method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } } } as { id: string });
    await wire.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    await wire.send(call(9, "p__slow"));
    await wire.send(cancelled(9));
    assert.deepEqual((await wire.ask(call(9, "p__fast"))).result?.content, [{ type: "text", text: "fast" }], "the cancelled id is free again");
  } finally {
    writeFileSync(release, "");
    await wire.close();
  }
}

test("WebSocket, legacy SSE, stdio: a cancelled request's id may be used again at once", async () => {
  await cancelScript(await rawWebSocket(d.url));
  await cancelScript(await rawSse(d.url));
  await cancelScript(rawStdio(["--standalone", "--plugins", plugins.path], { PATCHBAY_HOME: home.path }));
});

test("Streamable HTTP (2025 session): a cancelled request's id may be used again at once, and the cancelled POST's stream ends", async () => {
  rmSync(release, { force: true });
  const mcp = `${d.url}/mcp`;
  const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
  const post = (body: object, sid?: string) => fetch(mcp, { method: "POST", headers: sid ? { ...headers, "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25" } : headers, body: JSON.stringify(body) });
  try {
    const init = await post({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } } });
    const sid = init.headers.get("mcp-session-id")!;
    await init.text();
    assert.equal((await post({ jsonrpc: "2.0", method: "notifications/initialized" }, sid)).status, 202);
    rmSync(release + ".started", { force: true });
    const slow = post(call(9, "p__held"), sid);
    // the call is in flight once its plugin has started it
    await waitFor("the held call to start", () => existsSync(release + ".started") || undefined, 30_000);
    assert.equal((await post(cancelled(9), sid)).status, 202);
    const again = await post(call(9, "p__fast"), sid);
    const body = await again.text();
    assert.equal(again.status, 200, body);
    assert.deepEqual(JSON.parse(body.startsWith("{") ? body : (/^data: (.*)$/m.exec(body)?.[1] ?? "null")).result?.content, [{ type: "text", text: "fast" }], "the cancelled id is free again");
    // the cancelled request's POST ends without an answer (as on close), rather than hanging
    const first = await (await slow).text();
    assert.doesNotMatch(first, /"result"/);
  } finally {
    writeFileSync(release, "");
  }
});
