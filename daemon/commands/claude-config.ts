/**
 * `patchbay claude-config [--write]`: prints the one `mcpServers` entry, or merges it into
 * Claude Desktop's config at the platform's standard path — keeping other servers, writing
 * a backup first, and refusing to touch a file that is not valid JSON.
 *
 * The entry starts what the user runs: this checkout's `dist/cli.js` with this `node`, the
 * globally installed `patchbay`, or `npx -y mcp-patchbay` when run through npx.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { defaultConfigFile, defaultHome, defaultPluginsDir, type Config } from "../config.ts";
import { UsageError } from "../errors.ts";
import { Profiles, unknownProfileMessage } from "../profiles.ts";
import { distDir } from "../package-root.ts";

export const ENTRY_NAME = "patchbay";
export const PACKAGE_NAME = "mcp-patchbay";

export interface ClaudeEntry {
  command: string;
  args: string[];
  env?: Record<string, string>;
}

/**
 * How this CLI was installed, judged by where its file lives:
 * - `npx`: in npm's npx cache (`…/_npx/<hash>/node_modules/mcp-patchbay/…`);
 * - `global`: in a global `node_modules` (`<prefix>/lib/node_modules` for npm on Unix, nvm and
 *   Volta included; `%APPDATA%\npm\node_modules` or `…\nodejs\node_modules` on Windows; the
 *   pnpm, Yarn and Bun global folders) — run by its `patchbay` bin;
 * - `local`: in some project's `node_modules` (runnable only by its path);
 * - `checkout`: anywhere else — a clone of the repository (or `npm link` to one).
 */
export type InstallKind = "checkout" | "global" | "npx" | "local";

const GLOBAL_PARENTS = [/\/lib$/, /\/npm$/i, /\/nodejs$/i, /\/pnpm\/global\/\d+$/, /\/yarn(?:\/data)?\/global$/i, /\/\.bun\/install\/global$/];

export function installKind(cliFile: string): InstallKind {
  const p = cliFile.replace(/\\/g, "/");
  if (/\/_npx\//.test(p)) return "npx";
  const at = p.lastIndexOf("/node_modules/");
  if (at < 0) return "checkout";
  const parent = p.slice(0, at);
  return GLOBAL_PARENTS.some((re) => re.test(parent)) ? "global" : "local";
}

export interface EntryContext {
  /** the CLI file being run (default: this package's dist/cli.js) */
  cliFile?: string;
  /** the node running it (default: process.execPath) */
  nodePath?: string;
  /** $PATCHBAY_HOME when Claude Desktop starts the entry (default: ~/.patchbay) */
  defaultHome?: string;
}

/**
 * The `mcpServers` entry for this install. `--plugins` only when the folder is not the
 * default one; `PATCHBAY_HOME` in `env` only when it is not the default one (Claude Desktop
 * does not read the shell's environment), so the entry reaches the same daemon and folder.
 */
export function claudeEntry(config: Pick<Config, "home" | "pluginsDir"> & { configFile?: string }, ctx: EntryContext = {}, profile?: string): ClaudeEntry {
  const cliFile = resolve(ctx.cliFile ?? join(distDir, "cli.js"));
  const kind = installKind(cliFile);
  const entry: ClaudeEntry =
    kind === "npx" ? { command: "npx", args: ["-y", PACKAGE_NAME, "stdio"] } : kind === "global" ? { command: "patchbay", args: ["stdio"] } : { command: ctx.nodePath ?? process.execPath, args: [cliFile, "stdio"] };
  const home = resolve(config.home);
  if (resolve(config.pluginsDir) !== defaultPluginsDir(home)) entry.args.push("--plugins", resolve(config.pluginsDir));
  if (profile !== undefined) {
    // the profile is defined in this config file: a daemon the entry starts must read it too
    if (config.configFile && resolve(config.configFile) !== resolve(defaultConfigFile)) entry.args.push("--config", resolve(config.configFile));
    entry.args.push("--profile", profile);
  }
  if (home !== resolve(ctx.defaultHome ?? defaultHome())) entry.env = { PATCHBAY_HOME: home };
  return entry;
}

/** Claude Desktop's config file for this platform. */
export function claudeConfigPath(platform: NodeJS.Platform = process.platform, env: NodeJS.ProcessEnv = process.env): string {
  const home = env.HOME || homedir();
  if (platform === "darwin") return join(home, "Library", "Application Support", "Claude", "claude_desktop_config.json");
  if (platform === "win32") return join(env.APPDATA || join(home, "AppData", "Roaming"), "Claude", "claude_desktop_config.json");
  return join(env.XDG_CONFIG_HOME || join(home, ".config"), "Claude", "claude_desktop_config.json");
}

export type MergeResult = { ok: true; file: string; backup?: string; replaced: boolean } | { ok: false; file: string; error: string };

export type ReadResult = { ok: true; file: string; exists: boolean; config: Record<string, unknown>; servers: Record<string, unknown> } | { ok: false; file: string; error: string };

/** Reads Claude Desktop's config: a missing or empty file is `{}`; anything but a JSON object (with an object `mcpServers`) is refused. */
export function readClaudeConfig(file: string): ReadResult {
  let config: Record<string, unknown> = {};
  const exists = existsSync(file);
  if (exists) {
    const text = readFileSync(file, "utf8");
    if (text.trim() !== "") {
      try {
        config = JSON.parse(text);
      } catch (err) {
        return { ok: false, file, error: `${file} is not valid JSON (${(err as Error).message}); fix it first — not overwriting it` };
      }
      if (typeof config !== "object" || config === null || Array.isArray(config)) return { ok: false, file, error: `${file} does not hold a JSON object; not overwriting it` };
    }
  }
  const servers = (config.mcpServers ?? {}) as Record<string, unknown>;
  if (typeof servers !== "object" || servers === null || Array.isArray(servers)) return { ok: false, file, error: `"mcpServers" in ${file} is not an object; not overwriting it` };
  return { ok: true, file, exists, config, servers };
}

/** Copies the file to `FILE.<timestamp>.bak` (if it exists) and returns that path. */
export function backupClaudeConfig(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const backup = `${file}.${new Date().toISOString().replace(/[:.]/g, "-")}.bak`;
  copyFileSync(file, backup);
  return backup;
}

export function writeClaudeConfig(file: string, config: Record<string, unknown>): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(config, null, 2) + "\n");
}

export function mergeClaudeConfig(file: string, entry: ClaudeEntry): MergeResult {
  const r = readClaudeConfig(file);
  if (!r.ok) return r;
  const backup = backupClaudeConfig(file);
  const replaced = ENTRY_NAME in r.servers;
  r.config.mcpServers = { ...r.servers, [ENTRY_NAME]: entry };
  writeClaudeConfig(file, r.config);
  return { ok: true, file, backup, replaced };
}

export async function runClaudeConfig(config: Pick<Config, "home" | "pluginsDir" | "profiles"> & { configFile?: string }, opts: { write: boolean; profile?: string }): Promise<number> {
  if (opts.profile !== undefined && !Object.hasOwn(config.profiles, opts.profile)) throw new UsageError(`--profile: ${unknownProfileMessage(opts.profile, new Profiles(config.profiles))}`);
  const entry = claudeEntry(config, {}, opts.profile);
  if (!opts.write) {
    process.stdout.write(JSON.stringify({ mcpServers: { [ENTRY_NAME]: entry } }, null, 2) + "\n");
    process.stdout.write(`\nAdd this to ${claudeConfigPath()} or run \`patchbay claude-config --write\`.\n`);
    return 0;
  }
  const r = mergeClaudeConfig(claudeConfigPath(), entry);
  if (!r.ok) {
    process.stderr.write(`patchbay: ${r.error}\n`);
    return 1;
  }
  process.stdout.write(`${r.replaced ? "Updated" : "Added"} the "${ENTRY_NAME}" entry in ${r.file}${r.backup ? ` (backup: ${r.backup})` : ""}.\nRestart Claude Desktop to pick it up.\n`);
  return 0;
}
