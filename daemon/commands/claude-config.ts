/**
 * `patchbay claude-config [--write]`: prints the one `mcpServers` entry, or merges it into
 * Claude Desktop's config at the platform's standard path — keeping other servers, writing
 * a backup first, and refusing to touch a file that is not valid JSON.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

export const ENTRY_NAME = "patchbay";

export function claudeEntry() {
  return { command: "npx", args: ["-y", "mcp-patchbay", "stdio"] };
}

/** Claude Desktop's config file for this platform. */
export function claudeConfigPath(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env): string {
  const home = env.HOME || homedir();
  if (platform === "darwin") return join(home, "Library", "Application Support", "Claude", "claude_desktop_config.json");
  if (platform === "win32") return join(env.APPDATA || join(home, "AppData", "Roaming"), "Claude", "claude_desktop_config.json");
  return join(env.XDG_CONFIG_HOME || join(home, ".config"), "Claude", "claude_desktop_config.json");
}

export type MergeResult = { ok: true; file: string; backup?: string; replaced: boolean } | { ok: false; file: string; error: string };

export function mergeClaudeConfig(file: string): MergeResult {
  let config: Record<string, unknown> = {};
  let backup: string | undefined;
  if (existsSync(file)) {
    const text = readFileSync(file, "utf8");
    if (text.trim() !== "") {
      try {
        config = JSON.parse(text);
      } catch (err) {
        return { ok: false, file, error: `${file} is not valid JSON (${(err as Error).message}); fix it first — not overwriting it` };
      }
      if (typeof config !== "object" || config === null || Array.isArray(config)) return { ok: false, file, error: `${file} does not hold a JSON object; not overwriting it` };
    }
    backup = `${file}.${new Date().toISOString().replace(/[:.]/g, "-")}.bak`;
    copyFileSync(file, backup);
  }
  const servers = (config.mcpServers ?? {}) as Record<string, unknown>;
  if (typeof servers !== "object" || Array.isArray(servers)) return { ok: false, file, error: `"mcpServers" in ${file} is not an object; not overwriting it` };
  const replaced = ENTRY_NAME in servers;
  config.mcpServers = { ...servers, [ENTRY_NAME]: claudeEntry() };
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(config, null, 2) + "\n");
  return { ok: true, file, backup, replaced };
}

export async function runClaudeConfig(opts: { write: boolean }): Promise<number> {
  if (!opts.write) {
    process.stdout.write(JSON.stringify({ mcpServers: { [ENTRY_NAME]: claudeEntry() } }, null, 2) + "\n");
    process.stdout.write(`\nAdd this to ${claudeConfigPath()} or run \`patchbay claude-config --write\`.\n`);
    return 0;
  }
  const r = mergeClaudeConfig(claudeConfigPath());
  if (!r.ok) {
    process.stderr.write(`patchbay: ${r.error}\n`);
    return 1;
  }
  process.stdout.write(`${r.replaced ? "Updated" : "Added"} the "${ENTRY_NAME}" entry in ${r.file}${r.backup ? ` (backup: ${r.backup})` : ""}.\nRestart Claude Desktop to pick it up.\n`);
  return 0;
}
