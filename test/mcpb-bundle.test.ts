/**
 * The Claude Desktop bundle (`npm run bundle`): built with the official mcpb CLI, its manifest
 * valid, and — unpacked into a temp folder — its `mcp_config` run as Claude Desktop runs it
 * (`${__dirname}` and `${user_config.*}` substituted, with the defaults a user who changes
 * nothing gets), answering the official SDK client over stdio.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ROOT, TempDir } from "./helpers/env.ts";
import { connect, textOf } from "./helpers/clients.ts";
import { stopPids } from "./helpers/daemon.ts";

const run = promisify(execFile);
const MCPB = join(ROOT, "node_modules", "@anthropic-ai", "mcpb", "dist", "cli", "cli.js");
const tmp = new TempDir("patchbay-mcpb-test-");
after(() => tmp.cleanup());

interface Manifest {
  manifest_version: string;
  description: string;
  server: { type: string; entry_point: string; mcp_config: { command: string; args: string[]; env?: Record<string, string> } };
  user_config: Record<string, { type: string; default?: string }>;
}

/** What Claude Desktop does to a manifest string before it runs the command. */
function substitute(value: string, vars: { dirname: string; home: string; userConfig: Record<string, string> }): string {
  return value
    .replaceAll("${__dirname}", vars.dirname)
    .replaceAll("${HOME}", vars.home)
    .replace(/\$\{user_config\.([A-Za-z0-9_]+)\}/g, (_, key: string) => vars.userConfig[key] ?? "");
}

/** This process's environment without Patchbay's own variables, as a user's would be. */
function inheritedEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && !e[0].startsWith("PATCHBAY_")));
}

test("npm run bundle builds a valid .mcpb that runs as Claude Desktop runs it", { timeout: 10 * 60_000 }, async () => {
  const bundle = tmp.join("patchbay.mcpb");
  await run(process.execPath, [join(ROOT, "scripts", "bundle-mcpb.mjs"), bundle], { cwd: ROOT, maxBuffer: 16 << 20 });
  assert.ok(existsSync(bundle));

  const unpacked = tmp.join("unpacked");
  await run(process.execPath, [MCPB, "unpack", bundle, unpacked]);
  await run(process.execPath, [MCPB, "validate", join(unpacked, "manifest.json")]);
  const manifest = JSON.parse(readFileSync(join(unpacked, "manifest.json"), "utf8")) as Manifest;
  assert.equal(manifest.server.type, "node");
  assert.ok(existsSync(join(unpacked, manifest.server.entry_point)), "entry point inside the bundle");
  assert.match(manifest.description, /http:\/\/127\.0\.0\.1:7337\//, "the dashboard URL is in the description");
  assert.equal(manifest.user_config.plugins_dir?.type, "directory");
  // esbuild compiles plugins: its binary must be there for the platforms Claude Desktop runs on
  for (const p of ["darwin-arm64", "darwin-x64", "win32-x64", "linux-x64"]) assert.ok(existsSync(join(unpacked, "server", "node_modules", "@esbuild", p)), `esbuild binary for ${p}`);
  assert.ok(existsSync(join(unpacked, "server", "node_modules", "zod", "package.json")));

  // A user who changes nothing: the plugins folder is the default, under their home.
  const home = tmp.join("home");
  const userConfig = Object.fromEntries(Object.entries(manifest.user_config).map(([k, v]) => [k, substitute(v.default ?? "", { dirname: unpacked, home, userConfig: {} })]));
  const vars = { dirname: unpacked, home, userConfig };
  const { command, args, env = {} } = manifest.server.mcp_config;
  assert.equal(command, "node");
  const transport = new StdioClientTransport({
    // Claude Desktop runs `node` with its own Node; here, this process's
    command: process.execPath,
    args: args.map((a) => substitute(a, vars)),
    // PATCHBAY_PORT=0 only so a test never collides with a daemon on the default port
    env: { ...inheritedEnv(), ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, substitute(v, vars)])), HOME: home, PATCHBAY_PORT: "0" },
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (d) => (stderr += d));
  const pids: number[] = [];
  try {
    const c = await connect(transport, "claude-ai");
    try {
      const tools = (await c.client.listTools()).tools.map((t) => t.name);
      assert.ok(tools.includes("example__greet"), `${tools} ${stderr}`);
      const r = await c.client.callTool({ name: "example__greet", arguments: { name: "Claude" } });
      assert.match(textOf(r), /Hello, Claude!/);
    } finally {
      await c.close();
    }
    assert.ok(existsSync(join(home, ".patchbay", "plugins", "example.ts")), "the default plugins folder was made with its example");
    const state = JSON.parse(readFileSync(join(home, ".patchbay", "daemon.json"), "utf8")) as { pid: number; pluginsDir: string };
    pids.push(state.pid);
    assert.equal(state.pluginsDir, join(home, ".patchbay", "plugins"));
  } finally {
    await stopPids(pids);
  }
});
