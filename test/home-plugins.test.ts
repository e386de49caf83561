/**
 * The plugins folder that lives with the user ($PATCHBAY_HOME/plugins), `npm start` serving
 * the repository's plugins/, and the Claude Desktop entry per install kind.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLI, ROOT, TempDir, waitFor } from "./helpers/env.ts";
import { httpClient, stdioClient, textOf } from "./helpers/clients.ts";
import { loadConfig } from "../daemon/config.ts";
import { claudeEntry, installKind } from "../daemon/commands/claude-config.ts";
import { EXAMPLE_PLUGIN, EXAMPLE_PLUGIN_FILE, ensureHomePluginsFolder } from "../daemon/plugins/host/home-folder.ts";

const dir = new TempDir("patchbay-homeplugins-");
const strayPids = new Set<number>();
after(() => {
  for (const pid of strayPids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
  dir.cleanup();
});

/** No folder named by the caller's environment: only what each test sets. */
function cleanEnv(extra: Record<string, string>): Record<string, string> {
  return { ...(process.env as Record<string, string>), PATCHBAY_PLUGINS: "", PATCHBAY_CONFIG: "", PATCHBAY_LOG_LEVEL: "debug", ...extra };
}

/** `patchbay start --port 0` with the given args (no --plugins unless given), until it prints its URLs. */
async function startCli(args: string[], env: Record<string, string>, cwd = ROOT) {
  const proc: ChildProcess = spawn(process.execPath, args, { cwd, env: cleanEnv(env), stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  proc.stdout!.setEncoding("utf8").on("data", (d) => (out += d));
  proc.stderr!.setEncoding("utf8").on("data", (d) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout!.on("data", () => {
      const m = /MCP \(HTTP\):\s+(http:\/\/[^\s]+)\/mcp/.exec(out);
      if (m) resolve(m[1]);
    });
    proc.once("exit", (code) => reject(new Error(`daemon exited with ${code} before listening:\n${err}`)));
  });
  // it listens before its plugins have loaded: these tests look at what the folder serves
  await waitFor("plugins loaded", async () => {
    const h = (await (await fetch(`${url}/healthz`)).json()) as any;
    return (h.startup?.done && h.counts.loading === 0) || undefined;
  });
  return {
    url,
    stdout: () => out,
    health: async () => (await fetch(`${url}/healthz`)).json() as Promise<any>,
    async stop() {
      if (proc.exitCode !== null) return proc.exitCode;
      const exited = once(proc, "exit");
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
      const [code] = await exited;
      clearTimeout(timer);
      return code as number | null;
    },
  };
}

function snapshot(folder: string): Record<string, string> {
  return Object.fromEntries(readdirSync(folder).map((f) => [f, `${statSync(join(folder, f)).mtimeMs}:${readFileSync(join(folder, f), "utf8")}`]));
}

test("without --plugins the daemon creates $PATCHBAY_HOME/plugins with the example and a README, and serves the example", async () => {
  const home = dir.join("fresh-home");
  const d = await startCli([CLI, "start", "--port", "0"], { PATCHBAY_HOME: home, HOME: dir.join("fresh-user") }, dir.path);
  try {
    const plugins = join(home, "plugins");
    assert.deepEqual(readdirSync(plugins).sort(), ["README.md", EXAMPLE_PLUGIN_FILE]);
    assert.equal(readFileSync(join(plugins, EXAMPLE_PLUGIN_FILE), "utf8"), EXAMPLE_PLUGIN);
    const readme = readFileSync(join(plugins, "README.md"), "utf8");
    assert.match(readme, /NAME\.ts/);
    assert.match(readme, /never\s+writes to it again/);
    assert.match(d.stdout(), new RegExp(`Plugins folder:\\s+${plugins.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} `));
    assert.match(d.stdout(), /created it with an example plugin and a README\.md/);
    const health = await waitFor("the example plugin loaded", async () => {
      const h = await d.health();
      return h.counts.loaded === 1 ? h : undefined;
    });
    assert.deepEqual(health.plugins.map((p: any) => [p.name, p.status, p.file]), [["example", "loaded", join(plugins, EXAMPLE_PLUGIN_FILE)]]);
    assert.equal(health.counts.tools, 1);
    assert.equal(health.counts.errors, 0);
    const c = await httpClient(d.url);
    try {
      const { tools } = await c.client.listTools();
      assert.deepEqual(tools.map((t) => t.name), ["example__greet"]);
      assert.match(textOf(await c.client.callTool({ name: "example__greet", arguments: { name: "Ada" } })), /^Hello, Ada!/);
    } finally {
      await c.close();
    }
  } finally {
    assert.equal(await d.stop(), 0);
  }
  // the user's own home is not used when PATCHBAY_HOME is set
  assert.equal(existsSync(dir.join("fresh-user", ".patchbay")), false);
});

test("an existing $PATCHBAY_HOME/plugins is never touched, even when empty", async () => {
  const emptyHome = dir.join("empty-home");
  mkdirSync(join(emptyHome, "plugins"), { recursive: true });
  const e = await startCli([CLI, "start", "--port", "0"], { PATCHBAY_HOME: emptyHome });
  try {
    assert.deepEqual(readdirSync(join(emptyHome, "plugins")), []);
    assert.doesNotMatch(e.stdout(), /created it/);
    assert.equal((await e.health()).counts.plugins, 0);
  } finally {
    assert.equal(await e.stop(), 0);
  }

  const ownHome = dir.join("own-home");
  const own = join(ownHome, "plugins");
  mkdirSync(own, { recursive: true });
  writeFileSync(join(own, "mine.mjs"), `export default { tools: { ping: { handler: () => "pong" } } };`);
  const before = snapshot(own);
  const d = await startCli([CLI, "start", "--port", "0"], { PATCHBAY_HOME: ownHome });
  try {
    const h = await waitFor("mine loaded", async () => {
      const r = await d.health();
      return r.counts.loaded === 1 ? r : undefined;
    });
    assert.deepEqual(h.plugins.map((p: any) => p.name), ["mine"]);
  } finally {
    assert.equal(await d.stop(), 0);
  }
  assert.deepEqual(snapshot(own), before);
  // and the example is not written a second time after the user deleted it
  assert.deepEqual(ensureHomePluginsFolder({ home: ownHome, pluginsDir: own }), { created: false });
  assert.deepEqual(snapshot(own), before);
});

test("a folder named by --plugins or PATCHBAY_PLUGINS is served as named; $PATCHBAY_HOME/plugins is not created", async () => {
  const home = dir.join("named-home");
  const named = dir.join("named-plugins");
  mkdirSync(named);
  const d = await startCli([CLI, "start", "--port", "0", "--plugins", named], { PATCHBAY_HOME: home });
  await d.stop();
  assert.equal(existsSync(join(home, "plugins")), false);
  assert.equal(loadConfig({}, { PATCHBAY_HOME: home, PATCHBAY_PLUGINS: named }).pluginsDir, named);
  assert.equal(loadConfig({}, { PATCHBAY_HOME: home }).pluginsDir, join(home, "plugins"));
  // a config file the user names still decides (relative to the file)
  const conf = dir.file("conf/named.json", JSON.stringify({ pluginsDir: "../plugins" }));
  assert.equal(loadConfig({ config: conf }, { PATCHBAY_HOME: home }).pluginsDir, dir.join("plugins"));
  assert.deepEqual(ensureHomePluginsFolder({ home, pluginsDir: named }), { created: false });
});

test("stdio without --plugins: the daemon it starts serves (and creates) $PATCHBAY_HOME/plugins", async () => {
  const home = dir.join("stdio-home");
  const c = await stdioClient([], cleanEnv({ PATCHBAY_HOME: home, PATCHBAY_PORT: "0" }));
  try {
    const state = JSON.parse(readFileSync(join(home, "daemon.json"), "utf8"));
    strayPids.add(state.pid);
    assert.equal(state.pluginsDir, join(home, "plugins"));
    assert.ok(existsSync(join(home, "plugins", EXAMPLE_PLUGIN_FILE)));
    assert.ok(existsSync(join(home, "plugins", "README.md")));
    const { tools } = await c.client.listTools();
    assert.deepEqual(tools.map((t) => t.name), ["example__greet"]);
    assert.match(textOf(await c.client.callTool({ name: "example__greet", arguments: { name: "stdio" } })), /^Hello, stdio!/);
  } finally {
    await c.close();
    for (const pid of strayPids) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // gone already
      }
    }
  }
});

test("npm start serves the repository's plugins/ (named in the script), not $PATCHBAY_HOME/plugins", async () => {
  const script: string = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts.start;
  // the script may build dist first ("node scripts/build.mjs && node dist/cli.js start …")
  const m = /(?:^|&& )node (dist\/cli\.js start .*)$/.exec(script);
  assert.ok(m, `unexpected start script: ${script}`);
  const args = m[1].split(/\s+/);
  assert.equal(args[args.indexOf("--plugins") + 1], "plugins");
  const home = dir.join("npm-start-home");
  // npm runs scripts from the package root
  const d = await startCli([...args, "--port", "0"], { PATCHBAY_HOME: home }, ROOT);
  try {
    assert.match(d.stdout(), new RegExp(`Plugins folder:\\s+${join(ROOT, "plugins").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} `));
    const h = await d.health();
    assert.ok(h.plugins.some((p: any) => p.name === "tasks"), JSON.stringify(h.plugins.map((p: any) => p.name)));
  } finally {
    assert.equal(await d.stop(), 0);
  }
  assert.equal(existsSync(join(home, "plugins")), false);
});

test("installKind tells a checkout, a global install, npx and a project's node_modules apart", () => {
  const cases: [string, string][] = [
    ["/home/ada/src/patchbay/dist/cli.js", "checkout"],
    ["C:\\Users\\ada\\src\\patchbay\\dist\\cli.js", "checkout"],
    ["/usr/lib/node_modules/mcp-patchbay/dist/cli.js", "global"],
    ["/usr/local/lib/node_modules/mcp-patchbay/dist/cli.js", "global"],
    ["/opt/homebrew/lib/node_modules/mcp-patchbay/dist/cli.js", "global"],
    ["/home/ada/.nvm/versions/node/v20.19.0/lib/node_modules/mcp-patchbay/dist/cli.js", "global"],
    ["C:\\Users\\ada\\AppData\\Roaming\\npm\\node_modules\\mcp-patchbay\\dist\\cli.js", "global"],
    ["C:\\Program Files\\nodejs\\node_modules\\mcp-patchbay\\dist\\cli.js", "global"],
    ["/home/ada/.local/share/pnpm/global/5/node_modules/mcp-patchbay/dist/cli.js", "global"],
    ["/home/ada/.config/yarn/global/node_modules/mcp-patchbay/dist/cli.js", "global"],
    ["/home/ada/.bun/install/global/node_modules/mcp-patchbay/dist/cli.js", "global"],
    ["/home/ada/.npm/_npx/4f1c2a9b8e7d6c5b/node_modules/mcp-patchbay/dist/cli.js", "npx"],
    ["/Users/ada/.npm/_npx/4f1c2a9b8e7d6c5b/node_modules/mcp-patchbay/dist/cli.js", "npx"],
    ["C:\\Users\\ada\\AppData\\Local\\npm-cache\\_npx\\4f1c2a9b\\node_modules\\mcp-patchbay\\dist\\cli.js", "npx"],
    ["/home/ada/project/node_modules/mcp-patchbay/dist/cli.js", "local"],
  ];
  for (const [path, kind] of cases) assert.equal(installKind(path), kind, path);
});

test("claudeEntry starts what the user runs, with --plugins and PATCHBAY_HOME only when not the default", () => {
  const defaultHome = "/home/ada/.patchbay";
  const dflt = { home: defaultHome, pluginsDir: "/home/ada/.patchbay/plugins" };
  const node = "/opt/node-20/bin/node";
  const checkout = "/home/ada/src/patchbay/dist/cli.js";
  const global = "/usr/lib/node_modules/mcp-patchbay/dist/cli.js";
  const npx = "/home/ada/.npm/_npx/4f1c2a9b8e7d6c5b/node_modules/mcp-patchbay/dist/cli.js";
  const local = "/home/ada/project/node_modules/mcp-patchbay/dist/cli.js";
  const ctx = (cliFile: string) => ({ cliFile, nodePath: node, defaultHome });

  assert.deepEqual(claudeEntry(dflt, ctx(checkout)), { command: node, args: [checkout, "stdio"] });
  assert.deepEqual(claudeEntry(dflt, ctx(global)), { command: "patchbay", args: ["stdio"] });
  assert.deepEqual(claudeEntry(dflt, ctx(npx)), { command: "npx", args: ["-y", "mcp-patchbay", "stdio"] });
  assert.deepEqual(claudeEntry(dflt, ctx(local)), { command: node, args: [local, "stdio"] });

  const mine = { home: defaultHome, pluginsDir: "/home/ada/my-plugins" };
  assert.deepEqual(claudeEntry(mine, ctx(checkout)), { command: node, args: [checkout, "stdio", "--plugins", "/home/ada/my-plugins"] });
  assert.deepEqual(claudeEntry(mine, ctx(global)), { command: "patchbay", args: ["stdio", "--plugins", "/home/ada/my-plugins"] });
  assert.deepEqual(claudeEntry(mine, ctx(npx)), { command: "npx", args: ["-y", "mcp-patchbay", "stdio", "--plugins", "/home/ada/my-plugins"] });

  // another PATCHBAY_HOME: Claude Desktop does not have it in its environment, so the entry carries it
  assert.deepEqual(claudeEntry({ home: "/srv/pb", pluginsDir: "/srv/pb/plugins" }, ctx(npx)), { command: "npx", args: ["-y", "mcp-patchbay", "stdio"], env: { PATCHBAY_HOME: "/srv/pb" } });
});

test("claude-config from this checkout prints node + the absolute dist/cli.js, adding --plugins for a named folder", () => {
  const user = dir.join("cc-user");
  const run = (args: string[]) => spawnSync(process.execPath, [CLI, "claude-config", ...args], { env: cleanEnv({ HOME: user, PATCHBAY_HOME: "" }), encoding: "utf8", timeout: 30_000 });
  const parse = (stdout: string) => JSON.parse(stdout.slice(0, stdout.indexOf("\n}\n") + 2));
  const r = run([]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(parse(r.stdout), { mcpServers: { patchbay: { command: process.execPath, args: [CLI, "stdio"] } } });
  const named = dir.join("cc-plugins");
  const r2 = run(["--plugins", named]);
  assert.equal(r2.status, 0, r2.stderr);
  assert.deepEqual(parse(r2.stdout), { mcpServers: { patchbay: { command: process.execPath, args: [CLI, "stdio", "--plugins", named] } } });
  // printing the entry creates nothing
  assert.equal(existsSync(join(user, ".patchbay")), false);
});
