/**
 * `json_schema_2020_12_tool` (scenario json-schema-2020-12, SEP-1613 and SEP-2106): a tool whose
 * input is a plain JSON Schema 2020-12 object with `$schema`, `$defs` (with an `$anchor`), `$ref`,
 * composition (`allOf`/`anyOf`), conditionals (`if`/`then`/`else`) and `additionalProperties`.
 * The daemon must advertise it exactly as given and validate arguments with the 2020-12 dialect.
 *
 * The plugin is named `json` so that, with `namespaceSeparator: "_"`, the tool `schema_2020_12_tool`
 * is exposed as `json_schema_2020_12_tool`. It is a plugin of its own so that a daemon which
 * cannot compile this schema fails this one fixture, not the rest.
 */
import { definePlugin } from "mcp-patchbay";

const INPUT_2020_12 = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  $defs: {
    address: {
      $anchor: "addressDef",
      type: "object",
      properties: { street: { type: "string" }, city: { type: "string" } },
    },
  },
  properties: {
    name: { type: "string" },
    address: { $ref: "#/$defs/address" },
    contactMethod: { type: "string", enum: ["phone", "email"] },
    phone: { type: "string" },
    email: { type: "string" },
  },
  allOf: [{ anyOf: [{ required: ["phone"] }, { required: ["email"] }] }],
  if: { properties: { contactMethod: { const: "phone" } }, required: ["contactMethod"] },
  then: { required: ["phone"] },
  else: { required: ["email"] },
  additionalProperties: false,
};

export default definePlugin({
  name: "json",
  version: "1.0.0",
  description: "The JSON Schema 2020-12 fixture of the MCP conformance suites",
  tools: {
    schema_2020_12_tool: {
      description: "Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613)",
      input: INPUT_2020_12,
      handler: (args) => `JSON Schema 2020-12 tool called with: ${JSON.stringify(args)}`,
    },
  },
});
