/** `patchbay import-claude-config`, and doctor's check of NAME.mcp.json files, through the real CLI. */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import { CLI, ROOT, TempDir } from "./helpers/env.ts";
import { claudeConfigPath } from "../daemon/commands/claude-config.ts";
import { isPatchbayEntry } from "../daemon/commands/import-servers.ts";

const dir = new TempDir("patchbay-import-");
after(() => dir.cleanup());

function run(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, PATCHBAY_PLUGINS: "", PATCHBAY_CONFIG: "", XDG_CONFIG_HOME: "", APPDATA: "", ...env }, encoding: "utf8", timeout: 60_000 });
}

const FS = { command: "npx", args: ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"] };
const GH = { command: "/usr/local/bin/github-mcp", args: ["stdio"], env: { GITHUB_TOKEN: "secret-token" } };
const REMOTE = { url: "https://mcp.example.com/mcp", headers: { Authorization: "Bearer x" } };

function setup(name: string) {
  const home = dir.join(name);
  const pbHome = dir.join(`${name}-pb`);
  const file = claudeConfigPath(process.platform, { HOME: home });
  return { home, pbHome, file, plugins: join(pbHome, "plugins"), env: { HOME: home, PATCHBAY_HOME: pbHome } };
}

test("--write moves three servers into NAME.mcp.json files and leaves only the patchbay entry; a second run changes nothing", () => {
  const s = setup("h1");
  const servers = { filesystem: FS, "git hub": GH, remote: REMOTE, patchbay: { command: "npx", args: ["-y", "mcp-patchbay", "stdio"] } };
  dir.file(s.file.slice(dir.path.length + 1), JSON.stringify({ mcpServers: servers, theme: "dark" }, null, 2));
  const r = run(["import-claude-config", "--write"], s.env);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.deepEqual(JSON.parse(readFileSync(join(s.plugins, "filesystem.mcp.json"), "utf8")), FS);
  assert.deepEqual(JSON.parse(readFileSync(join(s.plugins, "git_hub.mcp.json"), "utf8")), GH);
  assert.deepEqual(JSON.parse(readFileSync(join(s.plugins, "remote.mcp.json"), "utf8")), REMOTE);
  assert.equal(existsSync(join(s.plugins, "patchbay.mcp.json")), false);
  assert.match(r.stdout, /git hub: wrote .*renamed to "git_hub"/);
  assert.doesNotMatch(r.stdout, /secret-token/);
  assert.match(r.stdout, /remove: filesystem, git hub, remote\n/);
  const claude = JSON.parse(readFileSync(s.file, "utf8"));
  assert.deepEqual(Object.keys(claude.mcpServers), ["patchbay"]);
  assert.deepEqual(claude.mcpServers.patchbay, { command: process.execPath, args: [CLI, "stdio"], env: { PATCHBAY_HOME: s.pbHome } });
  assert.equal(claude.theme, "dark");
  const backups = () => readdirSync(dirname(s.file)).filter((f) => f.endsWith(".bak"));
  assert.equal(backups().length, 1);
  assert.deepEqual(JSON.parse(readFileSync(join(dirname(s.file), backups()[0]), "utf8")).mcpServers, servers);

  const before = readFileSync(s.file, "utf8");
  const r2 = run(["import-claude-config", "--write"], s.env);
  assert.equal(r2.status, 0, r2.stderr + r2.stdout);
  assert.match(r2.stdout, /needs no change/);
  assert.equal(readFileSync(s.file, "utf8"), before);
  assert.equal(backups().length, 1);
  assert.deepEqual(readdirSync(s.plugins).sort(), ["filesystem.mcp.json", "git_hub.mcp.json", "remote.mcp.json"]);
});

test("without --write: the files are written, Claude's config only shown; a different existing file is a conflict", () => {
  const s = setup("h2");
  const text = JSON.stringify({ mcpServers: { filesystem: FS, remote: REMOTE } });
  dir.file(s.file.slice(dir.path.length + 1), text);
  dir.file(join(s.plugins, "remote.mcp.json").slice(dir.path.length + 1), JSON.stringify({ url: "https://other.example.com/mcp" }));
  const r = run(["import-claude-config"], s.env);
  assert.equal(r.status, 1, r.stderr + r.stdout);
  assert.match(r.stdout, /filesystem: wrote/);
  assert.match(r.stdout, /remote: conflict/);
  assert.match(r.stdout, /Dry run/);
  assert.match(r.stdout, /remove: filesystem\n\s+keep: remote\n\s+set "patchbay"/);
  assert.equal(readFileSync(s.file, "utf8"), text);
  assert.deepEqual(JSON.parse(readFileSync(join(s.plugins, "remote.mcp.json"), "utf8")), { url: "https://other.example.com/mcp" });
  assert.equal(readdirSync(dirname(s.file)).filter((f) => f.endsWith(".bak")).length, 0);
});

test("an invalid Claude config is refused and nothing is written", () => {
  const s = setup("h3");
  const broken = '{ "mcpServers": { "a": { "command": "x" }, }';
  dir.file(s.file.slice(dir.path.length + 1), broken);
  const r = run(["import-claude-config", "--write"], s.env);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /not valid JSON.*not overwriting/);
  assert.equal(readFileSync(s.file, "utf8"), broken);
  assert.equal(existsSync(s.plugins), false);
  assert.deepEqual(readdirSync(dirname(s.file)), ["claude_desktop_config.json"]);
});

test("doctor checks each NAME.mcp.json: a missing command, an invalid file, a server that answers tools/list, one that exits, a url nobody serves", () => {
  const s = setup("h4");
  const everything = join(dirname(createRequire(join(ROOT, "package.json")).resolve("@modelcontextprotocol/server-everything/package.json")), "dist", "index.js");
  dir.file(join(s.plugins, "bad.mcp.json").slice(dir.path.length + 1), JSON.stringify({ command: "definitely-not-a-command-xyz" }));
  dir.file(join(s.plugins, "gone.mcp.json").slice(dir.path.length + 1), JSON.stringify({ command: "/nonexistent/bin/server" }));
  dir.file(join(s.plugins, "broken.mcp.json").slice(dir.path.length + 1), "{ nope");
  dir.file(join(s.plugins, "ok.mcp.json").slice(dir.path.length + 1), JSON.stringify({ command: process.execPath, args: [everything, "stdio"] }));
  dir.file(join(s.plugins, "dies.mcp.json").slice(dir.path.length + 1), JSON.stringify({ command: process.execPath, args: ["-e", "console.error('cannot start: missing token'); process.exit(3)"] }));
  // a port just released: nothing listens there
  dir.file(join(s.plugins, "web.mcp.json").slice(dir.path.length + 1), JSON.stringify({ url: "http://127.0.0.1:9/mcp" }));
  const r = run(["doctor", "--port", "0"], s.env);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /✗ upstream bad\.mcp\.json: "definitely-not-a-command-xyz" is not on PATH\n\s+fix: install it, or put its absolute path/);
  assert.match(r.stdout, /✗ upstream gone\.mcp\.json: "\/nonexistent\/bin\/server" does not exist\n\s+fix:/);
  assert.match(r.stdout, /✗ upstream broken\.mcp\.json: .*invalid JSON/);
  assert.match(r.stdout, /✓ upstream ok\.mcp\.json: .*answers tools\/list: \d+ tools/);
  assert.match(r.stdout, /✗ upstream dies\.mcp\.json: .*does not answer tools\/list: .*cannot start: missing token/);
  assert.match(r.stdout, /✗ upstream web\.mcp\.json: http:\/\/127\.0\.0\.1:9\/mcp; does not answer tools\/list/);
});

test("Patchbay's own entries are recognized", () => {
  assert.equal(isPatchbayEntry({ command: "patchbay", args: ["stdio"] }), true);
  assert.equal(isPatchbayEntry({ command: "C:\\npm\\patchbay.cmd", args: ["stdio"] }), true);
  assert.equal(isPatchbayEntry({ command: "npx", args: ["-y", "mcp-patchbay", "stdio"] }), true);
  assert.equal(isPatchbayEntry({ command: "/usr/bin/node", args: ["/src/patchbay/dist/cli.js", "stdio", "--plugins", "/p"] }), true);
  assert.equal(isPatchbayEntry({ command: "node", args: ["/src/other/dist/cli.js", "serve"] }), false);
  assert.equal(isPatchbayEntry(FS), false);
  assert.equal(isPatchbayEntry(REMOTE), false);
});
