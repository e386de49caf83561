/**
 * /mcp routes each POST by the SDK's own era predicate (classifyInboundRequest); requests
 * that cannot be anything but 2025 traffic skip it (mayBeModern). The shortcut must agree
 * with the SDK on every input: whatever it lets through as 2025 traffic, the SDK routes to
 * the 2025 era too.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { classifyInboundRequest, specTypeSchemas } from "@modelcontextprotocol/server";
import { mayBeModern } from "../daemon/transports/era-routing.ts";

const CLAIM = "io.modelcontextprotocol/protocolVersion";
const isMessage = (v: unknown) => {
  const r = (specTypeSchemas as unknown as Record<string, { "~standard": { validate(v: unknown): { issues?: unknown[] } } }>).JSONRPCMessage["~standard"].validate(v);
  return !r.issues;
};

const meta = fc.oneof(
  fc.constant(undefined),
  fc.constant({}),
  fc.record({ progressToken: fc.integer() }),
  fc.record({ [CLAIM]: fc.constantFrom("2026-07-28", "2025-11-25", "2099-01-01", 5 as unknown as string) }),
  fc.record({ [CLAIM]: fc.constant("2026-07-28"), "io.modelcontextprotocol/clientCapabilities": fc.constant({}) }),
  fc.record({ "io.modelcontextprotocol/clientInfo": fc.constant({ name: "x", version: "1" }) }),
);
const params = fc.option(fc.record({ name: fc.constantFrom("t", "x"), _meta: meta }, { requiredKeys: [] }), { nil: undefined });
const method = fc.constantFrom("initialize", "tools/call", "tools/list", "server/discover", "ping", "notifications/initialized", "subscriptions/listen");
const request = fc.record({ jsonrpc: fc.constant("2.0"), id: fc.oneof(fc.integer(), fc.string()), method, params }, { requiredKeys: ["jsonrpc", "id", "method"] });
const notification = fc.record({ jsonrpc: fc.constant("2.0"), method, params }, { requiredKeys: ["jsonrpc", "method"] });
const response = fc.record({ jsonrpc: fc.constant("2.0"), id: fc.integer(), result: fc.constant({}) });
const message = fc.oneof(request, notification, response);
const body = fc.oneof(message, fc.array(message, { minLength: 1, maxLength: 3 }));
const versionHeader = fc.constantFrom(undefined, "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", " 2025-11-25 ", "2026-07-28", "2099-01-01", "garbage", "");
const methodHeader = fc.constantFrom(undefined, "tools/call", "tools/list", "other");

test("whatever mayBeModern lets through as 2025 traffic, the SDK's classifier routes to the 2025 era", () => {
  fc.assert(
    fc.property(body, versionHeader, methodHeader, (b, v, m) => {
      const raw = Array.isArray(b) ? b : [b];
      fc.pre(raw.every(isMessage));
      if (mayBeModern(raw, v)) return;
      const route = classifyInboundRequest({ httpMethod: "POST", protocolVersionHeader: v, mcpMethodHeader: m, body: b });
      assert.equal(route.kind, "legacy", JSON.stringify({ b, v, m, route }));
    }),
    { seed: 20261125, numRuns: 2_000 },
  );
});

test("a 2026-07-28 request, a modern header or an unknown version always goes to the classifier", () => {
  assert.equal(mayBeModern([{ jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: { [CLAIM]: "2026-07-28" } } }], undefined), true);
  assert.equal(mayBeModern([{ jsonrpc: "2.0", id: 1, method: "tools/list" }], "2026-07-28"), true);
  assert.equal(mayBeModern([{ jsonrpc: "2.0", id: 1, method: "tools/list" }], "2099-01-01"), true);
  assert.equal(mayBeModern([{ jsonrpc: "2.0", id: 1, method: "tools/list" }], "2025-11-25"), false);
  assert.equal(mayBeModern([{ jsonrpc: "2.0", id: 1, method: "initialize", params: {} }], undefined), false);
});
