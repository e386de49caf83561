/**
 * Direct request delivery (daemon/transports/request-dispatch.ts): a request goes to the SDK's
 * request entry exactly when the SDK would have classified it a request; notifications,
 * responses and anything the request check refuses still go through `onmessage`; without
 * the entry (a future SDK) everything does.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { JSONRPCMessage } from "@modelcontextprotocol/server";
import { deliverTo } from "../daemon/transports/request-dispatch.ts";

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
      params: anyOr(
        fc.record(
          {
            name: fc.string(),
            arguments: fc.jsonValue(),
            _meta: anyOr(
              fc.record(
                {
                  progressToken: anyOr(fc.oneof(fc.string(), fc.integer(), fc.double())),
                  "io.modelcontextprotocol/related-task": anyOr(fc.record({ taskId: fc.string() })),
                  "io.modelcontextprotocol/protocolVersion": anyOr(fc.string()),
                  "io.modelcontextprotocol/clientInfo": anyOr(fc.record({ name: fc.string(), version: fc.string() })),
                  "io.modelcontextprotocol/clientCapabilities": anyOr(fc.dictionary(fc.string(), fc.jsonValue())),
                  traceparent: anyOr(fc.string()),
                },
                { requiredKeys: [] },
              ),
            ),
          },
          { requiredKeys: [] },
        ),
      ),
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

test("after the message check, a value with an id and a method and no result or error is a request by the SDK's own check", async () => {
  const fc = (await import("fast-check")).default;
  const { isJSONRPCRequest } = await import("@modelcontextprotocol/server");
  const { isJsonRpcMessage } = await import("../daemon/transports/json-rpc-message.ts");
  const anyOr = (a: any) => fc.oneof({ weight: 4, arbitrary: a }, { weight: 1, arbitrary: fc.anything() });
  const envelope = fc.record(
    {
      progressToken: anyOr(fc.oneof(fc.string(), fc.integer(), fc.double())),
      "io.modelcontextprotocol/protocolVersion": anyOr(fc.constantFrom("2026-07-28", "2025-11-25")),
      "io.modelcontextprotocol/clientInfo": anyOr(fc.record({ name: fc.string(), version: fc.string() }, { requiredKeys: [] })),
      "io.modelcontextprotocol/clientCapabilities": anyOr(fc.dictionary(fc.string(), fc.jsonValue())),
    },
    { requiredKeys: [] },
  );
  const msg = fc.record(
    {
      jsonrpc: anyOr(fc.constant("2.0")),
      id: anyOr(fc.oneof(fc.string(), fc.integer(), fc.double(), fc.constant(null))),
      method: anyOr(fc.string()),
      params: anyOr(fc.record({ name: fc.string(), _meta: anyOr(envelope) }, { requiredKeys: [] })),
    },
    { requiredKeys: ["jsonrpc", "method"] },
  );
  let requests = 0;
  fc.assert(
    fc.property(msg, (m) => {
      if (!isJsonRpcMessage(m) || !("method" in m) || !("id" in m) || "result" in m || "error" in m) return;
      requests++;
      assert.equal(isJSONRPCRequest(m), true, JSON.stringify(m));
    }),
    { seed: 20261125, numRuns: 4000 },
  );
  assert.ok(requests > 300, `only ${requests} requests generated`);
});

