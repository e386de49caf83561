// utils: small stateless tools — the simplest shape of a plugin.
import { definePlugin, z } from "mcp-patchbay";

export default definePlugin({
  name: "utils",
  version: "1.0.0",
  tools: {
    now: {
      description: "Current date and time, in a time zone",
      input: { timeZone: z.string().default("UTC").describe("IANA zone, e.g. Europe/Paris") },
      annotations: { readOnlyHint: true },
      handler: ({ timeZone }) => new Date().toLocaleString("en-GB", { timeZone, dateStyle: "full", timeStyle: "long" }),
    },
    add: {
      description: "Add numbers",
      input: { numbers: z.array(z.number()).min(1) },
      annotations: { readOnlyHint: true },
      handler: ({ numbers }) => ({ sum: numbers.reduce((a, b) => a + b, 0) }),
    },
    word_count: {
      description: "Count words and characters in a text",
      input: { text: z.string() },
      annotations: { readOnlyHint: true },
      handler: ({ text }) => ({ words: text.split(/\s+/).filter(Boolean).length, characters: text.length }),
    },
    slow_count: {
      description: "Count to n, one step per 100 ms, reporting progress (cancellable)",
      input: { n: z.number().int().min(1).max(100) },
      handler: async ({ n }, ctx) => {
        ctx.sendLog("info", { message: `counting to ${n}` }); // an MCP log message to the calling client
        for (let i = 1; i <= n; i++) {
          if (ctx.signal.aborted) throw new Error("cancelled");
          await new Promise((r) => setTimeout(r, 100));
          ctx.progress(i, n, `counted ${i}`);
        }
        return `counted to ${n}`;
      },
    },
  },
});
