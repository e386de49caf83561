/** claude-config, doctor, status and graceful shutdown, through the real CLI. */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { CLI, TempDir, waitFor } from "./helpers/env.ts";
import { startDaemonProcess } from "./helpers/daemon.ts";
import { httpClient, textOf } from "./helpers/clients.ts";
import { claudeConfigPath } from "../daemon/commands/claude-config.ts";

const dir = new TempDir("patchbay-cli-");
after(() => dir.cleanup());

function run(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, encoding: "utf8", timeout: 60_000 });
}

// Run from this checkout, the entry is this node with this checkout's dist/cli.js (the entry
// per install kind is tested in home-plugins.test.ts). No PATCHBAY_HOME or PATCHBAY_PLUGINS
// from the caller, so the plugins folder is the default one and needs no --plugins.
const CHECKOUT_ENTRY = { command: process.execPath, args: [CLI, "stdio"] };
const NO_FOLDER_ENV = { PATCHBAY_HOME: "", PATCHBAY_PLUGINS: "", PATCHBAY_CONFIG: "" };

test("claude-config prints the entry", () => {
  const r = run(["claude-config"], { HOME: dir.join("home0"), ...NO_FOLDER_ENV });
  assert.equal(r.status, 0);
  const json = JSON.parse(r.stdout.slice(0, r.stdout.indexOf("\n}\n") + 2));
  assert.deepEqual(json, { mcpServers: { patchbay: CHECKOUT_ENTRY } });
});

test("claude-config --write merges into an existing config, keeping other servers, with a backup", () => {
  const home = dir.join("home1");
  const env = { HOME: home, XDG_CONFIG_HOME: "", APPDATA: "", ...NO_FOLDER_ENV };
  const file = claudeConfigPath(process.platform, { HOME: home });
  dir.file(file.slice(dir.path.length + 1), JSON.stringify({ mcpServers: { other: { command: "other-server", args: [] } }, theme: "dark" }, null, 2));
  const r = run(["claude-config", "--write"], env);
  assert.equal(r.status, 0, r.stderr);
  const merged = JSON.parse(readFileSync(file, "utf8"));
  assert.deepEqual(merged.mcpServers.other, { command: "other-server", args: [] });
  assert.deepEqual(merged.mcpServers.patchbay, CHECKOUT_ENTRY);
  assert.equal(merged.theme, "dark");
  const backups = readdirSync(file.slice(0, file.lastIndexOf("/"))).filter((f) => f.endsWith(".bak"));
  assert.equal(backups.length, 1);
  // running it again replaces our entry, still one patchbay entry
  assert.equal(run(["claude-config", "--write"], env).status, 0);
  assert.equal(Object.keys(JSON.parse(readFileSync(file, "utf8")).mcpServers).length, 2);
});

test("claude-config --write refuses a file that is not valid JSON and leaves it untouched", () => {
  const home = dir.join("home2");
  const file = claudeConfigPath(process.platform, { HOME: home });
  const broken = '{ "mcpServers": { "a": {}, }';
  dir.file(file.slice(dir.path.length + 1), broken);
  const r = run(["claude-config", "--write"], { HOME: home, XDG_CONFIG_HOME: "" });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /not valid JSON.*not overwriting/);
  assert.equal(readFileSync(file, "utf8"), broken);
});

test("doctor reports a broken Claude config, a missing entry command and a plugin that does not compile", () => {
  const home = dir.join("home3");
  const file = claudeConfigPath(process.platform, { HOME: home });
  dir.file(file.slice(dir.path.length + 1), JSON.stringify({ mcpServers: { patchbay: { command: "definitely-not-a-command-xyz", args: ["stdio"] } } }));
  const plugins = dir.join("doctor-plugins");
  dir.file("doctor-plugins/good.mjs", `export default { tools: {} };`);
  dir.file("doctor-plugins/bad.ts", `export default { tools: { x: { handler: () => { return 1 +; } } } };`);
  const r = run(["doctor", "--plugins", plugins, "--port", "0"], { HOME: home, XDG_CONFIG_HOME: "", PATCHBAY_HOME: dir.join("pbhome3") });
  assert.equal(r.status, 1);
  assert.match(r.stdout, /✓ Claude Desktop config: .* is valid JSON/);
  assert.match(r.stdout, /✗ entry command: "definitely-not-a-command-xyz" is not on PATH\n\s+fix: use an absolute path/);
  assert.match(r.stdout, /✓ plugin good\.mjs: compiles/);
  assert.match(r.stdout, /✗ plugin bad\.ts: .*bad\.ts:1:\d+/);
  assert.match(r.stdout, /! daemon: no daemon running/);
  assert.match(r.stdout, /\n2 problems found, and \d+ warnings? \(!\)\.\n$/);
  dir.file(file.slice(dir.path.length + 1), "{ nope");
  const r2 = run(["doctor", "--plugins", plugins, "--port", "0"], { HOME: home, XDG_CONFIG_HOME: "", PATCHBAY_HOME: dir.join("pbhome3") });
  assert.match(r2.stdout, /✗ Claude Desktop config: .* is not valid JSON/);
  // warnings only (no Claude Desktop config, no daemon): not "All checks passed"
  dir.file("doctor-good/good.mjs", `export default { tools: {} };`);
  const r3 = run(["doctor", "--plugins", dir.join("doctor-good"), "--port", "0"], { HOME: dir.join("home-without-claude"), XDG_CONFIG_HOME: "", PATCHBAY_HOME: dir.join("pbhome3b") });
  assert.equal(r3.status, 0, r3.stdout + r3.stderr);
  assert.match(r3.stdout, /^! /m);
  assert.match(r3.stdout, /\nNo problems found; \d+ warnings? \(!\) above\.\n$/);
  assert.doesNotMatch(r3.stdout, /All checks passed/);
});

test("SIGTERM lets an in-flight call finish, closes sessions, removes the state file, exits 0", async () => {
  // the call says when it runs, and ends only once the test lets it: after the SIGTERM
  const began = dir.join("grace-began");
  const release = dir.join("grace-release");
  dir.file(
    "grace-plugins/slow.mjs",
    `import { writeFileSync, existsSync } from "node:fs";
export default { tools: { slow: { handler: () => new Promise((r) => {
  writeFileSync(${JSON.stringify(began)}, "");
  const t = setInterval(() => existsSync(${JSON.stringify(release)}) && (clearInterval(t), r("finished")), 20);
}) } } };`,
  );
  // a grace period no busy machine exhausts: the call ends when the test says so
  const d = await startDaemonProcess({ plugins: dir.join("grace-plugins"), env: { PATCHBAY_SHUTDOWN_GRACE_MS: "60000" } });
  const c = await httpClient(d.url);
  const call = c.client.callTool({ name: "slow__slow", arguments: {} });
  await waitFor("the call running", () => existsSync(began) || undefined, 30_000);
  const exited = d.stop();
  await waitFor("the daemon shutting down", () => /shutting down/.test(d.stderr()) || undefined, 30_000);
  dir.file("grace-release", "");
  assert.equal(textOf(await call), "finished");
  assert.equal(await exited, 0);
  assert.equal(existsSync(`${d.home}/daemon.json`), false);
  assert.match(d.stderr(), /shutting down/);
  await c.close().catch(() => undefined);
});

test("Claude Desktop's config path on macOS, Windows and Linux", () => {
  assert.equal(claudeConfigPath("darwin", { HOME: "/Users/ada" }), "/Users/ada/Library/Application Support/Claude/claude_desktop_config.json");
  assert.equal(claudeConfigPath("win32", { HOME: "C:/Users/ada", APPDATA: "C:/Users/ada/AppData/Roaming" }).replace(/\\/g, "/"), "C:/Users/ada/AppData/Roaming/Claude/claude_desktop_config.json");
  assert.equal(claudeConfigPath("linux", { HOME: "/home/ada" }), "/home/ada/.config/Claude/claude_desktop_config.json");
  assert.equal(claudeConfigPath("linux", { HOME: "/home/ada", XDG_CONFIG_HOME: "/xdg" }), "/xdg/Claude/claude_desktop_config.json");
});
