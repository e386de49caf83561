/**
 * The quick route for common 2026-07-28 requests (transports/era-routing.ts
 * `quickModernRoute`, transports/envelope-shape.ts) must agree with the SDK's own classifier
 * whenever it answers, and must answer for the envelopes real clients send (or the fast
 * path silently stops being taken).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import fc from "fast-check";
import { CLIENT_CAPABILITIES_META_KEY as CAPS, CLIENT_INFO_META_KEY as INFO, LOG_LEVEL_META_KEY as LEVEL, PROTOCOL_VERSION_META_KEY as PV, classifyInboundRequest } from "@modelcontextprotocol/server";
import { isPlainEnvelope } from "../daemon/transports/envelope-shape.ts";
import { quickModernRoute } from "../daemon/transports/era-routing.ts";
import { isJsonRpcMessage } from "../daemon/transports/json-rpc-message.ts";

const MODERN = "2026-07-28";
const reqWith = (headers: Record<string, string | undefined>) => ({ headers }) as unknown as IncomingMessage;
const classify = (headers: Record<string, string | undefined>, body: unknown) =>
  classifyInboundRequest({ httpMethod: "POST", protocolVersionHeader: headers["mcp-protocol-version"], mcpMethodHeader: headers["mcp-method"], mcpNameHeader: headers["mcp-name"], body });

const emptyOr = fc.oneof({ weight: 4, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: fc.jsonValue() });
const capabilities = fc.oneof(
  fc.record({ sampling: fc.record({ context: emptyOr, tools: emptyOr }, { requiredKeys: [], noNullPrototype: true }), elicitation: fc.record({ form: emptyOr, url: emptyOr }, { requiredKeys: [], noNullPrototype: true }), roots: fc.record({ listChanged: fc.oneof(fc.boolean(), fc.jsonValue()) }, { requiredKeys: [], noNullPrototype: true }), experimental: fc.dictionary(fc.string(), emptyOr, { noNullPrototype: true }), other: fc.jsonValue() }, { requiredKeys: [], noNullPrototype: true }),
  fc.jsonValue(),
);
const clientInfo = fc.oneof(fc.record({ name: fc.oneof(fc.string(), fc.integer()), version: fc.string(), title: fc.oneof(fc.string(), fc.integer()), icons: fc.jsonValue() }, { requiredKeys: ["name"], noNullPrototype: true }), fc.jsonValue());
const version = fc.oneof(fc.constantFrom(MODERN, "2025-11-25", "2025-06-18", "2027-01-01", "2026-07-28 ", "\t2026-07-28", "2026-7-28", "2026-07-28x"), fc.string(), fc.integer());
const wildEnvelope = fc.record(
  {
    [PV]: version,
    [CAPS]: capabilities,
    [INFO]: clientInfo,
    [LEVEL]: fc.oneof(fc.constantFrom("debug", "info", "warning", "emergency", "verbose"), fc.jsonValue()),
    progressToken: fc.oneof(fc.string(), fc.integer(), fc.double(), fc.constant(2 ** 60)),
    traceparent: fc.string(),
    "io.modelcontextprotocol/related-task": fc.record({ taskId: fc.string() }),
  },
  { requiredKeys: [], noNullPrototype: true },
);
// mostly the common shape, so the quick route is reached often, with one thing varied at a time
const commonEnvelope = fc.record(
  {
    [PV]: fc.oneof({ weight: 5, arbitrary: fc.constant(MODERN) }, { weight: 1, arbitrary: version }),
    [CAPS]: fc.oneof({ weight: 3, arbitrary: fc.constantFrom({}, { sampling: {} }, { elicitation: {} }, { roots: { listChanged: true } }) }, { weight: 1, arbitrary: capabilities }),
    [INFO]: fc.oneof({ weight: 3, arbitrary: fc.record({ name: fc.string(), version: fc.string() }) }, { weight: 1, arbitrary: clientInfo }),
    [LEVEL]: fc.constantFrom("debug", "info", "verbose", 3),
    progressToken: fc.oneof(fc.string(), fc.integer(), fc.double()),
  },
  { requiredKeys: [PV, CAPS], noNullPrototype: true },
);
const envelope = fc.oneof({ weight: 3, arbitrary: commonEnvelope }, { weight: 1, arbitrary: wildEnvelope });
const body = fc.record(
  {
    jsonrpc: fc.oneof({ weight: 6, arbitrary: fc.constant("2.0") }, { weight: 1, arbitrary: fc.jsonValue() }),
    id: fc.oneof({ weight: 4, arbitrary: fc.oneof(fc.string(), fc.integer()) }, { weight: 1, arbitrary: fc.oneof(fc.double(), fc.constant(null)) }),
    method: fc.constantFrom("tools/call", "tools/list", "prompts/get", "resources/read", "initialize", "subscriptions/listen", "server/discover", "other/thing"),
    params: fc.record({ name: fc.string(), uri: fc.string(), _meta: envelope, extra: fc.jsonValue() }, { requiredKeys: ["_meta"], noNullPrototype: true }),
  },
  { requiredKeys: ["jsonrpc", "id", "method", "params"], noNullPrototype: true },
).chain((b) => fc.oneof({ weight: 5, arbitrary: fc.constant(b) }, { weight: 1, arbitrary: fc.jsonValue().map((result) => ({ ...b, result })) }));

const usually = fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) });

// A fixed seed, as every property test in `npm test` has: the count of quick-route hits below
// must not depend on the draw (a random seed once gave exactly 50 and failed CI).
test("whenever the quick route answers, the SDK's classifier gives the same route", () => {
  let answered = 0;
  fc.assert(
    fc.property(body, usually, fc.oneof(fc.constant(undefined), fc.string()), usually, (b, sameVersion, otherVersion, sameMethod) => {
      const claimed = (b.params._meta as Record<string, unknown>)[PV];
      const headers = { "mcp-protocol-version": sameVersion ? (typeof claimed === "string" ? claimed : undefined) : otherVersion, "mcp-method": sameMethod ? b.method : "tools/list" };
      const quick = quickModernRoute(reqWith(headers), b);
      if (quick === undefined) return;
      answered++;
      assert.ok(isJsonRpcMessage(b), "the quick route only takes what the message check accepts");
      const route = classify(headers, b);
      assert.equal(route.kind, "modern");
      assert.equal((route as { messageKind?: string }).messageKind, quick.messageKind);
      assert.equal((route as { message?: unknown }).message, b);
      assert.deepEqual((route as { classification?: unknown }).classification, quick.classification);
    }),
    { seed: 20261125, numRuns: 3000 },
  );
  assert.ok(answered > 20, `the generator reaches the quick route (${answered} times)`);
});

test("an envelope the shape check accepts is one the SDK's envelope schema accepts", () => {
  fc.assert(
    fc.property(envelope, (meta) => {
      if (!isPlainEnvelope(meta)) return;
      const m = { jsonrpc: "2.0", id: 1, method: "tools/list", params: { _meta: { ...meta, [PV]: MODERN } } };
      const route = classify({}, m);
      assert.equal(route.kind, "modern", JSON.stringify(route));
    }),
    { seed: 20261125, numRuns: 3000 },
  );
});

test("the envelopes clients send take the quick route; anything unusual is left to the SDK", () => {
  const headers = { "mcp-protocol-version": MODERN, "mcp-method": "tools/call" };
  const call = (meta: Record<string, unknown>) => ({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "echo", arguments: { text: "x" }, _meta: meta } });
  const base = { [PV]: MODERN, [CAPS]: {}, [INFO]: { name: "claude-ai", version: "0.1.0" } };
  for (const meta of [
    base,
    { ...base, [CAPS]: { sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true } }, [LEVEL]: "info", progressToken: "p1" },
    { [PV]: MODERN, [CAPS]: { elicitation: {} } },
  ]) {
    const quick = quickModernRoute(reqWith(headers), call(meta));
    assert.deepEqual(quick?.classification, { era: "modern", revision: MODERN }, JSON.stringify(meta));
  }
  for (const meta of [
    { ...base, [CAPS]: { experimental: { x: {} } } }, // valid, but unusual: the SDK decides
    { ...base, [INFO]: { name: "c", version: "1", icons: [] } },
    { ...base, traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" },
    { [PV]: MODERN, [INFO]: base[INFO] }, // no capabilities: the SDK's -32602
    { ...base, [PV]: "2025-11-25" },
  ]) {
    assert.equal(quickModernRoute(reqWith(headers), call(meta)), undefined, JSON.stringify(meta));
  }
  // the headers must repeat the body exactly
  assert.equal(quickModernRoute(reqWith({ ...headers, "mcp-method": "tools/list" }), call(base)), undefined);
  assert.equal(quickModernRoute(reqWith({ "mcp-method": "tools/call" }), call(base)), undefined);
  assert.equal(quickModernRoute(reqWith({ ...headers, "mcp-protocol-version": ` ${MODERN}` }), call(base)), undefined);
});
