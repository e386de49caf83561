/** Plugin files the bench writes into temp plugin folders. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";

/** The echo tool every system serves; in Patchbay it is `bench__echo`. */
export const ECHO_PLUGIN = `import { definePlugin, z } from "mcp-patchbay";
export default definePlugin({
  name: "bench",
  version: "1.0.0",
  tools: {
    echo: { description: "Echo the text back", input: { text: z.string() }, handler: ({ text }) => text },
  },
});
`;
export const PATCHBAY_ECHO = "bench__echo";

export function writeEchoPlugin(dir: string): void {
  writeFileSync(join(dir, "bench.ts"), ECHO_PLUGIN);
}

/**
 * An example-size plugin, shaped like plugins/utils.ts: five small tools with zod inputs.
 * `salt` changes a description, so a rewrite is a real change (new bundle hash, new list).
 */
export function examplePlugin(name: string, salt = "1"): string {
  return `import { definePlugin, z } from "mcp-patchbay";
export default definePlugin({
  name: ${JSON.stringify(name)},
  version: "1.0.0",
  description: "Example-size plugin for the bench (${salt})",
  tools: {
    now: {
      description: "Current date and time, in a time zone (${salt})",
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
      handler: ({ text }) => ({ words: text.split(/\\s+/).filter(Boolean).length, characters: text.length }),
    },
    echo: {
      description: "Echo the text back",
      input: { text: z.string() },
      handler: ({ text }) => text,
    },
    slow_count: {
      description: "Count to n, one step per 100 ms, reporting progress (cancellable)",
      input: { n: z.number().int().min(1).max(100) },
      handler: async ({ n }, ctx) => {
        for (let i = 1; i <= n; i++) {
          if (ctx.signal.aborted) throw new Error("cancelled");
          await new Promise((r) => setTimeout(r, 100));
          ctx.progress(i, n, \`counted \${i}\`);
        }
        return \`counted to \${n}\`;
      },
    },
  },
});
`;
}

/** `count` example-size plugins p0 … p(count-1). */
export function writeExamplePlugins(dir: string, count: number): void {
  for (let i = 0; i < count; i++) writeFileSync(join(dir, `p${i}.ts`), examplePlugin(`p${i}`));
}

/** A plugin with `tools` echo-shaped tools (for the tools/list figure). */
export function widePlugin(name: string, tools: number): string {
  const body = Array.from({ length: tools }, (_, i) => `    tool_${i}: { description: "Tool ${i} of ${name}: echoes its text", input: { text: z.string().describe("what to echo") }, handler: ({ text }) => text },`).join("\n");
  return `import { definePlugin, z } from "mcp-patchbay";
export default definePlugin({
  name: ${JSON.stringify(name)},
  version: "1.0.0",
  tools: {
${body}
  },
});
`;
}

export function writeWidePlugins(dir: string, plugins: number, toolsEach: number): void {
  for (let i = 0; i < plugins; i++) writeFileSync(join(dir, `w${i}.ts`), widePlugin(`w${i}`, toolsEach));
}
