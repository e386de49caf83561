/**
 * A session is busy from when its request is accepted until its answer is sent (or the
 * request is cancelled, or the connection ends), marked once, by the transport's requests in
 * flight (transports/requests-in-flight.ts, through the inbound pipeline's SessionInbound): a busy session is never evicted, and once
 * answered it may be. In-process, against the store's own eviction.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { JSONRPCMessage } from "@modelcontextprotocol/server";
import { SessionStore, type TransportKind } from "../../daemon/session-store.ts";
import { RequestsInFlight } from "../../daemon/transports/requests-in-flight.ts";
import { SessionHttpTransport } from "../../daemon/transports/session-http-transport.ts";

/** A table of one, whose only session is evictable as soon as it is idle. */
function tableOfOne(transport: TransportKind) {
  const store = new SessionStore({ maxSessions: 1, idleTimeoutMs: 3_600_000, evictAfterIdleMs: 0, evictDetachedAfterIdleMs: 0 });
  const now = Date.now();
  let evicted = false;
  store.add({
    info: { id: "s", transport, startedAt: now, lastActivityAt: now - 60_000, calls: 0, errors: 0 },
    async close() {
      evicted = true;
    },
  });
  return { store, evictable: () => store.admit(transport).ok && evicted };
}

const call = (id: number | string): JSONRPCMessage => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "t", arguments: {} } }) as JSONRPCMessage;
const answer = (id: number | string): JSONRPCMessage => ({ jsonrpc: "2.0", id, result: { content: [] } }) as JSONRPCMessage;
const cancel = (requestId: number | string): JSONRPCMessage => ({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId } }) as JSONRPCMessage;

test("a WebSocket session with a request in flight is not evicted; once answered it is", () => {
  const { store, evictable } = tableOfOne("websocket");
  try {
    const open = new RequestsInFlight({ busy: () => store.busy("s") });
    open.received(call(1));
    assert.equal(store.admit("websocket").ok, false, "busy from acceptance");
    open.sent(answer(1));
    assert.ok(evictable(), "answered: idle, evictable");
  } finally {
    void store.closeAll("test");
  }
});

test("one mark per request, released by its answer, its cancel or the connection's end; a duplicate id neither marks nor releases", () => {
  let marks = 0;
  const open = new RequestsInFlight({
    busy: () => {
      marks++;
      return () => void marks--;
    },
  });
  open.received(call(1));
  assert.equal(open.duplicateIn([call(1)]), 1, "id 1 is in flight");
  open.received(call(1));
  assert.equal(marks, 1, "a repeated id is not marked twice");
  assert.equal(open.duplicateIn([call(2), call(2)]), 2, "an id repeated within one batch");
  assert.equal(open.duplicateIn([call(2), call(1)]), 1, "an id in flight");
  open.received(call(2));
  open.received(call(3));
  assert.equal(marks, 3);
  open.sent(answer(1));
  open.received(cancel(2));
  assert.equal(marks, 1);
  open.endAll();
  assert.equal(marks, 0);
  assert.equal(open.duplicateIn([call(1)]), undefined, "answered: the id is free again");
});

/** Enough of Node's request and response for SessionHttpTransport's POST path. */
function exchange(headers: Record<string, string> = {}) {
  const res = Object.assign(new EventEmitter(), {
    statusCode: 0,
    writableEnded: false,
    headersSent: false,
    body: "",
    writeHead(status: number) {
      res.statusCode = status;
      res.headersSent = true;
      return res;
    },
    write(chunk: string) {
      res.body += chunk;
      return true;
    },
    end(chunk?: string) {
      if (chunk) res.body += chunk;
      res.writableEnded = true;
    },
  });
  return { req: { headers } as unknown as IncomingMessage, res, node: res as unknown as ServerResponse };
}

test("a Streamable HTTP session is busy from its POST until the answer is written, and not evicted meanwhile", async () => {
  const { store, evictable } = tableOfOne("streamable-http");
  try {
    const t = new SessionHttpTransport("s", store, 60_000);
    const delivered: JSONRPCMessage[] = [];
    t.onmessage = (m) => void delivered.push(m);
    await t.start();
    const init = exchange();
    t.handlePost(init.req, init.node, [{ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "c", version: "1" } } } as JSONRPCMessage]);
    await t.send(answer(0));
    assert.equal(init.res.statusCode, 200);

    const post = exchange({ "mcp-protocol-version": "2025-11-25" });
    t.handlePost(post.req, post.node, [call(1)]);
    assert.equal(delivered.length, 2);
    assert.equal(t.inbound.duplicate([call(1)])?.id, 1, "its id is in flight");
    assert.equal(store.admit("streamable-http").ok, false, "busy while the call runs");
    await t.send(answer(1));
    assert.equal(post.res.writableEnded, true);
    assert.equal(t.inbound.duplicate([call(1)]), undefined);
    assert.ok(evictable(), "answered: evictable");
  } finally {
    void store.closeAll("test");
  }
});

test("a cancelled Streamable HTTP request is no longer busy", async () => {
  const { store, evictable } = tableOfOne("streamable-http");
  try {
    const t = new SessionHttpTransport("s", store, 60_000);
    await t.start();
    const init = exchange();
    t.handlePost(init.req, init.node, [{ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "c", version: "1" } } } as JSONRPCMessage]);
    await t.send(answer(0));
    const post = exchange();
    t.handlePost(post.req, post.node, [call(1)]);
    assert.equal(store.admit("streamable-http").ok, false);
    const note = exchange();
    t.handlePost(note.req, note.node, [cancel(1)]);
    assert.equal(note.res.statusCode, 202);
    assert.equal(post.res.writableEnded, true, "the cancelled request's POST ends");
    assert.ok(evictable());
  } finally {
    void store.closeAll("test");
  }
});
