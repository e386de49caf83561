/**
 * What the stdio bridge remembers across a lost daemon link (transports/bridge-relay-state.ts),
 * in-process: which requests are failed when the link drops, and what a new link is told again
 * — the 2025 initialize with the accepted log level and subscriptions, the 2026-07-28 listen
 * streams. The process-level tests (stdio-bridge*.test.ts, transport-stdio-attached.test.ts)
 * show the same through a real daemon; these pin each rule on its own.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { RelayState } from "../../daemon/transports/bridge-relay-state.ts";

const request = (id: string | number, method: string, params?: Record<string, unknown>) => ({ jsonrpc: "2.0", id, method, ...(params && { params }) }) as JSONRPCMessage;
const result = (id: string | number) => ({ jsonrpc: "2.0", id, result: {} }) as JSONRPCMessage;
const error = (id: string | number) => ({ jsonrpc: "2.0", id, error: { code: -32602, message: "no" } }) as JSONRPCMessage;

/** A client message as the bridge handles it with a link up: noted, then forwarded. */
function send(relay: RelayState, msg: JSONRPCMessage) {
  relay.fromClient(msg);
  relay.forwarded(msg);
}

test("a lost link fails the requests the daemon had not answered, with their methods, and no others", () => {
  const relay = new RelayState();
  send(relay, request(1, "tools/call"));
  send(relay, request(2, "tools/list"));
  send(relay, { jsonrpc: "2.0", method: "notifications/initialized" } as JSONRPCMessage);
  assert.deepEqual(relay.fromDaemon(result(2)), { kind: "relay" });
  assert.deepEqual(relay.linkLost(), [{ id: 1, method: "tools/call" }]);
  assert.deepEqual(relay.linkLost(), [], "each lost request is failed once");
});

test("2025 era: the reconnect replays initialize, then the accepted log level and subscriptions under the bridge's own ids, and their answers are swallowed", () => {
  const relay = new RelayState();
  send(relay, request(0, "initialize", { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "c", version: "1" } }));
  relay.fromDaemon(result(0));
  send(relay, request(1, "logging/setLevel", { level: "error" }));
  send(relay, request(2, "logging/setLevel", { level: "debug" }));
  send(relay, request(3, "resources/subscribe", { uri: "a://kept" }));
  send(relay, request(4, "resources/subscribe", { uri: "a://refused" }));
  send(relay, request(5, "resources/subscribe", { uri: "a://dropped" }));
  for (const id of [1, 3, 5]) relay.fromDaemon(result(id));
  for (const id of [2, 4]) relay.fromDaemon(error(id));
  send(relay, request(6, "resources/unsubscribe", { uri: "a://dropped" }));
  relay.fromDaemon(result(6));
  relay.linkLost();

  const reopening = relay.reopening();
  assert.ok("reinit" in reopening);
  const reinit = reopening.reinit as JSONRPCMessage & { id: string; method: string };
  assert.equal(reinit.method, "initialize");
  assert.notEqual(reinit.id, 0, "the replay has an id of the bridge's own: its answer is not the client's");
  const outcome = relay.fromDaemon(result(reinit.id));
  assert.equal(outcome.kind, "reinitialized");
  if (outcome.kind !== "reinitialized") return;
  const replays = outcome.replays as (JSONRPCMessage & { id?: string; method: string; params?: unknown })[];
  assert.deepEqual(replays.map((m) => [m.method, m.params]), [
    ["notifications/initialized", undefined],
    ["logging/setLevel", { level: "error" }],
    ["resources/subscribe", { uri: "a://kept" }],
  ]);
  assert.deepEqual(outcome.announce.map((m) => (m as { method: string }).method), ["tools", "resources", "prompts"].map((k) => `notifications/${k}/list_changed`));
  for (const m of replays.slice(1)) assert.deepEqual(relay.fromDaemon(result(m.id!)), { kind: "swallow" });
});

test("a link lost before the replayed initialize is answered replays it again under a new id; the old id is nobody's", () => {
  const relay = new RelayState();
  send(relay, request(0, "initialize", {}));
  relay.fromDaemon(result(0));
  const first = relay.reopening() as { reinit: { id: string } };
  relay.linkLost();
  const second = relay.reopening() as { reinit: { id: string } };
  assert.notEqual(first.reinit.id, second.reinit.id);
  assert.equal(relay.fromDaemon(result(first.reinit.id)).kind, "relay");
  assert.equal(relay.fromDaemon(result(second.reinit.id)).kind, "reinitialized");
});

test("2026-07-28: open listen streams are re-opened under their own ids (not failed); the new acknowledgement becomes list_changed for what is honoured", () => {
  const relay = new RelayState();
  send(relay, request("L1", "subscriptions/listen", { notifications: { toolsListChanged: true } }));
  send(relay, request("L2", "subscriptions/listen", { notifications: { promptsListChanged: true } }));
  send(relay, request("L3", "subscriptions/listen", {}));
  send(relay, { jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: "L2" } } as JSONRPCMessage);
  relay.fromDaemon(result("L3")); // a stream ends with its response
  send(relay, request(9, "tools/call"));
  assert.deepEqual(relay.linkLost(), [{ id: "L2", method: "subscriptions/listen" }, { id: 9, method: "tools/call" }], "a cancelled listen is an ordinary request in flight");

  const reopening = relay.reopening();
  assert.ok("listens" in reopening);
  assert.deepEqual(reopening.listens.map((m) => (m as { id: string }).id), ["L1"]);
  const ack = (id: string) => ({ jsonrpc: "2.0", method: "notifications/subscriptions/acknowledged", params: { notifications: { toolsListChanged: true, resourcesListChanged: false }, _meta: { "io.modelcontextprotocol/subscriptionId": id } } }) as JSONRPCMessage;
  assert.deepEqual(relay.fromDaemon(ack("L1")), {
    kind: "notify",
    messages: [{ jsonrpc: "2.0", method: "notifications/tools/list_changed", params: { _meta: { "io.modelcontextprotocol/subscriptionId": "L1" } } }],
  });
  assert.deepEqual(relay.fromDaemon(ack("L1")), { kind: "relay" }, "only the replay's acknowledgement is swallowed");
});

test("with neither initialize nor listens, a reconnect has nothing to replay", () => {
  assert.deepEqual(new RelayState().reopening(), { listens: [] });
});
