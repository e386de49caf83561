/**
 * Which files are plugins: `NAME.ts|.mts|.js|.mjs` at the top of the plugins folder, or a
 * folder `NAME/` holding an `index.*`, or `NAME.mcp.json` (an upstream MCP server). The daemon's loader and `patchbay doctor` both ask here.
 */
import { constants, existsSync, readdirSync, statSync } from "node:fs";
import { open, stat } from "node:fs/promises";
import { NotRegularFileError } from "../../errors.ts";
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

/** What a path is when it is not a regular file, in words for `/healthz` and the dashboard. */
export function fileKind(st: { isFile(): boolean; isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean }): string {
  if (st.isFile()) return "a regular file";
  if (st.isDirectory()) return "a folder";
  if (st.isFIFO()) return "a named pipe (FIFO)";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
  return "not a regular file";
}

/**
 * Why `path` cannot be read as a plugin source, or undefined when it is a regular file (a
 * symlink counts as what it points to). Asked before anything opens the file: opening a
 * FIFO for reading blocks until someone writes to it — in esbuild's service that stalls
 * every later compile, on the main thread the whole daemon.
 */
export async function notRegularFile(path: string): Promise<string | undefined> {
  let st;
  try {
    st = await stat(path);
  } catch {
    return undefined; // gone: the caller's read reports it (or it is an unload)
  }
  return st.isFile() ? undefined : `${path} is not a regular file (it is ${fileKind(st)}); skipped`;
}

/**
 * Reads a plugin source or helper file, refusing anything but a regular file without ever
 * blocking: the file is opened non-blocking (a FIFO opens at once instead of waiting for a
 * writer) and its kind is checked on the open descriptor, so a file swapped for a FIFO
 * between a check and the read cannot block either.
 */
export async function readRegularFile(path: string): Promise<Buffer> {
  const fh = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new NotRegularFileError(`${path} is not a regular file (it is ${fileKind(st)})`);
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}
