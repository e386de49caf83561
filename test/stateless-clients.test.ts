/**
 * Stateless (2026-07-28) clients have no session; the store remembers the recent ones by
 * what they say they are, in a bounded list, so the dashboard can show them without
 * pretending they are sessions.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { MAX_STATELESS_CLIENTS, SessionStore } from "../daemon/session-store.ts";
import { statelessSummary } from "../daemon/health.ts";

test("recent stateless clients: one entry per client, most recent first, bounded, names clipped", async () => {
  const store = new SessionStore({ maxSessions: 4, idleTimeoutMs: 60_000 });
  try {
    const a = store.seenStateless({ clientName: "a", clientVersion: "1", protocolVersion: "2026-07-28", transport: "streamable-http" });
    a.calls++;
    store.seenStateless({ clientName: "b", clientVersion: "1", protocolVersion: "2026-07-28", transport: "streamable-http" });
    const again = store.seenStateless({ clientName: "a", clientVersion: "1", protocolVersion: "2026-07-28", transport: "streamable-http" });
    assert.equal(again, a, "the same client is one entry");
    assert.equal(a.requests, 2);
    assert.deepEqual(store.statelessClients().map((c) => c.clientName), ["a", "b"]);
    // the same client twice in a row (the shortcut for the last client seen), then another version of it
    assert.equal(store.seenStateless({ clientName: "a", clientVersion: "1", protocolVersion: "2026-07-28", transport: "streamable-http" }), a);
    assert.equal(a.requests, 3);
    // each right after a@1/streamable-http, so the shortcut for the last client is what decides
    const a2 = store.seenStateless({ clientName: "a", clientVersion: "2", protocolVersion: "2026-07-28", transport: "streamable-http" });
    assert.notEqual(a2, a, "another version is another entry");
    assert.equal(store.seenStateless({ clientName: "a", clientVersion: "1", protocolVersion: "2026-07-28", transport: "streamable-http" }), a);
    assert.notEqual(store.seenStateless({ clientName: "a", clientVersion: "1", protocolVersion: "2026-07-28", transport: "websocket" }), a, "another transport is another entry");
    assert.equal(store.seenStateless({ clientName: "a", clientVersion: "1", protocolVersion: "2026-07-28", transport: "streamable-http" }), a);
    assert.notEqual(store.seenStateless({ clientName: "a", clientVersion: "1", protocolVersion: "2027-01-01", transport: "streamable-http" }), a, "another revision is another entry");
    assert.equal(store.seenStateless({ clientName: "a", clientVersion: "1", protocolVersion: "2026-07-28", transport: "streamable-http" }), a);
    assert.equal(a.requests, 6);
    assert.deepEqual(store.statelessClients().map((c) => `${c.clientName}@${c.clientVersion}/${c.transport}/${c.protocolVersion}`), [
      "a@1/streamable-http/2026-07-28",
      "a@1/streamable-http/2027-01-01",
      "a@1/websocket/2026-07-28",
      "a@2/streamable-http/2026-07-28",
      "b@1/streamable-http/2026-07-28",
    ]);
    assert.equal(store.size, 0, "no sessions");

    for (let i = 0; i < 3 * MAX_STATELESS_CLIENTS; i++) store.seenStateless({ clientName: `c${i}`, protocolVersion: "2026-07-28", transport: "streamable-http" });
    const list = store.statelessClients();
    assert.equal(list.length, MAX_STATELESS_CLIENTS);
    assert.equal(list[0].clientName, `c${3 * MAX_STATELESS_CLIENTS - 1}`);

    const long = store.seenStateless({ clientName: "x".repeat(10_000), clientVersion: { not: "a string" }, protocolVersion: "2026-07-28", transport: "websocket" });
    assert.ok(long.clientName!.length <= 128);
    assert.equal(long.clientVersion, undefined);
    const s = statelessSummary(long);
    assert.equal(s.era, "2026-07-28");
    assert.equal(s.transport, "websocket");
  } finally {
    await store.closeAll("test over");
  }
});
