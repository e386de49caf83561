/**
 * Tool results reach the client as the plugin gave them, in both eras, and a result the
 * MCP schema rejects is a tool error naming why, never passed on. Plain text results skip the SDK's result
 * schema parse (daemon/mcp/plain-tool-result.ts); every other shape still goes through it,
 * so both paths are driven here, plus a property check that the shortcut only accepts what
 * the SDK's own `CallToolResult` schema accepts and returns unchanged.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { specTypeSchemas, SERVER_INFO_META_KEY } from "@modelcontextprotocol/server";
import { isPlainToolResult } from "../../daemon/mcp/plain-tool-result.ts";
import { TempDir } from "../helpers/env.ts";
import { startInProcessDaemon } from "../helpers/in-process.ts";
import { httpClient } from "../helpers/clients.ts";
import { v2HttpClient } from "../helpers/clients-v2.ts";

const plugins = new TempDir("patchbay-results-");
after(() => plugins.cleanup());

const PNG = Buffer.from("not really a png").toString("base64");

test("plain, rich and invalid tool results, over a 2025 session and stateless 2026-07-28", async () => {
  plugins.file(
    "r.mjs",
    `export default { tools: {
      plain: { handler: () => ({ content: [{ type: "text", text: "a" }, { type: "text", text: "b" }], isError: false, structuredContent: { n: 1 }, _meta: { k: "v" } }) },
      image: { handler: () => ({ content: [{ type: "image", data: "${PNG}", mimeType: "image/png" }] }) },
      annotated: { handler: () => ({ content: [{ type: "text", text: "x", annotations: { priority: 0.5 } }] }) },
      shorthand: { handler: () => "just text" },
      missingText: { handler: () => ({ content: [{ type: "text" }] }) },
      unknownType: { handler: () => ({ content: [{ type: "hologram", text: "x" }] }) },
      badIsError: { handler: () => ({ content: [], isError: "yes" }) },
      metaToken: { handler: () => ({ content: [{ type: "text", text: "x" }], _meta: { progressToken: 1.5 } }) },
    } };`,
  );
  const d = await startInProcessDaemon({ plugins: plugins.path });
  const v1 = await httpClient(d.url);
  const v2 = await v2HttpClient(d.url, { modern: true });
  try {
    for (const [era, call] of [
      ["2025-11-25", (name: string) => v1.client.callTool({ name, arguments: {} })],
      ["2026-07-28", (name: string) => v2.client.callTool({ name, arguments: {} })],
    ] as const) {
      const plain: any = await call("r__plain");
      assert.deepEqual(plain.content, [{ type: "text", text: "a" }, { type: "text", text: "b" }], era);
      assert.deepEqual(plain.structuredContent, { n: 1 }, era);
      assert.equal(plain.isError, false, era);
      assert.equal(plain._meta?.k, "v", era);
      assert.deepEqual(((await call("r__image")) as any).content, [{ type: "image", data: PNG, mimeType: "image/png" }], era);
      assert.deepEqual(((await call("r__annotated")) as any).content, [{ type: "text", text: "x", annotations: { priority: 0.5 } }], era);
      assert.deepEqual(((await call("r__shorthand")) as any).content, [{ type: "text", text: "just text" }], era);
      // the plugin's fault, not the client's: a tool error the model can read, not -32602
      for (const bad of ["r__missingText", "r__unknownType", "r__badIsError"]) {
        const r: any = await call(bad);
        assert.equal(r.isError, true, `${era} ${bad}`);
        assert.match(r.content[0].text, /^The tool returned a result that is not a valid tool result \(.+\): a bug in its plugin or upstream server\.$/, `${era} ${bad}: ${r.content[0].text}`);
      }
    }
    // the 2025 era's result schema types progressToken in a result's _meta: the SDK decides
    assert.equal(((await v1.client.callTool({ name: "r__metaToken", arguments: {} })) as any).isError, true);
  } finally {
    await v1.close();
    await v2.close();
    await d.stop();
  }
});

test("a tool's output schema is enforced: a successful result that does not conform is an isError result, in both eras, with both SDK clients", async () => {
  const dir = new TempDir("patchbay-output-");
  dir.file(
    "o.ts",
    `import { definePlugin, z } from "mcp-patchbay";
export default definePlugin({ tools: {
  good: { output: { n: z.number() }, handler: () => ({ n: 1 }) },
  wrongType: { output: { n: z.number() }, handler: () => ({ n: "x" }) },
  missingKey: { output: { n: z.number() }, handler: () => ({ m: 1 }) },
  text: { output: { n: z.number() }, handler: () => "not an object" },
  fullResultWithout: { output: { n: z.number() }, handler: () => ({ content: [{ type: "text", text: "n is 1" }] }) },
  fullResultWith: { output: { n: z.number() }, handler: () => ({ content: [{ type: "text", text: "n is 1" }], structuredContent: { n: 1 } }) },
  failed: { output: { n: z.number() }, handler: () => ({ content: [{ type: "text", text: "it broke" }], isError: true }) },
  throws: { output: { n: z.number() }, handler: () => { throw new Error("boom"); } },
  json: { output: { type: "object", properties: { n: { type: "integer" } }, required: ["n"] }, handler: () => ({ n: 1.5 }) },
} });
`,
  );
  const d = await startInProcessDaemon({ plugins: dir.path });
  const v1 = await httpClient(d.url);
  const v2 = await v2HttpClient(d.url, { modern: true });
  try {
    // the clients check results against the schemas they listed: list first, as real clients do
    await v1.client.listTools();
    await v2.client.listTools();
    for (const [era, call] of [
      ["2025-11-25", (name: string) => v1.client.callTool({ name, arguments: {} })],
      ["2026-07-28", (name: string) => v2.client.callTool({ name, arguments: {} })],
    ] as const) {
      const good: any = await call("o__good");
      assert.deepEqual(good.structuredContent, { n: 1 }, era);
      assert.notEqual(good.isError, true, era);
      assert.deepEqual(((await call("o__fullResultWith")) as any).structuredContent, { n: 1 }, era);
      for (const [tool, why] of [
        ["o__wrongType", /does not match its output schema: n: /],
        ["o__missingKey", /does not match its output schema: n: /],
        ["o__text", /has an output schema but its result has no structured content/],
        ["o__fullResultWithout", /has an output schema but its result has no structured content/],
        ["o__json", /does not match its output schema: n: must be integer/],
      ] as const) {
        const r: any = await call(tool);
        assert.equal(r.isError, true, `${era} ${tool}`);
        assert.match(r.content[0].text, /^Output validation error: /, `${era} ${tool}`);
        assert.match(r.content[0].text, why, `${era} ${tool}`);
        assert.equal(r.structuredContent, undefined, `${era} ${tool}`);
      }
      // error results are the tool's own word: passed on, not checked
      const failed: any = await call("o__failed");
      assert.equal(failed.isError, true, era);
      assert.equal(failed.content[0].text, "it broke", era);
      assert.equal(((await call("o__throws")) as any).content[0].text, "boom", era);
    }
  } finally {
    await v1.close();
    await v2.close();
    await d.stop();
    dir.cleanup();
  }
});

const text = fc.record({ type: fc.constant("text"), text: fc.string() });
const block = fc.oneof(
  { weight: 6, arbitrary: text },
  { weight: 1, arbitrary: fc.record({ type: fc.constantFrom("text", "image", "x"), text: fc.oneof(fc.string(), fc.integer()) }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant("text"), text: fc.string(), annotations: fc.record({ priority: fc.double() }) }) },
  { weight: 1, arbitrary: fc.anything() },
);
const dict = fc.dictionary(fc.string(), fc.jsonValue(), { noNullPrototype: true });
const mostly = <T,>(good: fc.Arbitrary<T>) => fc.oneof({ weight: 6, arbitrary: good }, { weight: 1, arbitrary: fc.anything() });
const result = fc.record(
  {
    content: mostly(fc.array(block, { maxLength: 4 })),
    isError: mostly(fc.boolean()),
    structuredContent: mostly(dict),
    _meta: fc.oneof({ weight: 6, arbitrary: dict }, { weight: 1, arbitrary: fc.constant({ [SERVER_INFO_META_KEY]: 5 }) }, { weight: 1, arbitrary: fc.anything() }),
  },
  { requiredKeys: ["content"] },
);

test("what the shortcut calls plain, the SDK's CallToolResult schema accepts and returns as it was", () => {
  let plainSeen = 0;
  fc.assert(
    fc.property(fc.oneof(result, fc.anything()), (r) => {
      if (!isPlainToolResult(r)) return;
      plainSeen++;
      const parsed = specTypeSchemas.CallToolResult["~standard"].validate(r);
      assert.ok(!("issues" in parsed && parsed.issues), JSON.stringify(r));
      assert.deepEqual((parsed as { value: unknown }).value, r);
    }),
    { seed: 20261125, numRuns: 2000 },
  );
  assert.ok(plainSeen > 100, `only ${plainSeen} plain results generated`);
  // and the obvious negatives
  for (const bad of [null, [], "x", {}, { content: {} }, { content: [{ type: "text" }] }, { content: [], isError: 1 }, { content: [], more: 1 }, { content: [], _meta: { [SERVER_INFO_META_KEY]: {} } }, { content: [], _meta: { progressToken: 1.5 } }, { content: [], _meta: { "io.modelcontextprotocol/related-task": "x" } }]) {
    assert.equal(isPlainToolResult(bad), false, JSON.stringify(bad));
  }
});
