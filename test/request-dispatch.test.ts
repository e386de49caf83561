/**
 * Direct request delivery (daemon/mcp/request-dispatch.ts): a request goes to the SDK's
 * request entry exactly when the SDK would have classified it a request; notifications,
 * responses and anything the request check refuses still go through `onmessage`; without
 * the entry (a future SDK) everything does.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { JSONRPCMessage } from "@modelcontextprotocol/server";
import { deliverTo } from "../daemon/mcp/request-dispatch.ts";

function recorder() {
  const direct: unknown[] = [];
  const viaOnmessage: unknown[] = [];
  const server = { _onrequest(m: unknown) { direct.push(m); } };
  return { direct, viaOnmessage, server, onmessage: (m: JSONRPCMessage) => void viaOnmessage.push(m) };
}

const request = { jsonrpc: "2.0", id: 1, method: "tools/list" } as JSONRPCMessage;
const notification = { jsonrpc: "2.0", method: "notifications/initialized" } as JSONRPCMessage;
const response = { jsonrpc: "2.0", id: 2, result: {} } as JSONRPCMessage;
const badRequest = { jsonrpc: "2.0", id: 3, method: "tools/call", params: 5 } as unknown as JSONRPCMessage;
const requestShapedResponse = { jsonrpc: "2.0", id: 4, method: "tools/list", result: {} } as unknown as JSONRPCMessage;

test("requests go to the SDK's request entry, everything else through onmessage", () => {
  const r = recorder();
  const deliver = deliverTo(r.server, r.onmessage);
  for (const m of [request, notification, response, badRequest, requestShapedResponse]) deliver(m);
  assert.deepEqual(r.direct, [request]);
  assert.deepEqual(r.viaOnmessage, [notification, response, badRequest, requestShapedResponse]);
});

test("without the SDK's request entry every message goes through onmessage", () => {
  const r = recorder();
  const deliver = deliverTo({}, r.onmessage);
  deliver(request);
  deliver(notification);
  assert.deepEqual(r.direct, []);
  assert.deepEqual(r.viaOnmessage, [request, notification]);
});

test("the message check's shortcut for plain requests accepts only what the spec's schema accepts", async () => {
  const fc = (await import("fast-check")).default;
  const { specTypeSchemas } = await import("@modelcontextprotocol/server");
  const { isJsonRpcMessage } = await import("../daemon/transports/json-rpc-message.ts");
  const schema = (specTypeSchemas as any).JSONRPCMessage["~standard"];
  const anyOr = <T,>(a: any) => fc.oneof({ weight: 5, arbitrary: a }, { weight: 1, arbitrary: fc.anything() });
  const req = fc.record(
    {
      jsonrpc: anyOr(fc.constant("2.0")),
      id: anyOr(fc.oneof(fc.string(), fc.integer(), fc.double())),
      method: anyOr(fc.string()),
      params: anyOr(fc.record({ name: fc.string(), arguments: fc.jsonValue(), _meta: anyOr(fc.record({ progressToken: anyOr(fc.oneof(fc.string(), fc.integer(), fc.double())) }, { requiredKeys: [] })) }, { requiredKeys: [] })),
      result: fc.jsonValue(),
    },
    { requiredKeys: ["jsonrpc", "id", "method"] },
  );
  let accepted = 0;
  fc.assert(
    fc.property(req, (m) => {
      const ours = isJsonRpcMessage(m);
      const theirs = !schema.validate(m).issues;
      assert.equal(ours, theirs, JSON.stringify(m));
      if (ours) accepted++;
    }),
    { seed: 20261125, numRuns: 3000 },
  );
  assert.ok(accepted > 100, `only ${accepted} accepted`);
});
