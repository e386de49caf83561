/**
 * Which files are plugins: `NAME.ts|.mts|.js|.mjs` at the top of the plugins folder, or a
 * folder `NAME/` holding an `index.*`, or `NAME.mcp.json` (an upstream MCP server). The daemon's loader and `patchbay doctor` both ask here.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { isIgnoredPath } from "./watcher.ts";

const ENTRY_EXT = /\.(ts|mts|js|mjs)$/;
const INDEX_NAMES = ["index.ts", "index.mts", "index.js", "index.mjs"];

function isEntryFile(path: string): boolean {
  return (ENTRY_EXT.test(path) && !path.endsWith(".d.ts")) || path.endsWith(".mcp.json");
}

/** The plugin entry file a path stands for, if the path itself is (or holds) an entry. */
export function pluginEntryFor(pluginsDir: string, path: string): string | undefined {
  const rel = relative(pluginsDir, path);
  if (rel.startsWith("..") || rel === "") return undefined;
  const parts = rel.split(sep);
  if (parts.length === 2) return INDEX_NAMES.includes(parts[1]) ? path : undefined;
  if (parts.length > 2) return undefined;
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    // gone already (an unlink): judge by the name
  }
  if (isDir) return INDEX_NAMES.map((n) => join(path, n)).find((p) => existsSync(p));
  return isEntryFile(path) ? path : undefined;
}

/** Every plugin entry in the folder, sorted, skipping ignored names. */
export function scanPluginEntries(pluginsDir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(pluginsDir).sort()) {
    const full = join(pluginsDir, name);
    if (isIgnoredPath(full)) continue;
    const entry = pluginEntryFor(pluginsDir, full);
    if (entry) out.push(entry);
  }
  return out;
}
