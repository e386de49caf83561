/**
 * `test_trigger_tool_change` / `test_trigger_prompt_change` must really change what the daemon
 * lists, so that it sends `list_changed` to `subscriptions/listen` streams. A plugin changes the
 * listing the way a user does: it adds or removes a plugin file in the plugins folder, and the
 * daemon's hot reload does the rest. Each call toggles one file (present ↔ absent).
 *
 * The plugins folder is the daemon's `PATCHBAY_PLUGINS`, which the conformance runner sets to a
 * temporary copy of test/conformance/plugins, so nothing is written into the source tree.
 */
import { existsSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const SOURCES = {
  tool: `import { definePlugin } from "mcp-patchbay";
export default definePlugin({
  description: "Added by test_trigger_tool_change; removed by its next call.",
  tools: { probe: { description: "A tool that comes and goes", handler: () => "present" } },
});
`,
  prompt: `import { definePlugin } from "mcp-patchbay";
export default definePlugin({
  description: "Added by test_trigger_prompt_change; removed by its next call.",
  prompts: { probe: { description: "A prompt that comes and goes", render: () => "present" } },
});
`,
};

/** Adds the plugin file `triggered_<kind>.ts` if it is absent, removes it if present. */
export function toggleTriggeredPlugin(kind: keyof typeof SOURCES): string {
  const dir = process.env.PATCHBAY_PLUGINS;
  if (!dir) throw new Error("PATCHBAY_PLUGINS is not set: the trigger needs the daemon's plugins folder (the conformance runner sets it)");
  const file = join(dir, `triggered_${kind}.ts`);
  if (existsSync(file)) {
    rmSync(file);
    return `removed ${file}`;
  }
  // write under an ignored name, then rename, so the watcher never sees half a file
  const tmp = join(dir, `.triggered_${kind}.ts.tmp`);
  writeFileSync(tmp, SOURCES[kind]);
  renameSync(tmp, file);
  return `added ${file}`;
}
