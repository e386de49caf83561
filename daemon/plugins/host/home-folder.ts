/**
 * The user's own plugins folder, `$PATCHBAY_HOME/plugins` (default `~/.patchbay/plugins`): the
 * folder served when no flag, env var or config names another. On first start it is created
 * with one commented example plugin and a README; once it exists (even empty) it is the
 * user's and is never written to again.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { defaultPluginsDir, type Config } from "../../config.ts";

export const EXAMPLE_PLUGIN_FILE = "example.ts";

export const EXAMPLE_PLUGIN = `// example: a Patchbay plugin, written here on first start so there is something to call.
// Change it, copy it, or delete it — Patchbay never writes to this folder again.
//
// Every .ts/.mts/.js/.mjs file in this folder is a plugin; its tools are exposed as
// "<plugin>__<tool>" (here "example__greet"). Save the file and every connected client sees
// the change a moment later, no restart. If a save does not compile, the last good version
// keeps serving and the dashboard shows the error with its line.
import { definePlugin, z } from "mcp-patchbay"; // resolves without installing anything

export default definePlugin({
  name: "example", // optional: defaults to the file name
  description: "A first plugin to copy from",
  tools: {
    // A tool: a description for the model, an input schema (zod), and a handler.
    // Return a string, a plain object (sent as JSON) or a full MCP CallToolResult;
    // a thrown Error becomes an isError result carrying its message.
    greet: {
      description: "Greet someone by name",
      input: { name: z.string().describe("who to greet"), shout: z.boolean().optional() },
      handler: async ({ name, shout }, ctx) => {
        ctx.log.info("greet called"); // goes to the daemon's log, never to stdout
        const text = \`Hello, \${name}! This answer came from example.ts in your Patchbay plugins folder.\`;
        return shout ? text.toUpperCase() : text;
      },
    },
  },
  resources: {
    // A resource clients can read by URI.
    "example://about": {
      description: "What this folder is for",
      mimeType: "text/markdown",
      read: async () => "# example\\nEdit example.ts in your Patchbay plugins folder to change me.",
    },
  },
  prompts: {
    // A prompt with arguments; a string becomes a single user message.
    summarize: {
      description: "Summarize a text in three bullet points",
      arguments: { text: z.string() },
      render: async ({ text }) => \`Summarize this in three bullet points:\\n\\n\${text}\`,
    },
  },
});
`;

export function homeReadme(dir: string): string {
  return `# Your Patchbay plugins

Patchbay serves every plugin in this folder (\`${dir}\`) as one MCP server — to Claude
Desktop through \`patchbay stdio\`, and over HTTP, SSE and WebSocket — and reloads a plugin
the moment you save it. No restart, nothing to install.

What to drop here:

- \`NAME.ts\`, \`NAME.mts\`, \`NAME.js\` or \`NAME.mjs\`: one plugin, whose default export is
  \`definePlugin({ tools, resources, resourceTemplates, prompts })\` (see \`example.ts\`).
  Its tools are exposed as \`NAME__tool\`.
- a folder \`NAME/\` with an \`index.ts\` (or \`.mts\`/\`.js\`/\`.mjs\`): one plugin split over
  several files; editing any file it imports reloads it.

\`import { definePlugin, z } from "mcp-patchbay"\` works here without \`npm install\`. Other
files (like this README) are ignored. Deleting a plugin's file unloads it.

A plugin nobody has called for a while (\`workerIdleMs\`, 5 minutes) is parked to save memory: it stays listed, and the
next call starts it again (about 50 ms), so variables at the top of a plugin file start
over. With more than \`maxRunningPlugins\` (32) in use, the least recently used is parked first. Keep state in \`ctx.dataDir\`, or add \`keepAlive: true\` to the plugin. Small plugins you trust together can share one thread instead (\`workerGroups\` in the config): they are never parked, but a crash in one restarts them all.

\`patchbay new-plugin NAME\` writes a commented starter plugin into this folder. The dashboard
(the URL \`patchbay start\` or \`patchbay status\` prints) shows each plugin's status, its
last error with file and line, and the latency of every tool.

Patchbay created this folder with \`example.ts\` and this README on its first start and never
writes to it again: edit or delete both freely. To serve another folder instead, pass
\`--plugins DIR\`, set \`PATCHBAY_PLUGINS\`, or set \`pluginsDir\` in a config file.
`;
}

export type HomeFolderResult = { created: false; error?: string } | { created: true; dir: string; files: string[] };

/**
 * Creates the default plugins folder with the example and README, when the configured folder
 * is the default one and does not exist yet. Anything already there (even an empty folder)
 * is left alone; so is a folder named by a flag, env var or config. A folder that cannot be
 * made (say $PATCHBAY_HOME is a file) is reported in `error`, not thrown: the daemon then
 * says what is wrong with its home as it would without this step.
 */
export function ensureHomePluginsFolder(config: Pick<Config, "home" | "pluginsDir">): HomeFolderResult {
  const dir = resolve(config.pluginsDir);
  if (dir !== defaultPluginsDir(config.home)) return { created: false };
  try {
    mkdirSync(dirname(dir), { recursive: true });
    mkdirSync(dir); // not recursive: whoever creates the folder writes the files, exactly once
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return e.code === "EEXIST" ? { created: false } : { created: false, error: `cannot create ${dir}: ${e.message}` };
  }
  const files = [join(dir, EXAMPLE_PLUGIN_FILE), join(dir, "README.md")];
  writeFileSync(files[0], EXAMPLE_PLUGIN, { flag: "wx" });
  writeFileSync(files[1], homeReadme(dir), { flag: "wx" });
  return { created: true, dir, files };
}
