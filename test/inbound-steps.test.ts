/**
 * The inbound steps every transport shares, pinned in-process: the raw upgrade refusals
 * (http-server.ts refuseUpgrade, byte for byte as websocket.ts and the shutdown wrote them
 * by hand), the one inbound check with each transport's wording (json-rpc-message.ts), the
 * SSE framing (sse-writer.ts), and the inbound pipeline's order (inbound-pipeline.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Duplex } from "node:stream";
import type { IncomingMessage } from "node:http";
import type { JSONRPCMessage } from "@modelcontextprotocol/server";
import { SessionStore } from "../daemon/session-store.ts";
import { SessionInbound, StreamInbound, routePost, takeInbound, type Framing } from "../daemon/transports/inbound-pipeline.ts";
import { refusalBody, refuseUpgrade } from "../daemon/http-server.ts";
import { Refusal } from "../daemon/errors.ts";
import { inboundProblem } from "../daemon/transports/json-rpc-message.ts";
import { sseEvent } from "../daemon/transports/sse-writer.ts";

function written(f: (socket: Duplex) => void): string {
  let out = "";
  f({ end: (s: string) => void (out = s) } as unknown as Duplex);
  return out;
}

test("upgrade refusals: status phrase, connection: close, headers in order, then the body", () => {
  const text = 'WebSocket subprotocol "mcp" is required';
  assert.equal(written((s) => refuseUpgrade(s, 400, { text })), `HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: ${text.length}\r\n\r\n${text}`);
  const json = JSON.stringify({ jsonrpc: "2.0", error: { code: Refusal.UnknownProfile.rpc, message: "no such profile" }, id: null });
  assert.equal(written((s) => refuseUpgrade(s, Refusal.UnknownProfile.status, { json: refusalBody(Refusal.UnknownProfile, "no such profile") })), `HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${json.length}\r\n\r\n${json}`);
  assert.equal(written((s) => refuseUpgrade(s, 503, { text: "full", headers: { "retry-after": "5" } })), "HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\nretry-after: 5\r\ncontent-type: text/plain\r\ncontent-length: 4\r\n\r\nfull");
  assert.equal(written((s) => refuseUpgrade(s, 503, { headers: { "retry-after": "1" } })), "HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\nretry-after: 1\r\ncontent-length: 0\r\n\r\n");
});

test("the inbound check: nesting first, then the message, worded as each transport words it", () => {
  const ok = { jsonrpc: "2.0", id: 1, method: "ping" };
  for (const shape of ["frame", "post", "batch"] as const) assert.equal(inboundProblem(ok, shape), undefined, shape);
  assert.equal(inboundProblem([ok, ok], "batch"), undefined);
  assert.equal(inboundProblem({ id: 1 }, "frame"), "Invalid Request: not a JSON-RPC 2.0 message");
  assert.equal(inboundProblem({ id: 1 }, "post"), "Invalid Request: expected one JSON-RPC 2.0 message");
  assert.equal(inboundProblem([], "batch"), "Invalid Request: expected a JSON-RPC 2.0 message or a non-empty array of them");
  assert.equal(inboundProblem([ok], "post"), "Invalid Request: expected one JSON-RPC 2.0 message", "only /mcp takes a batch");
  let deep: unknown = 1;
  for (let i = 0; i < 300; i++) deep = [deep];
  assert.match(inboundProblem({ ...ok, params: { x: deep } }, "post") ?? "", /^Invalid Request: JSON nested deeper than 256 levels/);
});

test("SSE events carry one JSON-RPC message each", () => {
  assert.equal(sseEvent({ jsonrpc: "2.0", id: 1, result: {} }), 'event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n');
});

const ping = (id: number) => ({ jsonrpc: "2.0", id, method: "ping" });
const deep = () => {
  let v: unknown = 1;
  for (let i = 0; i < 300; i++) v = [v];
  return v;
};

function storeWith(id: string) {
  const store = new SessionStore({ maxSessions: 4, idleTimeoutMs: 3_600_000 });
  const now = Date.now();
  store.add({ info: { id, transport: "websocket", startedAt: now, lastActivityAt: now, calls: 0, errors: 0 }, close: async () => undefined });
  return store;
}

test("the pipeline's order for /mcp: nesting, then the message, the era, the session, its duplicate ids, then admission", () => {
  const store = storeWith("s");
  try {
    const session = { inbound: new SessionInbound(store, "s") };
    const req = (headers: Record<string, string> = {}) => ({ headers, method: "POST", socket: { remoteAddress: "127.0.0.1" } }) as unknown as IncomingMessage;
    const to = (sessionId?: string) => ({ sessionId, lookup: (id: string) => (id === "s" ? session : undefined), store, inputSchemaOf: () => () => undefined });
    const refused = (r: ReturnType<typeof routePost>) => (r.kind === "refused" ? `${r.refused.refusal.status} ${r.refused.message} ${r.refused.id}` : r.kind);
    // too deep is refused before anything else reads it, even with no session
    assert.match(refused(routePost(req(), { ...ping(1), params: { x: deep() } }, to("gone"))), /^400 Invalid Request: JSON nested deeper than 256 levels .* 1$/);
    assert.equal(refused(routePost(req(), { id: 2 }, to("gone"))), "400 Invalid Request: expected a JSON-RPC 2.0 message or a non-empty array of them 2");
    // a 2026-07-28 request never reaches the session steps
    const modern = routePost(req({ "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/list" }), { jsonrpc: "2.0", id: 3, method: "tools/list", params: { _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} } } }, to("gone"));
    assert.equal(modern.kind, "modern");
    assert.equal(modern.kind === "modern" && modern.fast, true);
    assert.equal(refused(routePost(req(), ping(4), to("gone"))), "404 Session not found null");
    session.inbound.accept(ping(5) as JSONRPCMessage);
    assert.equal(refused(routePost(req(), ping(5), to("s"))), "400 Invalid Request: duplicate request id in flight 5");
    assert.equal(refused(routePost(req(), [ping(6), ping(6)], to("s"))), "400 Invalid Request: duplicate request id in flight 6");
    assert.equal(routePost(req(), ping(7), to("s")).kind, "session");
    assert.match(refused(routePost(req(), ping(8), to(undefined))), /^400 Bad Request: Mcp-Session-Id header is required/);
    const init = routePost(req(), { jsonrpc: "2.0", id: 9, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "c", version: "1" } } }, to(undefined));
    assert.equal(init.kind, "initialize");
  } finally {
    void store.closeAll("test");
  }
});

test("a session's message: checked, then its duplicate id refused, else accepted; a stream answers refusals on itself", async () => {
  const store = storeWith("c");
  try {
    const session = new SessionInbound(store, "c");
    assert.equal("refusal" in takeInbound({ id: 1 }, "post", session) && "checked", "checked");
    assert.deepEqual(takeInbound(ping(1), "post", session), { message: ping(1) });
    const dup = takeInbound(ping(1), "post", session);
    assert.equal("refusal" in dup && dup.message, "Invalid Request: duplicate request id in flight");

    const out: unknown[] = [];
    const framing: Framing = { start: async () => undefined, send: async (m) => void out.push(m), close: async () => undefined };
    const delivered: unknown[] = [];
    const stream = new StreamInbound(framing, new SessionInbound(store, "c"), () => undefined);
    stream.onmessage = (m) => void delivered.push(m);
    await stream.start();
    framing.onvalue!({ jsonrpc: "2.0", id: "x" });
    framing.onvalue!(ping(2));
    framing.onvalue!(ping(2));
    await stream.send({ jsonrpc: "2.0", id: 2, result: {} } as JSONRPCMessage);
    framing.onvalue!(ping(2));
    assert.deepEqual(delivered, [ping(2), ping(2)], "the duplicate is not dispatched; once answered, the id is free again");
    assert.deepEqual(
      out.map((m) => JSON.stringify(m)),
      [
        JSON.stringify({ jsonrpc: "2.0", id: "x", error: { code: -32600, message: "Invalid Request: not a JSON-RPC 2.0 message" } }),
        JSON.stringify({ jsonrpc: "2.0", id: 2, error: { code: -32600, message: "Invalid Request: duplicate request id in flight" } }),
        JSON.stringify({ jsonrpc: "2.0", id: 2, result: {} }),
      ],
    );
  } finally {
    void store.closeAll("test");
  }
});
