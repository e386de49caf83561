/**
 * Short-lived clients: the official SDK clients connect (initialize), call once and close
 * without a DELETE, which leaves a detached session behind (no GET stream, nothing in
 * flight). A burst of them must see no refusal; a full table evicts detached sessions first,
 * least recently used, and never one whose client is still listening (an open GET stream)
 * or waiting on a call.
 *
 * Before: 400 such clients 10 at a time got 208 refusals (503), 1,000 got 808, from a table
 * of 256 (192 for one transport) that evicted a session only after 60 s idle.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { SessionStore, type SessionHandle, type TransportKind } from "../daemon/session-store.ts";
import { TempDir, waitFor } from "./helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "./helpers/daemon.ts";
import { httpClient, textOf } from "./helpers/clients.ts";
import { v2HttpClient } from "./helpers/clients-v2.ts";

// ── the store's choice, with the clock under the test's control ─────────────────────────

function fakeSession(store: SessionStore, id: string, transport: TransportKind): SessionHandle {
  const now = Date.now();
  const h: SessionHandle = {
    info: { id, transport, startedAt: now, lastActivityAt: now, calls: 0, errors: 0 },
    async close() {
      store.delete(id, "closed");
    },
  };
  store.add(h);
  return h;
}

test("store: a full table evicts detached sessions first, least recently used; never one listening, busy, used within the floor, or stdio", () => {
  // 8 slots, 6 per transport; a detached session may go after 10 s idle (far from the 500 ms
  // "between calls" one, so a paused test process cannot move it past the floor), a connected one after 60 s
  const store = new SessionStore({ maxSessions: 8, idleTimeoutMs: 3_600_000, evictAfterIdleMs: 60_000, evictDetachedAfterIdleMs: 10_000 });
  try {
    const now = Date.now();
    const idle = (h: SessionHandle, ms: number) => (h.info.lastActivityAt = now - ms);
    const gone = (id: string) => store.get(id) === undefined;
    const listening = fakeSession(store, "listening", "streamable-http");
    store.streamOpened("listening");
    idle(listening, 600_000);
    const calling = fakeSession(store, "calling", "streamable-http");
    store.busy("calling");
    idle(calling, 600_000);
    /** a client that closed its GET stream (what the SDK clients do on close()) */
    const left = (id: string, ms: number) => {
      const h = fakeSession(store, id, "streamable-http");
      store.streamOpened(id)();
      idle(h, ms);
    };
    left("left-30s", 30_000);
    left("left-20s", 20_000);
    idle(fakeSession(store, "between-calls", "streamable-http"), 500);
    // no stream ever: a client that does not listen, or is between initialize and its first call
    idle(fakeSession(store, "no-stream-40s", "streamable-http"), 40_000);
    assert.equal(store.size, 6);

    // HTTP holds its share: each newcomer takes a detached session's slot, those whose
    // client closed its stream first, least recently used first
    for (const expected of ["left-30s", "left-20s", "no-stream-40s"]) {
      assert.deepEqual(store.admit("streamable-http"), { ok: true });
      assert.ok(gone(expected), `${expected} evicted`);
      fakeSession(store, `new-${expected}`, "streamable-http");
    }
    // the three newcomers were just used, one client is between two calls (500 ms), one
    // listens on a GET stream, one waits on a call: none may go
    const refused = store.admit("streamable-http");
    assert.equal(refused.ok, false);
    for (const id of ["listening", "calling", "between-calls"]) assert.ok(!gone(id), `${id} kept`);

    // a connected session (WebSocket) idle for minutes goes only after every detached one
    const ws = fakeSession(store, "ws-idle", "websocket");
    idle(ws, 300_000);
    const stdio = fakeSession(store, "stdio", "stdio");
    idle(stdio, 3_600_000);
    assert.equal(store.size, 8);
    idle(store.get("new-left-30s")!, 20_000);
    assert.deepEqual(store.admit("websocket"), { ok: true });
    assert.ok(gone("new-left-30s"), "the detached session (20 s) went before the WebSocket idle for 5 min");
    fakeSession(store, "ws-new", "websocket");
    assert.deepEqual(store.admit("websocket"), { ok: true });
    assert.ok(gone("ws-idle"), "then the WebSocket idle past evictAfterIdleMs");
    fakeSession(store, "ws-new2", "websocket");
    assert.equal(store.admit("websocket").ok, false, "stdio is never evicted, and the rest are recent, listening or busy");
    assert.ok(!gone("stdio"));
  } finally {
    void store.closeAll("test end");
  }
});

// ── real daemons, real SDK clients ───────────────────────────────────────────────────────

/** `wait` blocks until `release`; `say` answers at once. */
const PLUGIN = `
let open;
let gate = new Promise((r) => (open = r));
export default {
  name: "burst",
  tools: {
    say: { handler: async () => "hi" },
    wait: { handler: async () => { await gate; return "released"; } },
    release: { handler: () => { open(); gate = new Promise((r) => (open = r)); return "ok"; } },
  },
};
`;
const ACCEPT = "application/json, text/event-stream";
const plugins = new TempDir("patchbay-burst-");
before(() => void plugins.file("burst.mjs", PLUGIN));
after(() => plugins.cleanup());

/** `n` SDK clients (v1 and v2 in turn), `concurrency` at a time: connect, call once, close (no DELETE). */
async function burst(url: string, n: number, concurrency: number) {
  let next = 0;
  let refused = 0;
  const failures: string[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        try {
          const c = i % 2 ? await v2HttpClient(url, { name: `burst-v2-${i}`, canAnswer: false }) : await httpClient(url, { name: `burst-v1-${i}` });
          assert.equal(textOf(await c.client.callTool({ name: "burst__say", arguments: {} })), "hi");
          await c.close();
        } catch (err) {
          const e = err as { code?: number; message?: string };
          if (e.code === 503 || /Too many open sessions/.test(String(e.message))) refused++;
          failures.push(String(e.message ?? err).slice(0, 200));
        }
      }
    }),
  );
  return { refused, failures };
}

/** A 2025 session over raw HTTP (no SDK client): its id. */
async function rawSession(url: string, name: string): Promise<string> {
  const r = await fetch(`${url}/mcp`, { method: "POST", headers: { accept: ACCEPT, "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name, version: "1" } } }) });
  assert.equal(r.status, 200, await r.clone().text());
  await r.text();
  const id = r.headers.get("mcp-session-id")!;
  const n = await post(url, id, { jsonrpc: "2.0", method: "notifications/initialized" });
  assert.equal(n.status, 202);
  return id;
}

function post(url: string, sessionId: string, body: unknown, signal?: AbortSignal) {
  return fetch(`${url}/mcp`, { method: "POST", signal, headers: { accept: ACCEPT, "content-type": "application/json", "mcp-session-id": sessionId, "mcp-protocol-version": "2025-11-25" }, body: JSON.stringify(body) });
}

async function pingStatus(url: string, sessionId: string): Promise<number> {
  const r = await post(url, sessionId, { jsonrpc: "2.0", id: "ping", method: "ping" });
  await r.body?.cancel();
  return r.status;
}

async function evictedCount(url: string): Promise<number> {
  const metrics = await (await fetch(`${url}/metrics`)).text();
  return [...metrics.matchAll(/^patchbay_sessions_evicted_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

test("1,000 short-lived SDK clients (v1 and v2), 10 at a time, connect, call and close without DELETE: no refusal, and a client between two calls keeps its session", async (t) => {
  const d: RunningDaemon = await startDaemonProcess({ plugins: plugins.path, env: { PATCHBAY_LOG_LEVEL: "warn" } });
  try {
    await waitFor("the plugin", async () => (await d.health()).plugins?.[0]?.status === "loaded" || undefined);
    // a client that called once before the burst and calls again after it
    const between = await rawSession(d.url, "between-calls");
    assert.equal(await pingStatus(d.url, between), 200);
    const { refused, failures } = await burst(d.url, 1_000, 10);
    t.diagnostic(`refusals: ${refused} of 1000; other failures: ${failures.length - refused}`);
    assert.equal(refused, 0, failures.slice(0, 3).join("\n"));
    assert.deepEqual(failures, []);
    assert.equal(await pingStatus(d.url, between), 200, "the client between two calls still has its session");
    assert.equal(await evictedCount(d.url), 0, "1,000 departed clients fit in the table: nobody was evicted");
    assert.doesNotMatch(d.stderr(), /MaxListenersExceededWarning/);
  } finally {
    await d.stop();
  }
});

test("a small table under a burst: detached sessions are evicted, least recently used first; a client listening on its GET stream or waiting on a call keeps its session", async () => {
  // 80 slots, 60 per transport; detached sessions may go at once (the burst outruns the
  // default floor of 1 s in a table this small). Room for many more departed clients than
  // clients on their way (10): only the least recently used go, never one mid-exchange.
  const d: RunningDaemon = await startDaemonProcess({ plugins: plugins.path, env: { PATCHBAY_MAX_SESSIONS: "80", PATCHBAY_SESSION_EVICT_DETACHED_AFTER_IDLE_MS: "0" } });
  const cleanups: (() => unknown)[] = [];
  try {
    await waitFor("the plugin", async () => (await d.health()).plugins?.[0]?.status === "loaded" || undefined);
    // the oldest session of all, detached: the first to go
    const departed = await rawSession(d.url, "departed");
    const departedStream = await fetch(`${d.url}/mcp`, { headers: { accept: "text/event-stream", "mcp-session-id": departed, "mcp-protocol-version": "2025-11-25" } });
    assert.equal(departedStream.status, 200);
    await departedStream.body?.cancel();
    // a client listening on its GET stream, idle the whole burst long
    const listener = await rawSession(d.url, "listener");
    const get = await fetch(`${d.url}/mcp`, { headers: { accept: "text/event-stream", "mcp-session-id": listener, "mcp-protocol-version": "2025-11-25" } });
    cleanups.push(() => get.body?.cancel().catch(() => undefined));
    assert.equal(get.status, 200);
    // a client with no stream, waiting on a call that lasts the whole burst
    const caller = await rawSession(d.url, "caller");
    const call = new AbortController();
    cleanups.push(() => call.abort());
    const pending = post(d.url, caller, { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "burst__wait", arguments: {} } }, call.signal);
    pending.catch(() => undefined); // aborted at the end if an assertion fails first
    await waitFor("the call to be running", async () => ((await d.health()).sessions.list as { id: string; calls: number }[]).find((s) => s.id === caller)?.calls === 1 || undefined);

    const { refused, failures } = await burst(d.url, 300, 10);
    assert.equal(refused, 0, failures.slice(0, 3).join("\n"));
    assert.deepEqual(failures, []);
    // 303 HTTP sessions through 60 slots, two of them untouchable
    assert.ok((await evictedCount(d.url)) >= 303 - 60, `evicted ${await evictedCount(d.url)}`);
    assert.equal(await pingStatus(d.url, departed), 404, "the departed client's session was evicted (404: initialize again)");
    assert.equal(await pingStatus(d.url, listener), 200, "the listening client kept its session");
    // the caller's call was never cut: it answers once released
    const released = await post(d.url, listener, { jsonrpc: "2.0", id: 8, method: "tools/call", params: { name: "burst__release", arguments: {} } });
    assert.equal(released.status, 200);
    await released.text();
    const answer = await pending;
    assert.equal(answer.status, 200);
    assert.match(await answer.text(), /released/);
    assert.equal(await pingStatus(d.url, caller), 200, "the caller kept its session");
    assert.match(d.stderr(), /evicted the least recently used detached session/);
  } finally {
    for (const c of cleanups) await c();
    await d.stop();
  }
});
