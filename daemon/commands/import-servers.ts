/**
 * `patchbay import CLIENT [--write] [--scope S]` (and `import-claude-config`, its alias for
 * `claude-desktop`): moves a client's MCP servers behind Patchbay. Each entry (but
 * Patchbay's own) becomes `NAME.mcp.json` in the plugins folder; with `--write`, the client's
 * config then keeps only the Patchbay entry (after a backup) and every other key of the file.
 *
 * - The `.mcp.json` files are written with or without `--write` (they only add plugins);
 *   without it, the change to the client's config is printed, not made.
 * - Idempotent: an identical existing `NAME.mcp.json` is left alone; a different one is a
 *   conflict — not overwritten, and that server stays in the client's config.
 * - Names become valid plugin names ([A-Za-z0-9_-]); renames are reported.
 * - The client's spelling becomes `.mcp.json`'s: `type` picks stdio or remote, Windsurf's
 *   `serverUrl` and Gemini's `httpUrl` become `url`, `${env:NAME}` becomes `${NAME}`
 *   (client-variables.ts). What has no equivalent keeps the server in the client, reported:
 *   VS Code's `${input:…}` prompts and `${workspaceFolder}`, an `envFile`. A server the
 *   client has `disabled` stays there too, so importing never switches one on.
 * - An entry that is not a valid upstream config stays in the client's config, reported.
 * - The client's config is read as `connect` reads it: missing, not valid JSON or the wrong
 *   shape → refused with the file and the problem, nothing written.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import type { Config } from "../config.ts";
import { messageOf } from "../errors.ts";
import { validPluginName } from "../plugins/naming.ts";
import { parseUpstreamConfig, UPSTREAM_SUFFIX, type UpstreamConfig } from "../plugins/upstream/upstream-config.ts";
import { claudeEntry, ENTRY_NAME, PACKAGE_NAME } from "./claude-config.ts";
import { findClient, type ClientSpec } from "../clients/client-table.ts";
import { readClientConfig, writeClientServers } from "../clients/client-config-file.ts";
import { translateVariables } from "../clients/client-variables.ts";
import { resolveClientFile } from "../clients/client-resolve.ts";

const STDIO_KEYS = ["command", "args", "env", "cwd"] as const;
const URL_KEYS = ["url", "headers"] as const;
const STDIO_TYPES = new Set(["stdio"]);
// the remote transports' names across clients; Patchbay's `url` tries Streamable HTTP, then SSE
const REMOTE_TYPES = new Set(["http", "streamable-http", "streamableHttp", "sse"]);

/** Whether an entry starts Patchbay: `patchbay`, `mcp-patchbay` (npx or bin), or `…/dist/cli.js stdio`. */
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

export type UpstreamFromClient =
  | { config: UpstreamConfig; dropped: string[] }
  | { error: string; dropped: string[] }
  /** valid for the client, but with something `.mcp.json` cannot carry */
  | { unsupported: string }
  | { disabled: true };

/**
 * The upstream config for a client's entry: only the keys `.mcp.json` knows, in its
 * spelling; the others are listed as dropped. Without a client, Claude Desktop's rules.
 */
export function toUpstream(entry: unknown, client: ClientSpec = findClient("claude-desktop")!): UpstreamFromClient {
  if (!entry || typeof entry !== "object" || Array.isArray(entry)) return { dropped: [], error: "not an object" };
  const e: Record<string, unknown> = { ...(entry as Record<string, unknown>) };
  if (e.disabled === true) return { disabled: true };
  const consumed = new Set<string>(["disabled"]);
  let remote = false;
  if (e.type !== undefined) {
    consumed.add("type");
    if (typeof e.type !== "string" || !(STDIO_TYPES.has(e.type) || REMOTE_TYPES.has(e.type))) return { dropped: [], error: `"type": ${JSON.stringify(e.type)} is not a transport Patchbay can run (stdio, http or sse)` };
    remote = REMOTE_TYPES.has(e.type);
  }
  // the client's URL key (Windsurf's serverUrl, Gemini's httpUrl) becomes `url`
  if (!("command" in e) || remote) {
    const key = client.urlKeys.find((k) => typeof e[k] === "string");
    if (key) {
      for (const k of client.urlKeys) consumed.add(k);
      e.url = e[key];
    }
  }
  if (e.envFile !== undefined) return { unsupported: `reads its environment from envFile ${JSON.stringify(e.envFile)}, which NAME.mcp.json has no place for: put those variables in $PATCHBAY_HOME/.env and name them as \${NAME} in "env"` };
  const keys = remote ? URL_KEYS : "command" in e ? STDIO_KEYS : "url" in e ? URL_KEYS : undefined;
  if (!keys) return { dropped: [], error: `needs "command" or ${client.urlKeys.map((k) => `"${k}"`).join(" or ")}` };
  const picked: Record<string, unknown> = {};
  for (const k of keys) if (e[k] !== undefined) picked[k] = e[k];
  const dropped = Object.keys(entry).filter((k) => !(keys as readonly string[]).includes(k) && !consumed.has(k));
  const vars = translateVariables(picked, client.variables);
  if (!vars.ok) return { unsupported: `uses ${vars.variable}, which only ${client.name} can fill in (Patchbay expands \${NAME} from its environment and $PATCHBAY_HOME/.env): put the value there and write \${NAME} instead` };
  try {
    return { config: parseUpstreamConfig("entry", JSON.stringify(vars.value)), dropped };
  } catch (err) {
    return { dropped, error: messageOf(err).replace(/^entry: /, "") };
  }
}

export type ServerOutcome =
  | { name: string; status: "written" | "unchanged"; file: string; pluginName: string; renamed: boolean; dropped: string[] }
  | { name: string; status: "conflict"; file: string; pluginName: string; renamed: boolean }
  | { name: string; status: "invalid" | "unsupported"; error: string }
  | { name: string; status: "disabled" }
  | { name: string; status: "patchbay" };

export interface ImportResult {
  clientFile: string;
  servers: ServerOutcome[];
  /** the client's servers after the change, or undefined when it needs none */
  newServers?: Record<string, unknown>;
  backup?: string;
  wrote: boolean;
}

/** Writes the `.mcp.json` files, then (with `write`) the client's config; throws ClientConfigError before writing anything when the config is unusable. */
export function importServers(opts: { client: ClientSpec; clientFile: string; pluginsDir: string; entry: Record<string, unknown>; write: boolean }): ImportResult {
  const read = readClientConfig(opts.clientFile, opts.client.key, { missing: "nothing to import" });
  const outcomes: ServerOutcome[] = [];
  const keep: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(read.servers)) {
    if (isPatchbayEntry(raw)) {
      outcomes.push({ name, status: "patchbay" });
      continue;
    }
    const up = toUpstream(raw, opts.client);
    if (!("config" in up)) {
      keep[name] = raw;
      if ("disabled" in up) outcomes.push({ name, status: "disabled" });
      else if ("unsupported" in up) outcomes.push({ name, status: "unsupported", error: up.unsupported });
      else outcomes.push({ name, status: "invalid", error: up.error });
      continue;
    }
    const pluginName = validPluginName(name);
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
  // the client's side: the servers not moved stay, then the one Patchbay entry (a
  // non-Patchbay server named "patchbay" that could not be moved is left alone too)
  const next: Record<string, unknown> = { ...keep };
  if (!(ENTRY_NAME in next)) next[ENTRY_NAME] = opts.entry;
  const result: ImportResult = { clientFile: opts.clientFile, servers: outcomes, wrote: false };
  if (!isDeepStrictEqual(next, read.servers)) {
    result.newServers = next;
    if (opts.write) {
      result.backup = writeClientServers(read, next);
      result.wrote = true;
    }
  }
  return result;
}

export async function runImport(config: Pick<Config, "home" | "pluginsDir"> & { configFile?: string }, opts: { client: string | undefined; write: boolean; scope?: string; command?: string }): Promise<number> {
  const { client, scope, file: clientFile } = resolveClientFile(opts.client, opts.scope, "import");
  const result = importServers({ client, clientFile, pluginsDir: config.pluginsDir, entry: client.entry(claudeEntry(config)), write: opts.write });
  const where = `${client.name}'s config`;
  const out: string[] = [`Importing ${clientFile} into ${config.pluginsDir}:`];
  for (const s of result.servers) {
    const rename = "renamed" in s && s.renamed ? ` (renamed to "${s.pluginName}": plugin names are [A-Za-z0-9_-])` : "";
    const dropped = "dropped" in s && s.dropped.length ? ` (ignored keys: ${s.dropped.join(", ")})` : "";
    if (s.status === "patchbay") out.push(`  = ${s.name}: Patchbay's own entry, not imported`);
    else if (s.status === "written") out.push(`  + ${s.name}: wrote ${s.file}${rename}${dropped}`);
    else if (s.status === "unchanged") out.push(`  = ${s.name}: ${s.file} already holds it${rename}`);
    else if (s.status === "conflict") out.push(`  ! ${s.name}: conflict — ${s.file} exists with other content; not overwritten, left in ${where}${rename}`);
    else if (s.status === "invalid") out.push(`  ! ${s.name}: not a valid upstream server (${s.error}); left in ${where}`);
    else if (s.status === "unsupported") out.push(`  ! ${s.name}: not moved — it ${s.error}; left in ${where}`);
    else if (s.status === "disabled") out.push(`  - ${s.name}: disabled in ${client.name}; left there (importing it would switch it on)`);
  }
  if (result.servers.length === 0) out.push(`  (no servers in "${client.key}")`);
  if (!result.newServers) out.push(`${clientFile} needs no change (it already has the "${ENTRY_NAME}" entry and no server left to move).`);
  else {
    // names only (kept entries may hold secrets in env or headers), plus our entry
    const removed = result.servers.map((s) => s.name).filter((n) => !(n in result.newServers!));
    const kept = Object.keys(result.newServers).filter((n) => n !== ENTRY_NAME);
    const change = [
      `    remove: ${removed.length ? removed.join(", ") : "(none)"}`,
      `    keep: ${kept.length ? kept.join(", ") : "(none)"}`,
      `    set "${ENTRY_NAME}": ${JSON.stringify(result.newServers[ENTRY_NAME])}`,
    ];
    const again = opts.command ?? `patchbay import ${client.id}${scope !== Object.keys(client.scopes)[0] ? ` --scope ${scope}` : ""}`;
    if (result.wrote) out.push(`Updated ${clientFile}${result.backup ? ` (backup: ${result.backup})` : ""}:`, ...change, client.after);
    else out.push(`Dry run — with --write, ${clientFile} would get (after a backup):`, ...change, `Run \`${again} --write\` to make that change.`);
  }
  process.stdout.write(out.join("\n") + "\n");
  return result.servers.some((s) => s.status === "conflict" || s.status === "invalid" || s.status === "unsupported") ? 1 : 0;
}
