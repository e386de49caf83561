/**
 * The authoring API's types: `npm test` type-checks this file, so a wrong inference fails
 * the build. The runtime assertions check `definePlugin` and the exported `z`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { definePlugin, z, type CallContext, type CreateMessageResult, type ElicitResult, type ListRootsResult } from "mcp-patchbay";

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

// A tool without `input` and a prompt without `arguments` must not stop TypeScript inferring
// the argument types of their siblings (they used to turn every handler's args into unknown).
const mixed = definePlugin({
  tools: {
    bare: { handler: (args) => Object.keys(args).length },
    typed: {
      input: { title: z.string() },
      handler: ({ title }) => {
        const t: string = title;
        // @ts-expect-error title is a string, not a number
        const wrong: number = title;
        void wrong;
        return t;
      },
    },
    zodObject: { input: z.object({ ids: z.array(z.string()) }), handler: ({ ids }) => ids.join(",") },
    // @ts-expect-error a number is not a tool input
    badInput: { input: 42, handler: () => "x" },
  },
  prompts: {
    bare: { render: () => "no arguments" },
    list: { arguments: [{ name: "a", required: true }], render: (args) => String(args.a) },
    typed: {
      arguments: { focus: z.string() },
      render: ({ focus }) => {
        const f: string = focus;
        // @ts-expect-error focus is a string, not a number
        const wrong: number = focus;
        void wrong;
        return f;
      },
    },
  },
});

// The client requests: params and results typed as in the MCP spec.
definePlugin({
  tools: {
    asks: {
      handler: async (_args, ctx) => {
        const sampled: CreateMessageResult = await ctx.sample({ messages: [{ role: "user", content: { type: "text", text: "hi" } }], maxTokens: 10 }, { key: "q" });
        const form: ElicitResult = await ctx.elicit({
          message: "Pick",
          requestedSchema: {
            type: "object",
            properties: {
              name: { type: "string", default: "Ada" },
              color: { type: "string", oneOf: [{ const: "r", title: "Red" }] },
              tags: { type: "array", items: { type: "string", enum: ["a", "b"] } },
            },
          },
        });
        const url: ElicitResult = await ctx.elicit({ mode: "url", url: "https://example.com/auth", message: "Sign in", elicitationId: "e1" });
        const roots: ListRootsResult = await ctx.roots();
        // @ts-expect-error URL mode needs an elicitationId
        await ctx.elicit({ mode: "url", url: "https://example.com", message: "m" });
        // @ts-expect-error sampling needs maxTokens
        await ctx.sample({ messages: [] });
        ctx.resourceUpdated("notes://all");
        return { model: sampled.model, action: form.action, url: url.action, roots: roots.roots.map((r) => r.uri) };
      },
    },
  },
  prompts: {
    asking: { render: async (_args, ctx) => (await ctx.roots()).roots.length.toString() },
  },
  resources: {
    "x://y": { read: async (_uri, ctx) => JSON.stringify(await ctx.elicit({ message: "ok?", requestedSchema: { type: "object", properties: {} } })) },
  },
  setup: (ctx) => ctx.resourceUpdated("x://y"),
});

test("definePlugin returns its argument and z is zod", () => {
  assert.equal(typeof mixed.tools?.bare.handler, "function");
  assert.equal(typeof plugin.tools?.typed.handler, "function");
  assert.equal(z.string().safeParse("x").success, true);
  assert.equal(definePlugin(plugin), plugin);
});
