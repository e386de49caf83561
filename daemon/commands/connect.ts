/**
 * `patchbay connect CLIENT [--write] [--scope S] [--profile NAME] [--plugins DIR]` (and
 * `claude-config`, its alias for `claude-desktop`): prints the one Patchbay entry for a
 * client's config, or merges it into that file — keeping every other server and key, after
 * a backup, and refusing a file that is missing (where the client must create it), not
 * valid JSON or not the shape that client reads (client-config-file.ts).
 *
 * The entry runs what the user runs — this checkout, a global install or npx — as
 * claude-config.ts's `claudeEntry` decides, reshaped for the client by its row in
 * client-table.ts (VS Code's key is `servers` and its entries name their `type`).
 */
import { isDeepStrictEqual } from "node:util";
import type { Config } from "../config.ts";
import { UsageError } from "../errors.ts";
import { Profiles, unknownProfileMessage } from "../profiles.ts";
import { claudeEntry, ENTRY_NAME, type ClaudeEntry } from "./claude-config.ts";
import { readClientConfig, writeClientServers } from "../clients/client-config-file.ts";
import { resolveClientFile } from "../clients/client-resolve.ts";

/** One argument for a shell the user pastes into (display only; nothing here runs it). */
function shellWord(s: string, platform: NodeJS.Platform = process.platform): string {
  if (/^[A-Za-z0-9_\/.:=@%+,-]+$/.test(s)) return s;
  return platform === "win32" ? `"${s.replace(/"/g, '\\"')}"` : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Claude Code's own way to add the entry: `claude mcp add … patchbay -- COMMAND ARGS`. */
export function claudeMcpAddLine(stdio: ClaudeEntry, scope: string): string {
  const env = Object.entries(stdio.env ?? {}).flatMap(([k, v]) => ["--env", `${k}=${v}`]);
  return ["claude", "mcp", "add", "--transport", "stdio", "--scope", scope, ...env, ENTRY_NAME, "--", stdio.command, ...stdio.args].map((w) => shellWord(w)).join(" ");
}

export async function runConnect(config: Pick<Config, "home" | "pluginsDir" | "profiles"> & { configFile?: string }, opts: { client: string | undefined; write: boolean; profile?: string; scope?: string; command?: string }): Promise<number> {
  if (opts.profile !== undefined && !Object.hasOwn(config.profiles, opts.profile)) throw new UsageError(`--profile: ${unknownProfileMessage(opts.profile, new Profiles(config.profiles))}`);
  const { client, scope, location, file } = resolveClientFile(opts.client, opts.scope, "connect");
  const stdio = claudeEntry(config, {}, opts.profile);
  const entry = client.entry(stdio);
  const scopes = Object.keys(client.scopes);
  const again = opts.command ?? `patchbay connect ${client.id}${scope !== scopes[0] ? ` --scope ${scope}` : ""}`;
  if (!opts.write) {
    const out = [JSON.stringify({ [client.key]: { [ENTRY_NAME]: entry } }, null, 2), "", `Add this to ${file} (${client.name}${scopes.length > 1 ? `, ${scope} scope` : ""}) or run \`${again} --write\`.`];
    if (client.id === "claude-code") out.push(`Or let Claude Code add it: ${claudeMcpAddLine(stdio, scope)}`);
    const others = scopes.filter((s) => s !== scope);
    if (others.length) out.push(`Other scopes: ${others.map((s) => `--scope ${s} (${client.scopes[s].shown})`).join("; ")}.`);
    process.stdout.write(out.join("\n") + "\n");
    return 0;
  }
  const read = readClientConfig(file, client.key, location.mayCreate ? {} : { missing: location.whenMissing ?? `${client.name} creates it` });
  if (isDeepStrictEqual(read.servers[ENTRY_NAME], entry)) {
    process.stdout.write(`${file} already has this "${ENTRY_NAME}" entry; nothing to change.\n`);
    return 0;
  }
  const replaced = ENTRY_NAME in read.servers;
  const backup = writeClientServers(read, { ...read.servers, [ENTRY_NAME]: entry });
  process.stdout.write(`${replaced ? "Updated" : "Added"} the "${ENTRY_NAME}" entry in ${file}${backup ? ` (backup: ${backup})` : read.exists ? "" : " (created it)"}.\n${client.after}\n`);
  return 0;
}
