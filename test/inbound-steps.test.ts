/**
 * The inbound steps every transport shares, pinned in-process: the raw upgrade refusals
 * (http-server.ts refuseUpgrade, byte for byte as websocket.ts and the shutdown wrote them
 * by hand), the one inbound check with each transport's wording (json-rpc-message.ts), and
 * the SSE framing (sse-writer.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Duplex } from "node:stream";
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
