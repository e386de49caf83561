/**
 * JSON Schema inputs and outputs are validated with the dialect their `$schema` names
 * (2020-12, 2019-09, or draft-07 when none) and advertised exactly as given, `$schema`
 * included. Runs the worker's plugin loader in this process: no daemon, no worker thread.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { dialectOf, loadPluginShape, preloadSchemaLibraries, PluginShapeError, type LoadedPlugin } from "../daemon/plugins/thread/plugin-shape.ts";
import jsonFixture from "./conformance/plugins/json.ts";

const S2020 = "https://json-schema.org/draft/2020-12/schema";

async function load(def: Record<string, unknown>, name = "p"): Promise<LoadedPlugin> {
  await preloadSchemaLibraries(def);
  return loadPluginShape(def, name);
}

function validate(p: LoadedPlugin, tool: string, args: unknown) {
  return p.tools.get(tool)!.validate(args);
}

test("the conformance fixture's 2020-12 schema loads, keeps $schema and $defs, and validates", async () => {
  const p = await load(jsonFixture as unknown as Record<string, unknown>, "json");
  const info = p.manifest.tools[0];
  assert.equal(info.name, "schema_2020_12_tool");
  const given = (jsonFixture as { tools: Record<string, { input: Record<string, unknown> }> }).tools.schema_2020_12_tool.input;
  assert.deepEqual(info.inputSchema, given, "advertised exactly as given");
  assert.equal(info.inputSchema.$schema, S2020);
  assert.ok(info.inputSchema.$defs);

  assert.deepEqual(validate(p, "schema_2020_12_tool", { name: "Ada", contactMethod: "email", email: "a@b.c", address: { street: "Main", city: "X" } }).ok, true);
  // additionalProperties: false
  const extra = validate(p, "schema_2020_12_tool", { email: "a@b.c", nickname: "x" });
  assert.equal(extra.ok, false);
  assert.match((extra as { message: string }).message, /additional properties/);
  // $ref into $defs
  const badRef = validate(p, "schema_2020_12_tool", { email: "a@b.c", address: { street: 5 } });
  assert.equal(badRef.ok, false);
  assert.match((badRef as { message: string }).message, /address\.street: must be string/);
  // if/then/else: contactMethod "phone" requires phone
  assert.equal(validate(p, "schema_2020_12_tool", { contactMethod: "phone", email: "a@b.c" }).ok, false);
});

test("2020-12-only keywords are enforced (prefixItems), so the dialect really is 2020-12", async () => {
  const input = {
    $schema: S2020,
    type: "object",
    properties: { pair: { type: "array", prefixItems: [{ type: "number" }, { type: "string" }], items: false } },
    required: ["pair"],
  };
  const p = await load({ tools: { t: { input, output: { $schema: S2020, type: "object", $defs: { n: { type: "number" } }, properties: { n: { $ref: "#/$defs/n" } } }, handler: () => ({ n: 1 }) } } });
  assert.equal(validate(p, "t", { pair: [1, "a"] }).ok, true);
  assert.equal(validate(p, "t", { pair: ["a", 1] }).ok, false);
  assert.equal(validate(p, "t", { pair: [1, "a", 3] }).ok, false, "items: false after prefixItems");
  assert.equal(p.manifest.tools[0].outputSchema?.$schema, S2020, "output schema keeps $schema too");
  assert.ok(p.manifest.tools[0].outputSchema?.$defs);
});

test("draft-07 still works: no $schema, or draft-07 named, with definitions and $ref", async () => {
  const noSchema = { type: "object", definitions: { n: { type: "integer" } }, properties: { n: { $ref: "#/definitions/n" } }, additionalProperties: false };
  const named = { ...noSchema, $schema: "http://json-schema.org/draft-07/schema#" };
  const p = await load({ tools: { a: { input: noSchema, handler: () => "" }, b: { input: named, handler: () => "" } } });
  for (const t of ["a", "b"]) {
    assert.equal(validate(p, t, { n: 3 }).ok, true);
    assert.equal(validate(p, t, { n: 1.5 }).ok, false);
    assert.equal(validate(p, t, { n: 3, x: 1 }).ok, false);
  }
  assert.equal(p.manifest.tools[0].inputSchema.$schema, undefined, "no $schema is added");
  assert.equal(p.manifest.tools[1].inputSchema.$schema, "http://json-schema.org/draft-07/schema#", "kept as given");
});

test("2019-09 and the http:/trailing-# spellings of 2020-12 load; their $schema is advertised as given", async () => {
  const httpForm = "http://json-schema.org/draft/2020-12/schema#";
  const p = await load({
    tools: {
      a: { input: { $schema: "https://json-schema.org/draft/2019-09/schema", type: "object", properties: { s: { type: "string" } }, unevaluatedProperties: false }, handler: () => "" },
      b: { input: { $schema: httpForm, type: "object", properties: { s: { type: "string" } } }, handler: () => "" },
    },
  });
  assert.equal(validate(p, "a", { s: "x" }).ok, true);
  assert.equal(validate(p, "a", { s: "x", other: 1 }).ok, false);
  assert.equal(validate(p, "b", { s: 1 }).ok, false);
  assert.equal(p.manifest.tools[1].inputSchema.$schema, httpForm);
});

test("an unknown $schema is a load error naming the field", async () => {
  const def = { tools: { t: { input: { $schema: "http://json-schema.org/draft-04/schema#", type: "object" }, handler: () => "" } } };
  await assert.rejects(load(def), (err: Error) => err instanceof PluginShapeError && /^tools\.t\.input\.\$schema: unsupported JSON Schema dialect/.test(err.message));
});

test("dialectOf", () => {
  assert.equal(dialectOf({}), "draft-07");
  assert.equal(dialectOf({ $schema: S2020 }), "2020-12");
  assert.equal(dialectOf({ $schema: "http://json-schema.org/draft-07/schema" }), "draft-07");
  assert.equal(dialectOf({ $schema: "https://json-schema.org/draft/2019-09/schema#" }), "2019-09");
  assert.equal(dialectOf({ $schema: 7 }), undefined);
  assert.equal(dialectOf({ $schema: "https://example.com/my-dialect" }), undefined);
});
