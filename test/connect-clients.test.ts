/**
 * `patchbay connect CLIENT` for every client in the table, through the real CLI, with HOME
 * and the working directory in a temp folder (so no real config is touched): the printed
 * entry's shape, `--write` into a config holding other servers and keys that must survive
 * (with one backup), creating a missing file where the client allows it, and refusing a
 * missing, invalid or wrongly shaped file with the file named and nothing written.
 * The paths are spelled out here, not taken from the table, so a wrong row fails.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { CLI, TempDir } from "./helpers/env.ts";
import { clientPlaces, runAt, type ClientPlace } from "./helpers/client-places.ts";
import { findClient, knownClients } from "../daemon/clients/client-table.ts";

const dir = new TempDir("patchbay-connect-");
after(() => dir.cleanup());

const place = clientPlaces(dir);
const run = (args: string[], at: ClientPlace, env?: Record<string, string>) => runAt(at, args, env);

/** The entry from this checkout, as Claude Desktop takes it. */
const STDIO = { command: process.execPath, args: [CLI, "stdio"] };
const TYPED = { type: "stdio", ...STDIO };

interface Case {
  client: string;
  scope?: string;
  file: (p: ClientPlace) => string;
  key: "mcpServers" | "servers";
  entry: Record<string, unknown>;
  mayCreate: boolean;
}

// Linux paths (this machine); the other OSes' are checked against the table below
const CASES: Case[] = [
  { client: "claude-desktop", file: (p) => join(p.home, ".config", "Claude", "claude_desktop_config.json"), key: "mcpServers", entry: STDIO, mayCreate: true },
  { client: "claude-code", file: (p) => join(p.cwd, ".mcp.json"), key: "mcpServers", entry: TYPED, mayCreate: true },
  { client: "claude-code", scope: "user", file: (p) => join(p.home, ".claude.json"), key: "mcpServers", entry: TYPED, mayCreate: false },
  { client: "cursor", file: (p) => join(p.home, ".cursor", "mcp.json"), key: "mcpServers", entry: STDIO, mayCreate: true },
  { client: "cursor", scope: "project", file: (p) => join(p.cwd, ".cursor", "mcp.json"), key: "mcpServers", entry: STDIO, mayCreate: true },
  { client: "vscode", file: (p) => join(p.cwd, ".vscode", "mcp.json"), key: "servers", entry: TYPED, mayCreate: true },
  { client: "vscode", scope: "user", file: (p) => join(p.home, ".config", "Code", "User", "mcp.json"), key: "servers", entry: TYPED, mayCreate: true },
  { client: "windsurf", file: (p) => join(p.home, ".codeium", "windsurf", "mcp_config.json"), key: "mcpServers", entry: STDIO, mayCreate: true },
  { client: "gemini", file: (p) => join(p.home, ".gemini", "settings.json"), key: "mcpServers", entry: STDIO, mayCreate: true },
  { client: "gemini", scope: "project", file: (p) => join(p.cwd, ".gemini", "settings.json"), key: "mcpServers", entry: STDIO, mayCreate: true },
  { client: "kiro", file: (p) => join(p.home, ".kiro", "settings", "mcp.json"), key: "mcpServers", entry: STDIO, mayCreate: true },
  { client: "kiro", scope: "workspace", file: (p) => join(p.cwd, ".kiro", "settings", "mcp.json"), key: "mcpServers", entry: STDIO, mayCreate: true },
];

const scoped = (c: Case) => (c.scope ? ["--scope", c.scope] : []);
const label = (c: Case) => `${c.client}${c.scope ? ` --scope ${c.scope}` : ""}`;
const siblings = (file: string) => (existsSync(dirname(file)) ? readdirSync(dirname(file)).sort() : []);
const backups = (file: string) => siblings(file).filter((f) => f.endsWith(".bak"));

/** The JSON at the start of what `connect` prints. */
function printed(stdout: string): unknown {
  return JSON.parse(stdout.slice(0, stdout.indexOf("\n}\n") + 2));
}

test("every client in the table has a case here", () => {
  for (const c of knownClients()) for (const s of Object.keys(c.scopes)) assert.ok(CASES.some((k) => k.client === c.id && (k.scope ?? Object.keys(c.scopes)[0]) === s), `${c.id} --scope ${s} has no test case`);
});

for (const c of CASES) {
  test(`connect ${label(c)}: prints the entry and where it goes, writes nothing`, () => {
    const p = place();
    const r = run(["connect", c.client, ...scoped(c)], p);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(printed(r.stdout), { [c.key]: { patchbay: c.entry } });
    assert.ok(r.stdout.includes(c.file(p)), `names ${c.file(p)}:\n${r.stdout}`);
    assert.equal(existsSync(c.file(p)), false);
  });

  test(`connect ${label(c)} --write: other servers and keys survive, one backup; again: no change`, () => {
    const p = place();
    const other = c.key === "servers" ? { type: "stdio", command: "other-server", args: ["--x"] } : { command: "other-server", args: ["--x"], env: { TOKEN: "t" } };
    const extra = c.key === "servers" ? { inputs: [{ type: "promptString", id: "token", password: true }] } : { theme: "dark", nested: { keep: [1, 2] } };
    const original = JSON.stringify({ ...extra, [c.key]: { other } }, null, 2);
    dir.file(c.file(p).slice(dir.path.length + 1), original);
    const r = run(["connect", c.client, ...scoped(c), "--write"], p);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Added the "patchbay" entry/);
    const merged = JSON.parse(readFileSync(c.file(p), "utf8"));
    assert.deepEqual(merged, { ...extra, [c.key]: { other, patchbay: c.entry } });
    assert.equal(backups(c.file(p)).length, 1);
    assert.equal(readFileSync(join(dirname(c.file(p)), backups(c.file(p))[0]), "utf8"), original);
    const r2 = run(["connect", c.client, ...scoped(c), "--write"], p);
    assert.equal(r2.status, 0, r2.stderr);
    assert.match(r2.stdout, /nothing to change/);
    assert.equal(backups(c.file(p)).length, 1);
  });

  test(`connect ${label(c)} --write into a missing file: ${c.mayCreate ? "creates it" : "refused, nothing created"}`, () => {
    const p = place();
    const r = run(["connect", c.client, ...scoped(c), "--write"], p);
    if (c.mayCreate) {
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(readFileSync(c.file(p), "utf8")), { [c.key]: { patchbay: c.entry } });
      assert.deepEqual(siblings(c.file(p)), [c.file(p).slice(dirname(c.file(p)).length + 1)]);
    } else {
      assert.equal(r.status, 1);
      assert.ok(r.stderr.includes(`${c.file(p)} does not exist`), r.stderr);
      assert.equal(existsSync(c.file(p)), false);
    }
  });

  test(`connect ${label(c)} --write refuses invalid JSON and a wrong shape, naming the file; nothing written, no backup`, () => {
    const p = place();
    for (const bad of [`{ "${c.key}": { "a": {}, }`, `{ "${c.key}": [] }`]) {
      dir.file(c.file(p).slice(dir.path.length + 1), bad);
      const r = run(["connect", c.client, ...scoped(c), "--write"], p);
      assert.equal(r.status, 1, bad);
      assert.ok(r.stderr.includes(c.file(p)), r.stderr);
      assert.match(r.stderr, /not valid JSON|is not an object|does not hold a JSON object/);
      assert.match(r.stderr, /not overwriting it/);
      assert.equal(readFileSync(c.file(p), "utf8"), bad);
      assert.deepEqual(siblings(c.file(p)), [c.file(p).slice(dirname(c.file(p)).length + 1)]);
    }
  });
}

test("connect claude-code prints the `claude mcp add` line for its scope, with the env the entry needs", () => {
  const p = place();
  const pbHome = dir.join("pb-home-cc");
  const r = run(["connect", "claude-code", "--scope", "user"], p, { PATCHBAY_HOME: pbHome });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(printed(r.stdout), { mcpServers: { patchbay: { ...TYPED, env: { PATCHBAY_HOME: pbHome } } } });
  assert.ok(r.stdout.includes(`claude mcp add --transport stdio --scope user --env PATCHBAY_HOME=${pbHome} patchbay -- ${process.execPath} ${CLI} stdio`), r.stdout);
});

test("a JSON file with comments is refused with a hint (VS Code and Gemini CLI accept them; patchbay cannot keep them)", () => {
  const p = place();
  const file = join(p.cwd, ".vscode", "mcp.json");
  const text = `{\n  // my servers\n  "servers": {}\n}\n`;
  dir.file(file.slice(dir.path.length + 1), text);
  const r = run(["connect", "vscode", "--write"], p);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /holds comments/);
  assert.equal(readFileSync(file, "utf8"), text);
});

test("an unknown client, an unknown scope, no client, --scope elsewhere: usage errors (exit 2) that list the choices", () => {
  const p = place();
  const unknown = run(["connect", "notepad"], p);
  assert.equal(unknown.status, 2);
  for (const c of knownClients()) assert.ok(unknown.stderr.includes(c.id), unknown.stderr);
  const scope = run(["connect", "windsurf", "--scope", "project"], p);
  assert.equal(scope.status, 2);
  assert.match(scope.stderr, /Windsurf has no scope "project"; its scopes: user/);
  const none = run(["import"], p);
  assert.equal(none.status, 2);
  assert.match(none.stderr, /import needs a CLIENT: one of claude-desktop, claude-code, cursor, vscode/);
  assert.equal(run(["status", "--scope", "user"], p).status, 2);
});

test("claude-config stays an alias of connect claude-desktop; --help lists every client and scope", () => {
  const p = place();
  const a = run(["claude-config"], p);
  const b = run(["connect", "claude-desktop"], p);
  assert.equal(a.status, 0, a.stderr);
  assert.deepEqual(printed(a.stdout), printed(b.stdout));
  assert.match(a.stdout, /run `patchbay claude-config --write`/);
  const help = run(["--help"], p);
  for (const c of knownClients()) for (const s of Object.keys(c.scopes)) assert.match(help.stdout, new RegExp(`\\n  ${c.id} .*${Object.keys(c.scopes).length > 1 ? s : ""}`), `--help lists ${c.id} (${s})`);
});

test("each client's path on macOS, Windows and Linux", () => {
  const home = "/home/ada";
  const at = (platform: NodeJS.Platform, env: NodeJS.ProcessEnv = {}) => ({ platform, env: { HOME: home, ...env }, cwd: "/work/proj" });
  const file = (id: string, scope: string, ctx: ReturnType<typeof at>) => findClient(id)!.scopes[scope].file(ctx).replace(/\\/g, "/");
  const win = at("win32", { APPDATA: "/home/ada/AppData/Roaming" });
  assert.equal(file("claude-desktop", "user", at("darwin")), "/home/ada/Library/Application Support/Claude/claude_desktop_config.json");
  assert.equal(file("claude-desktop", "user", win), "/home/ada/AppData/Roaming/Claude/claude_desktop_config.json");
  assert.equal(file("vscode", "user", at("darwin")), "/home/ada/Library/Application Support/Code/User/mcp.json");
  assert.equal(file("vscode", "user", win), "/home/ada/AppData/Roaming/Code/User/mcp.json");
  assert.equal(file("vscode", "user", at("linux", { XDG_CONFIG_HOME: "/xdg" })), "/xdg/Code/User/mcp.json");
  assert.equal(file("claude-code", "user", at("linux", { CLAUDE_CONFIG_DIR: "/cc" })), "/cc/.claude.json");
  // the rest live under the home folder on every OS
  for (const platform of ["darwin", "win32", "linux"] as const) {
    assert.equal(file("cursor", "user", at(platform)), "/home/ada/.cursor/mcp.json");
    assert.equal(file("windsurf", "user", at(platform)), "/home/ada/.codeium/windsurf/mcp_config.json");
    assert.equal(file("gemini", "user", at(platform)), "/home/ada/.gemini/settings.json");
    assert.equal(file("kiro", "user", at(platform)), "/home/ada/.kiro/settings/mcp.json");
    assert.equal(file("claude-code", "project", at(platform)), "/work/proj/.mcp.json");
    assert.equal(file("vscode", "workspace", at(platform)), "/work/proj/.vscode/mcp.json");
  }
});
