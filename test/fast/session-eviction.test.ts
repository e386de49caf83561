/**
 * A full session table makes room by evicting idle sessions (least recently used, the ones
 * with no open connection first), keeps room for every transport, and still refuses (503)
 * when every session it could evict is busy or still listening on its GET stream
 * (session-burst.test.ts: bursts of departing clients and the order of eviction).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import type { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { TempDir, waitFor } from "../helpers/env.ts";
import { startInProcessDaemon, type InProcessDaemon } from "../helpers/in-process.ts";
import { httpClient, textOf, wsClient, type RecordingClient } from "../helpers/clients.ts";
import { rawSse, type RawWire } from "../helpers/raw-wires.ts";

/** `wait` blocks until `release`; `waiting` says how many calls are blocked. */
const GATE = `
let waiters = 0;
let open;
let gate = new Promise((r) => (open = r));
export default {
  name: "gate",
  tools: {
    wait: { handler: async () => { waiters++; await gate; waiters--; return "released"; } },
    waiting: { handler: () => String(waiters) },
    release: { handler: () => { open(); gate = new Promise((r) => (open = r)); return "ok"; } },
  },
};
`;

const plugins = new TempDir("patchbay-evict-");
let d: InProcessDaemon;
const ACCEPT = "application/json, text/event-stream";

before(async () => {
  plugins.file("gate.mjs", GATE);
  // a table of 4: each transport may hold 3; any session with nothing in flight may go
  d = await startInProcessDaemon({ plugins: plugins.path, env: { PATCHBAY_MAX_SESSIONS: "4", PATCHBAY_SESSION_EVICT_AFTER_IDLE_MS: "0" } });
});
after(async () => {
  await d?.stop();
  plugins.cleanup();
});

const sessionIdOf = (c: RecordingClient) => (c.client.transport as StreamableHTTPClientTransport).sessionId!;
const openSessions = async () => (await d.health()).sessions.open as number;

async function post(sessionId: string, body: unknown) {
  return fetch(`${d.url}/mcp`, { method: "POST", headers: { accept: ACCEPT, "content-type": "application/json", "mcp-session-id": sessionId, "mcp-protocol-version": "2025-11-25" }, body: JSON.stringify(body) });
}

/** Closes clients politely (HTTP ones with DELETE), so the next test starts with an empty table. */
async function closeAll(clients: RecordingClient[]) {
  await Promise.allSettled(
    clients.map(async (c) => {
      const t = c.client.transport as Partial<StreamableHTTPClientTransport>;
      if (t?.terminateSession) await t.terminateSession().catch(() => undefined);
      await c.close();
    }),
  );
}

test("abandoned Streamable HTTP sessions are evicted for new clients on every transport; the evicted see 404 or a closed socket", async () => {
  // SDK clients that close without DELETE leave their sessions behind
  const abandoned: string[] = [];
  for (let i = 0; i < 6; i++) {
    const c = await httpClient(d.url, { name: `leaver-${i}` });
    await c.client.listTools();
    abandoned.push(sessionIdOf(c));
    await c.close();
  }
  assert.equal(await openSessions(), 3, "HTTP holds at most its share (3 of 4)");
  const live: RecordingClient[] = [];
  try {
    const ws1 = await wsClient(d.url);
    live.push(ws1);
    assert.equal(await openSessions(), 4);
    // the table is full: a new HTTP client and a new WebSocket client still get in
    const http = await httpClient(d.url, { name: "newcomer" });
    live.push(http);
    const ws2 = await wsClient(d.url);
    live.push(ws2);
    assert.equal(await openSessions(), 4);
    // ...by evicting abandoned sessions, not the live WebSocket client that was idle longer
    assert.deepEqual(await ws1.client.ping(), {});
    assert.deepEqual(await http.client.ping(), {});
    assert.deepEqual(await ws2.client.ping(), {});
    for (const id of abandoned.slice(0, 5)) {
      const r = await post(id, { jsonrpc: "2.0", id: 1, method: "ping" });
      assert.equal(r.status, 404, `evicted session ${id} is unknown`);
      await r.body?.cancel();
    }

    // WebSocket at its share (3 of 4): a fourth evicts the least recently used WebSocket
    // session, whose connection is closed
    let closedCount = 0;
    const ws3 = await wsClient(d.url);
    live.push(ws3);
    for (const c of [ws1, ws2, ws3]) c.client.onclose = () => void closedCount++;
    const ws4 = await wsClient(d.url);
    live.push(ws4);
    await waitFor("an evicted WebSocket client is closed", () => closedCount === 1 || undefined);
    assert.deepEqual(await ws4.client.ping(), {});
    assert.deepEqual(await http.client.ping(), {});

    assert.match(d.logs(), /session table full: evicted the least recently used idle session/);
    const metrics = await (await fetch(`${d.url}/metrics`)).text();
    const evicted = [...metrics.matchAll(/^patchbay_sessions_evicted_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    assert.equal(evicted, 3 + 1 + 1 + 1 + 1, metrics.split("\n").filter((l) => l.includes("evicted")).join("\n"));
  } finally {
    await closeAll(live);
  }
});

test("a table full of busy sessions answers 503, and one transport cannot take the whole table", async () => {
  await waitFor("an empty session table", async () => (await openSessions()) === 0 || undefined);
  const clients: RecordingClient[] = [];
  const calls: Promise<unknown>[] = [];
  const call = (c: RecordingClient) => {
    const p = c.client.callTool({ name: "gate__wait", arguments: {} }, undefined, { timeout: 120_000 });
    p.catch(() => undefined); // a failing assertion below closes the clients under it
    calls.push(p);
  };
  try {
    for (let i = 0; i < 3; i++) {
      const c = await httpClient(d.url, { name: `busy-${i}` });
      clients.push(c);
      call(c);
    }
    await waitFor("three calls in flight", async () => textOf(await clients[0].client.callTool({ name: "gate__waiting", arguments: {} })) === "3" || undefined);

    // HTTP holds its share and every HTTP session is busy: a fourth HTTP client is refused...
    const refused = await fetch(`${d.url}/mcp`, { method: "POST", headers: { accept: ACCEPT, "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } } }) });
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("retry-after"), "5");
    assert.match((await refused.json()).error.message, /Too many open sessions/);
    await assert.rejects(httpClient(d.url), (e: { code?: number }) => e.code === 503);
    // ...while the slot it may not take is still there for another transport
    const ws = await wsClient(d.url);
    clients.push(ws);
    call(ws);
    await waitFor("four calls in flight", async () => textOf(await clients[0].client.callTool({ name: "gate__waiting", arguments: {} })) === "4" || undefined);

    // every session busy: nobody is evicted, newcomers on any transport get 503
    await assert.rejects(wsClient(d.url), /503/);
    await assert.rejects(httpClient(d.url), (e: { code?: number }) => e.code === 503);
    assert.equal(await openSessions(), 4);

    await clients[0].client.callTool({ name: "gate__release", arguments: {} });
    for (const r of await Promise.all(calls)) assert.equal(textOf(r), "released");
    // idle again, but each HTTP client still holds its GET stream open: a client still
    // listening keeps its session, so a newcomer is still refused...
    await assert.rejects(httpClient(d.url), (e: { code?: number }) => e.code === 503);
    // ...until one leaves without a DELETE (as the SDK client does on close): its detached
    // session makes room
    await clients[0].close();
    const late = await waitFor("a slot freed by the departed client", () => httpClient(d.url).catch(() => undefined));
    clients.push(late);
    assert.deepEqual(await late.client.ping(), {});
  } finally {
    await closeAll(clients);
  }
});

test("legacy SSE is held to its share of the table too: five streams never hold more than three slots", async () => {
  const streams: AbortController[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      const ac = new AbortController();
      streams.push(ac);
      const res = await fetch(`${d.url}/sse`, { signal: ac.signal });
      assert.equal(res.status, 200, `stream ${i}`);
      const sse = (await d.health()).sessions.byTransport.sse ?? 0;
      assert.ok(sse <= 3, `SSE holds ${sse} of 4 slots after stream ${i}`);
    }
  } finally {
    for (const ac of streams) ac.abort();
  }
  await waitFor("the SSE sessions to close", async () => (await openSessions()) === 0 || undefined);
});

test("a legacy SSE session waiting on a call is busy from its POST until its answer: the idle one is evicted instead", async () => {
  await waitFor("an empty session table", async () => (await openSessions()) === 0 || undefined);
  const wires: RawWire[] = [];
  const open = async () => {
    const w = await rawSse(d.url);
    wires.push(w);
    const init = await w.ask({ jsonrpc: "2.0", id: "init", method: "initialize", params: { protocolVersion: "2024-11-05", capabilities: {}, clientInfo: { name: `sse-${wires.length}`, version: "1" } } } as { id: string });
    assert.equal(init.result?.serverInfo?.name, "patchbay");
    await w.send({ jsonrpc: "2.0", method: "notifications/initialized" });
    return w;
  };
  const tool = (id: number, name: string) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: {} } });
  try {
    // the busy one is the least recently used: only its mark keeps it
    const busy = await open();
    await busy.send(tool(1, "gate__wait"));
    await open();
    const other = await open();
    await waitFor("the call in flight", async () => textOf((await other.ask(tool(2, "gate__waiting"))).result) === "1" || undefined);
    assert.equal((await d.health()).sessions.byTransport.sse, 3, "SSE holds its share (3 of 4)");
    const newcomer = await open();
    assert.equal((await d.health()).sessions.byTransport.sse, 3, "an SSE session made room");
    const names = ((await d.health()).sessions.list as { clientName?: string }[]).map((l) => l.clientName).sort();
    assert.deepEqual(names, ["sse-1", "sse-3", "sse-4"], "the idle session was evicted, not the busy one idle for longer");
    assert.equal(textOf((await newcomer.ask(tool(4, "gate__release"))).result), "ok");
    assert.equal(textOf((await busy.answer(1)).result), "released", "the busy session kept its call");
  } finally {
    await Promise.allSettled(wires.map((w) => w.close()));
  }
  await waitFor("the SSE sessions to close", async () => (await openSessions()) === 0 || undefined);
});

test("a WebSocket that only claims to be a stdio bridge (?via=stdio-bridge without the state file's key) is a plain, evictable WebSocket session", async () => {
  const { WebSocket } = await import("ws");
  const ws = new WebSocket(`${d.url.replace(/^http/, "ws")}/ws?via=stdio-bridge`, ["mcp"]);
  try {
    await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
    ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "impostor", version: "1" } } }));
    const list = await waitFor("the session to show", async () => {
      const l = (await d.health()).sessions.list as { transport: string; bridged?: boolean }[];
      return l.length === 1 ? l : undefined;
    });
    assert.equal(list[0].transport, "websocket");
    assert.notEqual(list[0].bridged, true);
  } finally {
    ws.close();
  }
  await waitFor("the session to close", async () => (await openSessions()) === 0 || undefined);
});
