/**
 * The authoring API's types: `npm test` type-checks this file, so a wrong inference fails
 * the build. The runtime assertions check `definePlugin` and the exported `z`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { definePlugin, z, type CallContext } from "mcp-patchbay";

const plugin = definePlugin({
  tools: {
    typed: {
      input: { title: z.string(), count: z.number().optional() },
      handler: ({ title, count }, ctx: CallContext) => {
        const t: string = title;
        const c: number | undefined = count;
        // @ts-expect-error title is a string, not a number
        const wrong: number = title;
        void wrong;
        ctx.progress(1, 2);
        return `${t}:${c ?? 0}`;
      },
    },
    object: {
      input: z.object({ ids: z.array(z.string()) }),
      handler: ({ ids }) => ({ n: ids.length }),
    },
    jsonSchema: {
      input: { type: "object", properties: { q: { type: "string" } } },
      handler: (args) => String(args.q),
    },
  },
  prompts: {
    p: { arguments: { focus: z.string() }, render: ({ focus }) => focus.toUpperCase() },
  },
});

test("definePlugin returns its argument and z is zod", () => {
  assert.equal(typeof plugin.tools?.typed.handler, "function");
  assert.equal(z.string().safeParse("x").success, true);
  assert.equal(definePlugin(plugin), plugin);
});
