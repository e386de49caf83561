/**
 * One client's config file: a JSON object whose one key (`mcpServers`, or `servers` for
 * VS Code) maps server names to entries. Reading refuses anything else with a
 * ClientConfigError naming the file and the problem, before anything is written, so a file
 * patchbay cannot understand is never overwritten. Writing keeps every other key as it was,
 * copies the old file to `FILE.<time>.bak` first, and replaces the file in one rename so the
 * client never reads half of it.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { ClientConfigError } from "../errors.ts";

export interface ClientConfigFile {
  file: string;
  key: string;
  exists: boolean;
  /** the whole file */
  config: Record<string, unknown>;
  /** `config[key]`, `{}` when the key is absent */
  servers: Record<string, unknown>;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Reads the file. A missing file is `{}` unless `missing` is given (then it is the error's
 * explanation); an empty file is `{}`.
 */
export function readClientConfig(file: string, key: string, opts: { missing?: string } = {}): ClientConfigFile {
  const exists = existsSync(file);
  if (!exists && opts.missing !== undefined) throw new ClientConfigError(`${file} does not exist: ${opts.missing}`);
  let config: unknown = {};
  const text = exists ? readFileSync(file, "utf8") : "";
  if (text.trim() !== "") {
    try {
      config = JSON.parse(text);
    } catch (err) {
      // VS Code and Gemini CLI accept comments in their JSON; JSON.parse (and so patchbay) does not
      const comments = /^\s*\/\/|\/\*/m.test(text) ? " — it holds comments, which patchbay cannot keep: remove them, or add the entry by hand" : "";
      throw new ClientConfigError(`${file} is not valid JSON (${(err as Error).message})${comments}; fix it first — not overwriting it`);
    }
    if (!isObject(config)) throw new ClientConfigError(`${file} does not hold a JSON object; not overwriting it`);
  }
  const obj = config as Record<string, unknown>;
  const servers = obj[key] ?? {};
  if (!isObject(servers)) throw new ClientConfigError(`"${key}" in ${file} is not an object; not overwriting it`);
  return { file, key, exists, config: obj, servers };
}

/** Copies the file to `FILE.<timestamp>.bak` (if it exists) and returns that path. */
export function backupConfigFile(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const backup = `${file}.${new Date().toISOString().replace(/[:.]/g, "-")}.bak`;
  copyFileSync(file, backup);
  return backup;
}

/** Backs the file up, then writes it with `servers` under its key and every other key kept; returns the backup's path. */
export function writeClientServers(read: ClientConfigFile, servers: Record<string, unknown>): string | undefined {
  const backup = backupConfigFile(read.file);
  mkdirSync(dirname(read.file), { recursive: true });
  const tmp = `${read.file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ ...read.config, [read.key]: servers }, null, 2) + "\n");
  renameSync(tmp, read.file);
  return backup;
}
