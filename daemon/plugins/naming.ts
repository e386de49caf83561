/**
 * Exposed names. Tools and prompts are exposed as `<plugin><sep><name>`, always matching
 * `^[a-zA-Z0-9_-]{1,64}$` (the common client limit): other characters become `_`, and a
 * longer name keeps its head plus a hash of the whole, so it is stable across runs.
 */
import { createHash } from "node:crypto";

export const MAX_NAME_LENGTH = 64;
export const NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

export function sanitizeSegment(s: string): string {
  const cleaned = s.replace(/[^a-zA-Z0-9_-]/g, "_");
  return cleaned.length > 0 ? cleaned : "_";
}

export function exposedName(plugin: string, name: string, separator = "__"): string {
  const full = `${sanitizeSegment(plugin)}${separator}${sanitizeSegment(name)}`;
  if (full.length <= MAX_NAME_LENGTH) return full;
  const hash = createHash("sha256").update(`${plugin}\u0000${name}`).digest("hex").slice(0, 8);
  return `${full.slice(0, MAX_NAME_LENGTH - hash.length - 1)}_${hash}`;
}

/** A plugin's own name: short enough to leave room for the tool in a 64-character exposed name. */
export const MAX_PLUGIN_NAME_LENGTH = 48;
export const PLUGIN_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,48}$/;

/**
 * The plugin name implied by a path: `tasks.ts` → `tasks`, `weather/index.ts` → `weather`,
 * `github.mcp.json` → `github`, made valid by {@link validPluginName} (`with space.mjs` →
 * `with_space`, `héllo.mjs` → `hello`, `a.b.mjs` → `a_b`).
 */
export function pluginNameFromPath(relPath: string): string {
  const parts = relPath.split(/[\\/]/);
  const stem = parts.length > 1 ? parts[0] : parts[0].replace(/\.mcp\.json$/, "").replace(/\.(m?ts|m?js)$/, "");
  return validPluginName(stem);
}

/**
 * A valid plugin name for any file or folder name, the same on every run and machine: a
 * plugin that sets no `name` must not fail to load over its file name. Accents are dropped
 * (é → e), every other character outside [A-Za-z0-9_-] becomes `_`, and a name longer than
 * 48 keeps its head plus a hash of the whole, as exposed names do. A name with no letter or
 * digit left (`日本.mjs`) becomes `plugin_<hash>`, so two such files do not collide.
 */
export function validPluginName(stem: string): string {
  if (PLUGIN_NAME_PATTERN.test(stem)) return stem;
  const hash = createHash("sha256").update(stem).digest("hex").slice(0, 8);
  const name = stem.normalize("NFKD").replace(/\p{M}/gu, "").replace(/[^a-zA-Z0-9_-]/gu, "_");
  if (!/[a-zA-Z0-9]/.test(name)) return `plugin_${hash}`;
  if (name.length <= MAX_PLUGIN_NAME_LENGTH) return name;
  return `${name.slice(0, MAX_PLUGIN_NAME_LENGTH - hash.length - 1)}_${hash}`;
}
