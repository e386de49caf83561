/**
 * `patchbay import-claude-config [--write]`: moves the servers in Claude Desktop's config
 * behind Patchbay. Each `mcpServers` entry (but Patchbay's own) becomes `NAME.mcp.json` in
 * the plugins folder; with `--write`, Claude's config then keeps only the Patchbay entry
 * (after a backup).
 *
 * - The `.mcp.json` files are written with or without `--write` (they only add plugins);
 *   without it, the change to Claude's config is printed, not made.
 * - Idempotent: an identical existing `NAME.mcp.json` is left alone; a different one is a
 *   conflict — not overwritten, and that server stays in Claude's config.
 * - Names become valid plugin names ([A-Za-z0-9_-]); renames are reported.
 * - An entry that is not a valid upstream config stays in Claude's config, reported.
 * - Claude's config is read like `claude-config` does: not valid JSON → refused, nothing written.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import type { Config } from "../config.ts";
import { messageOf } from "../errors.ts";
import { sanitizeSegment } from "../plugins/naming.ts";
import { parseUpstreamConfig, UPSTREAM_SUFFIX, type UpstreamConfig } from "../plugins/upstream-config.ts";
import { backupClaudeConfig, claudeConfigPath, claudeEntry, ENTRY_NAME, PACKAGE_NAME, readClaudeConfig, writeClaudeConfig, type ClaudeEntry } from "./claude-config.ts";

const STDIO_KEYS = ["command", "args", "env", "cwd"] as const;
const URL_KEYS = ["url", "headers"] as const;

/** Whether a Claude Desktop entry starts Patchbay: `patchbay`, `mcp-patchbay` (npx or bin), or `…/dist/cli.js stdio`. */
export function isPatchbayEntry(entry: unknown): boolean {
  if (!entry || typeof entry !== "object") return false;
  const { command, args } = entry as { command?: unknown; args?: unknown };
  if (typeof command !== "string") return false;
  const argv = Array.isArray(args) ? args.filter((a): a is string => typeof a === "string") : [];
  const base = basename(command.replace(/\\/g, "/")).replace(/\.(cmd|exe|ps1)$/i, "");
  if (base === "patchbay" || base === PACKAGE_NAME) return true;
  if (argv.some((a) => a === PACKAGE_NAME || a.startsWith(`${PACKAGE_NAME}@`))) return true;
  const cli = argv.findIndex((a) => /(^|[\\/])dist[\\/]cli\.js$/.test(a));
  return cli >= 0 && argv[cli + 1] === "stdio";
}

/** The upstream config for a Claude entry: only the keys `.mcp.json` knows; the others are listed as dropped. */
export function toUpstream(entry: unknown): { config?: UpstreamConfig; dropped: string[]; error?: string } {
  if (!entry || typeof entry !== "object" || Array.isArray(entry)) return { dropped: [], error: "not an object" };
  const e = entry as Record<string, unknown>;
  const keys = "command" in e ? STDIO_KEYS : "url" in e ? URL_KEYS : undefined;
  if (!keys) return { dropped: [], error: `needs "command" or "url"` };
  const picked: Record<string, unknown> = {};
  for (const k of keys) if (e[k] !== undefined) picked[k] = e[k];
  const dropped = Object.keys(e).filter((k) => !(keys as readonly string[]).includes(k));
  try {
    return { config: parseUpstreamConfig("entry", JSON.stringify(picked)), dropped };
  } catch (err) {
    return { dropped, error: messageOf(err).replace(/^entry: /, "") };
  }
}

export type ServerOutcome =
  | { name: string; status: "written" | "unchanged"; file: string; pluginName: string; renamed: boolean; dropped: string[] }
  | { name: string; status: "conflict"; file: string; pluginName: string; renamed: boolean }
  | { name: string; status: "invalid"; error: string }
  | { name: string; status: "patchbay" };

export interface ImportResult {
  claudeFile: string;
  servers: ServerOutcome[];
  /** Claude's `mcpServers` after the change, or undefined when it needs none */
  newServers?: Record<string, unknown>;
  backup?: string;
  wrote: boolean;
}

export function importClaudeConfig(opts: { claudeFile: string; pluginsDir: string; entry: ClaudeEntry; write: boolean }): { ok: true; result: ImportResult } | { ok: false; error: string } {
  const read = readClaudeConfig(opts.claudeFile);
  if (!read.ok) return { ok: false, error: read.error };
  if (!read.exists) return { ok: false, error: `${opts.claudeFile} does not exist: nothing to import` };
  const outcomes: ServerOutcome[] = [];
  const keep: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(read.servers)) {
    if (isPatchbayEntry(raw)) {
      outcomes.push({ name, status: "patchbay" });
      continue;
    }
    const up = toUpstream(raw);
    if (!up.config) {
      outcomes.push({ name, status: "invalid", error: up.error ?? "invalid" });
      keep[name] = raw;
      continue;
    }
    const pluginName = sanitizeSegment(name);
    const file = join(opts.pluginsDir, `${pluginName}${UPSTREAM_SUFFIX}`);
    const renamed = pluginName !== name;
    if (existsSync(file)) {
      let same = false;
      try {
        same = isDeepStrictEqual(JSON.parse(readFileSync(file, "utf8")), up.config);
      } catch {
        // unreadable or not JSON: a conflict
      }
      if (same) outcomes.push({ name, status: "unchanged", file, pluginName, renamed, dropped: up.dropped });
      else {
        outcomes.push({ name, status: "conflict", file, pluginName, renamed });
        keep[name] = raw;
      }
      continue;
    }
    mkdirSync(opts.pluginsDir, { recursive: true });
    writeFileSync(file, JSON.stringify(up.config, null, 2) + "\n");
    outcomes.push({ name, status: "written", file, pluginName, renamed, dropped: up.dropped });
  }
  // Claude's side: the servers not moved (conflicts, invalid) stay, then the one Patchbay entry
  // (a non-Patchbay server named "patchbay" that could not be moved is left alone too)
  const next: Record<string, unknown> = { ...keep };
  if (!(ENTRY_NAME in next)) next[ENTRY_NAME] = opts.entry;
  const result: ImportResult = { claudeFile: opts.claudeFile, servers: outcomes, wrote: false };
  if (!isDeepStrictEqual(next, read.servers)) {
    result.newServers = next;
    if (opts.write) {
      result.backup = backupClaudeConfig(opts.claudeFile);
      writeClaudeConfig(opts.claudeFile, { ...read.config, mcpServers: next });
      result.wrote = true;
    }
  }
  return { ok: true, result };
}

export async function runImportClaudeConfig(config: Pick<Config, "home" | "pluginsDir"> & { configFile?: string }, opts: { write: boolean; claudeFile?: string }): Promise<number> {
  const claudeFile = opts.claudeFile ?? claudeConfigPath();
  const r = importClaudeConfig({ claudeFile, pluginsDir: config.pluginsDir, entry: claudeEntry(config), write: opts.write });
  if (!r.ok) {
    process.stderr.write(`patchbay: ${r.error}\n`);
    return 1;
  }
  const { result } = r;
  const out: string[] = [`Importing ${claudeFile} into ${config.pluginsDir}:`];
  for (const s of result.servers) {
    const rename = "renamed" in s && s.renamed ? ` (renamed to "${s.pluginName}": plugin names are [A-Za-z0-9_-])` : "";
    const dropped = "dropped" in s && s.dropped.length ? ` (ignored keys: ${s.dropped.join(", ")})` : "";
    if (s.status === "patchbay") out.push(`  = ${s.name}: Patchbay's own entry, not imported`);
    else if (s.status === "written") out.push(`  + ${s.name}: wrote ${s.file}${rename}${dropped}`);
    else if (s.status === "unchanged") out.push(`  = ${s.name}: ${s.file} already holds it${rename}`);
    else if (s.status === "conflict") out.push(`  ! ${s.name}: conflict — ${s.file} exists with other content; not overwritten, left in Claude's config${rename}`);
    else if (s.status === "invalid") out.push(`  ! ${s.name}: not a valid upstream server (${s.error}); left in Claude's config`);
  }
  if (result.servers.length === 0) out.push("  (no servers in mcpServers)");
  if (!result.newServers) out.push(`${claudeFile} needs no change (it already has the "${ENTRY_NAME}" entry and no server left to move).`);
  else {
    // names only (kept entries may hold secrets in env or headers), plus our entry
    const removed = result.servers.map((s) => s.name).filter((n) => !(n in result.newServers!));
    const kept = Object.keys(result.newServers).filter((n) => n !== ENTRY_NAME);
    const change = [
      `    remove: ${removed.length ? removed.join(", ") : "(none)"}`,
      `    keep: ${kept.length ? kept.join(", ") : "(none)"}`,
      `    set "${ENTRY_NAME}": ${JSON.stringify(result.newServers[ENTRY_NAME])}`,
    ];
    if (result.wrote) out.push(`Updated ${claudeFile}${result.backup ? ` (backup: ${result.backup})` : ""}:`, ...change, "Restart Claude Desktop to pick it up.");
    else out.push(`Dry run — with --write, ${claudeFile} would get (after a backup):`, ...change, "Run `patchbay import-claude-config --write` to make that change.");
  }
  process.stdout.write(out.join("\n") + "\n");
  return result.servers.some((s) => s.status === "conflict" || s.status === "invalid") ? 1 : 0;
}
