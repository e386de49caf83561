/**
 * `patchbay import CLIENT --write` for every client, through the real CLI with HOME and the
 * working directory in a temp folder: each client's stdio and remote servers, in that
 * client's own spelling, become `NAME.mcp.json` files in Patchbay's shape, and the client's
 * config keeps only the Patchbay entry (in the client's shape) and its other keys, after one
 * backup. Then what cannot move: VS Code's `${input:…}`, `${workspaceFolder}` and `envFile`,
 * Claude Code's `${NAME:-default}`, disabled servers; and a missing or invalid config.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { CLI, TempDir } from "./helpers/env.ts";
import { clientPlaces, runAt, type ClientPlace } from "./helpers/client-places.ts";

const dir = new TempDir("patchbay-import-clients-");
after(() => dir.cleanup());

const place = clientPlaces(dir);
const run = (args: string[], at: ClientPlace, env?: Record<string, string>) => runAt(at, args, env);

function write(file: string, value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  return dir.file(file.slice(dir.path.length + 1), text);
}
const readJson = (file: string) => JSON.parse(readFileSync(file, "utf8"));
const backups = (file: string) => readdirSync(dirname(file)).filter((f) => f.endsWith(".bak"));

const STDIO = { command: process.execPath, args: [CLI, "stdio"] };
const TYPED = { type: "stdio", ...STDIO };
const FILES = { command: "npx", args: ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"], env: { LOG: "1" } };
const URL = "https://mcp.example.com/mcp";
const HEADERS = { Authorization: "Bearer x" };

interface Case {
  client: string;
  file: (p: ClientPlace) => string;
  key: "mcpServers" | "servers";
  /** the client's own spelling of the two servers */
  files: Record<string, unknown>;
  remote: Record<string, unknown>;
  patchbay: Record<string, unknown>;
}

const CASES: Case[] = [
  { client: "claude-desktop", file: (p) => join(p.home, ".config", "Claude", "claude_desktop_config.json"), key: "mcpServers", files: FILES, remote: { url: URL, headers: HEADERS }, patchbay: STDIO },
  { client: "claude-code", file: (p) => join(p.cwd, ".mcp.json"), key: "mcpServers", files: { type: "stdio", ...FILES }, remote: { type: "http", url: URL, headers: HEADERS }, patchbay: TYPED },
  { client: "cursor", file: (p) => join(p.home, ".cursor", "mcp.json"), key: "mcpServers", files: FILES, remote: { url: URL, headers: HEADERS }, patchbay: STDIO },
  { client: "vscode", file: (p) => join(p.cwd, ".vscode", "mcp.json"), key: "servers", files: { type: "stdio", ...FILES }, remote: { type: "http", url: URL, headers: HEADERS }, patchbay: TYPED },
  { client: "windsurf", file: (p) => join(p.home, ".codeium", "windsurf", "mcp_config.json"), key: "mcpServers", files: FILES, remote: { serverUrl: URL, headers: HEADERS }, patchbay: STDIO },
  { client: "gemini", file: (p) => join(p.home, ".gemini", "settings.json"), key: "mcpServers", files: FILES, remote: { httpUrl: URL, headers: HEADERS }, patchbay: STDIO },
  { client: "kiro", file: (p) => join(p.home, ".kiro", "settings", "mcp.json"), key: "mcpServers", files: FILES, remote: { url: URL, headers: HEADERS }, patchbay: STDIO },
];

for (const c of CASES) {
  test(`import ${c.client} --write: its stdio and remote servers become NAME.mcp.json; its config keeps only the Patchbay entry and its other keys`, () => {
    const p = place();
    const extra = c.key === "servers" ? { inputs: [{ type: "promptString", id: "token", password: true }] } : { theme: "dark" };
    const original = write(c.file(p), { ...extra, [c.key]: { files: c.files, "my remote": c.remote } });
    const before = readFileSync(original, "utf8");
    const r = run(["import", c.client, "--write"], p);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.deepEqual(readJson(join(p.plugins, "files.mcp.json")), FILES);
    assert.deepEqual(readJson(join(p.plugins, "my_remote.mcp.json")), { url: URL, headers: HEADERS });
    assert.deepEqual(readJson(c.file(p)), { ...extra, [c.key]: { patchbay: c.patchbay } });
    assert.equal(backups(c.file(p)).length, 1);
    assert.equal(readFileSync(join(dirname(c.file(p)), backups(c.file(p))[0]), "utf8"), before);
    assert.doesNotMatch(r.stdout, /Bearer x/);
    assert.doesNotMatch(r.stdout, /ignored keys/);
  });
}

test("import vscode: ${env:X} becomes ${X}, type sse becomes url; ${input:…}, ${workspaceFolder} and envFile stay in VS Code, reported, exit 1", () => {
  const p = place();
  const file = join(p.cwd, ".vscode", "mcp.json");
  const servers = {
    github: { type: "stdio", command: "github-mcp", args: ["stdio"], env: { GITHUB_TOKEN: "${env:GITHUB_TOKEN}" } },
    legacy: { type: "sse", url: "http://localhost:9000/sse" },
    prompted: { type: "stdio", command: "x-mcp", env: { TOKEN: "${input:token}" } },
    workspace: { type: "stdio", command: "fs-mcp", args: ["${workspaceFolder}"] },
    dotenv: { type: "stdio", command: "y-mcp", envFile: "${workspaceFolder}/.env" },
  };
  write(file, { inputs: [{ type: "promptString", id: "token", password: true }], servers });
  const r = run(["import", "vscode", "--write"], p);
  assert.equal(r.status, 1, r.stderr + r.stdout);
  assert.deepEqual(readJson(join(p.plugins, "github.mcp.json")), { command: "github-mcp", args: ["stdio"], env: { GITHUB_TOKEN: "${GITHUB_TOKEN}" } });
  assert.deepEqual(readJson(join(p.plugins, "legacy.mcp.json")), { url: "http://localhost:9000/sse" });
  assert.deepEqual(readdirSync(p.plugins).sort(), ["github.mcp.json", "legacy.mcp.json"]);
  assert.match(r.stdout, /prompted: not moved — it uses \$\{input:token\}, which only VS Code can fill in .*; left in VS Code's config/);
  assert.match(r.stdout, /workspace: not moved — it uses \$\{workspaceFolder\}/);
  assert.match(r.stdout, /dotenv: not moved — it reads its environment from envFile/);
  const after = readJson(file);
  assert.deepEqual(after.inputs, [{ type: "promptString", id: "token", password: true }]);
  assert.deepEqual(after.servers, { prompted: servers.prompted, workspace: servers.workspace, dotenv: servers.dotenv, patchbay: TYPED });
});

test("import gemini: a bare $VAR becomes ${VAR}, url (SSE) stays url, its own keys are listed as ignored", () => {
  const p = place();
  write(join(p.home, ".gemini", "settings.json"), { mcpServers: { api: { command: "api-mcp", env: { KEY: "$API_KEY", BOTH: "${A}-$B" }, timeout: 5000, trust: true }, old: { url: "http://localhost:8080/sse" } } });
  const r = run(["import", "gemini"], p);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.deepEqual(readJson(join(p.plugins, "api.mcp.json")), { command: "api-mcp", env: { KEY: "${API_KEY}", BOTH: "${A}-${B}" } });
  assert.deepEqual(readJson(join(p.plugins, "old.mcp.json")), { url: "http://localhost:8080/sse" });
  assert.match(r.stdout, /api: wrote .*\(ignored keys: timeout, trust\)/);
  assert.match(r.stdout, /Dry run/);
  assert.match(r.stdout, /Run `patchbay import gemini --write`/);
});

test("import claude-code: ${NAME:-default} stays in Claude Code; a disabled Kiro server stays in Kiro (exit 0)", () => {
  const p = place();
  write(join(p.cwd, ".mcp.json"), { mcpServers: { api: { type: "http", url: "${API_BASE:-https://api.example.com}/mcp" } } });
  const r = run(["import", "claude-code", "--write"], p);
  assert.equal(r.status, 1, r.stderr + r.stdout);
  assert.match(r.stdout, /api: not moved — it uses \$\{API_BASE:-https:\/\/api\.example\.com\}, which only Claude Code can fill in/);
  assert.deepEqual(Object.keys(readJson(join(p.cwd, ".mcp.json")).mcpServers), ["api", "patchbay"]);

  const kiro = join(p.home, ".kiro", "settings", "mcp.json");
  write(kiro, { mcpServers: { off: { command: "off-mcp", disabled: true }, on: { command: "on-mcp", disabled: false, autoApprove: [] } } });
  const k = run(["import", "kiro", "--write"], p);
  assert.equal(k.status, 0, k.stderr + k.stdout);
  assert.match(k.stdout, /off: disabled in Kiro; left there/);
  assert.deepEqual(readJson(join(p.plugins, "on.mcp.json")), { command: "on-mcp" });
  assert.equal(existsSync(join(p.plugins, "off.mcp.json")), false);
  assert.deepEqual(readJson(kiro).mcpServers, { off: { command: "off-mcp", disabled: true }, patchbay: STDIO });
});

test("import of a missing or invalid client config: the file named, exit 1, nothing written", () => {
  const p = place();
  const missing = run(["import", "cursor", "--write"], p);
  assert.equal(missing.status, 1);
  assert.ok(missing.stderr.includes(`${join(p.home, ".cursor", "mcp.json")} does not exist: nothing to import`), missing.stderr);
  assert.equal(existsSync(join(p.home, ".cursor")), false);

  const file = join(p.cwd, ".vscode", "mcp.json");
  for (const bad of ['{ "servers": { "a": { "command": "x" }, }', '{ "servers": "none" }', '{ "mcpServers": { "a": { "command": "x" } }, "servers": [] }']) {
    write(file, bad);
    const r = run(["import", "vscode", "--write"], p);
    assert.equal(r.status, 1, bad);
    assert.ok(r.stderr.includes(file), r.stderr);
    assert.match(r.stderr, /not valid JSON|is not an object/);
    assert.equal(readFileSync(file, "utf8"), bad);
    assert.deepEqual(readdirSync(dirname(file)), ["mcp.json"]);
    assert.equal(existsSync(p.plugins), false);
  }
});
