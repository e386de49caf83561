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

/** The plugin name implied by a path: `tasks.ts` → `tasks`, `weather/index.ts` → `weather`, `github.mcp.json` → `github`. */
export function pluginNameFromPath(relPath: string): string {
  const parts = relPath.split(/[\\/]/);
  const first = parts.length > 1 ? parts[0] : parts[0].replace(/\.mcp\.json$/, "").replace(/\.(m?ts|m?js)$/, "");
  return first;
}
