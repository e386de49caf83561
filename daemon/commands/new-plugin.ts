/** `patchbay new-plugin NAME`: writes a commented plugin that works as written. */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config.ts";
import { ensureHomePluginsFolder } from "../plugins/host/home-folder.ts";
import { PLUGIN_NAME_PATTERN } from "../plugins/naming.ts";

export function pluginTemplate(name: string): string {
  return `// ${name}: a Patchbay plugin. Save this file and its tools are live in every connected
// client a moment later — no restart. Tool names are exposed as "${name}__<tool>".
import { definePlugin, z } from "mcp-patchbay";

export default definePlugin({
  name: "${name}",
  description: "What this plugin is for",
  tools: {
    // A tool: a description for the model, an input schema (zod), and a handler.
    // Return a string, a plain object (sent as JSON), or a full MCP CallToolResult.
    // Throwing an Error turns into an isError result carrying its message.
    echo: {
      description: "Echo a message back, optionally shouting",
      input: { message: z.string().describe("what to echo"), shout: z.boolean().optional() },
      handler: async ({ message, shout }, ctx) => {
        ctx.log.info("echo called", { length: message.length }); // goes to the daemon log, never stdout
        return shout ? message.toUpperCase() : message;
      },
    },
  },
  resources: {
    // A fixed resource, read by URI.
    "${name}://readme": {
      description: "About this plugin",
      mimeType: "text/markdown",
      read: async () => "# ${name}\\nEdit ${name}.ts in the plugins folder to change me.",
    },
  },
  prompts: {
    // A prompt with arguments; return a string for a single user message.
    summarize: {
      description: "Summarize a text",
      arguments: { text: z.string() },
      render: async ({ text }) => \`Summarize this in three bullet points:\\n\\n\${text}\`,
    },
  },
});
`;
}

export function runNewPlugin(config: Config, name: string): number {
  if (!PLUGIN_NAME_PATTERN.test(name)) {
    process.stderr.write(`patchbay: plugin name "${name}" must match ^[a-zA-Z0-9_-]{1,48}$\n`);
    return 2;
  }
  ensureHomePluginsFolder(config);
  const file = join(config.pluginsDir, `${name}.ts`);
  if (existsSync(file) || existsSync(join(config.pluginsDir, name))) {
    process.stderr.write(`patchbay: ${file} already exists; not overwriting it\n`);
    return 1;
  }
  mkdirSync(config.pluginsDir, { recursive: true });
  writeFileSync(file, pluginTemplate(name));
  process.stdout.write(`Wrote ${file}\nIt is live as soon as a daemon watching ${config.pluginsDir} sees it.\n`);
  return 0;
}
