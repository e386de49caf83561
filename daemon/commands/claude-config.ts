/**
 * The one Patchbay entry every client gets (`connect`, `import`, and `claude-config`, now
 * `connect claude-desktop`), in Claude Desktop's shape — client-table.ts reshapes it per
 * client — and Claude Desktop's config path.
 *
 * The entry starts what the user runs: this checkout's `dist/cli.js` with this `node`, the
 * globally installed `patchbay`, or `npx -y mcp-patchbay` when run through npx.
 */
import { join, resolve } from "node:path";
import { defaultConfigFile, defaultHome, defaultPluginsDir, type Config } from "../config.ts";
import { distDir } from "../package-root.ts";
import { appDataDir } from "../clients/app-data-dir.ts";

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
  return join(appDataDir(platform, env), "Claude", "claude_desktop_config.json");
}
