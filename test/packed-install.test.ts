/**
 * The packed tarball is the product: `npm pack`, then `npm i -g` into a temporary prefix on
 * every Node line the package claims (this machine's Node 20, and Node 22 and 24 from the npm
 * registry), then the installed `patchbay` — never the checkout's dist — with the official SDK
 * client: a call over Streamable HTTP, legacy SSE, WebSocket and stdio (attached, which starts
 * the daemon on `$PATCHBAY_HOME/plugins`, and standalone), and the dashboard answering.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { TempDir, waitFor } from "./helpers/env.ts";
import { connect, httpClient, sseClient, textOf, wsClient, type RecordingClient } from "./helpers/clients.ts";
import { stopPids } from "./helpers/daemon.ts";
import { nodeLine } from "./helpers/node-lines.ts";
import { installGlobal, pack, type Packed } from "./helpers/packed.ts";
import { SUPPORTED_NODE } from "../daemon/node-support.ts";

const run = promisify(execFile);
const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string; engines: { node: string }; dependencies: Record<string, string>; scripts: Record<string, string> };

const tmp = new TempDir("patchbay-packed-");
let packed: Packed;

const PLUGIN = `import { definePlugin, z } from "mcp-patchbay";
export default definePlugin({
  name: "hello",
  tools: {
    greet: { description: "Greet", input: { name: z.string() }, handler: async ({ name }) => \`hello \${name} from node \${process.versions.node}\` },
  },
});
`;

before(async () => {
  packed = await pack(tmp.path);
});
after(() => tmp.cleanup());

test("the tarball holds what users run and nothing only the checkout needs", () => {
  const files = packed.files;
  for (const f of ["package.json", "README.md", "LICENSE", "dist/THIRD_PARTY_LICENSES.md", "dist/cli.js", "dist/api.js", "dist/worker-entry.js", "dist/types/api.d.ts", "dist/dashboard/index.html", "dist/dashboard/app.js", "dist/token-count-process.js", "config/patchbay.json", "docs/configuration.md"]) {
    assert.ok(files.includes(f), `${f} missing from the tarball`);
  }
  // docs/*.md ship: the README links to them; the screenshot does not
  const stray = files.filter((f) => /^(test|bench|scripts|daemon|dashboard|\.ci|\.cache)\//.test(f) || /\.map$/.test(f) || (f.startsWith("docs/") && !f.endsWith(".md")));
  assert.deepEqual(stray, [], "checkout-only files in the tarball");
  // npm runs (or, with npm 11, warns about) these on the user's machine; none may exist
  for (const s of ["preinstall", "install", "postinstall", "prepare"]) assert.equal(pkg.scripts[s], undefined, `lifecycle script ${s}`);
  assert.deepEqual(Object.keys(pkg.dependencies).sort(), ["esbuild", "zod"], "runtime dependencies are bundled into dist, but esbuild and zod");
  assert.equal(pkg.engines.node, SUPPORTED_NODE, "engines.node and the CLI's own check agree");
});

function waitExit(proc: ChildProcess): Promise<unknown> {
  return proc.exitCode !== null || proc.signalCode !== null ? Promise.resolve() : once(proc, "exit");
}

async function callGreet(c: RecordingClient, who: string): Promise<string> {
  try {
    const r = await c.client.callTool({ name: "hello__greet", arguments: { name: who } });
    return textOf(r);
  } finally {
    await c.close();
  }
}

async function stdioSession(bin: string, args: string[], env: Record<string, string>): Promise<{ tools: string[]; text: string | undefined; stderr: string }> {
  const transport = new StdioClientTransport({ command: bin, args, env, stderr: "pipe" });
  let stderr = "";
  transport.stderr?.on("data", (d) => (stderr += d));
  let c: RecordingClient;
  try {
    c = await connect(transport);
  } catch (err) {
    throw new Error(`patchbay ${args.join(" ")}: ${(err as Error).message}\n${stderr}`);
  }
  try {
    const tools = (await c.client.listTools()).tools.map((t) => t.name);
    const text = tools.includes("hello__greet") ? textOf(await c.client.callTool({ name: "hello__greet", arguments: { name: "stdio" } })) : undefined;
    return { tools, text, stderr };
  } finally {
    await c.close();
  }
}

const LINES: { label: string; major: number | undefined }[] = [
  { label: `this machine's Node ${process.versions.node}`, major: undefined },
  { label: "Node 22 (npm package node@22)", major: 22 },
  { label: "Node 24 (npm package node@24)", major: 24 },
];

for (const line of LINES) {
  test(`installed with npm i -g on ${line.label}: every transport, stdio both ways, the dashboard`, { timeout: 10 * 60_000 }, async () => {
    const nodeBin = line.major === undefined ? undefined : nodeLine(line.major);
    const expectVersion = line.major === undefined ? process.versions.node : (await run(nodeBin!, ["-p", "process.versions.node"])).stdout.trim();
    const prefix = join(tmp.path, `prefix-${line.major ?? "self"}`);
    const installed = await installGlobal(packed.tarball, prefix, nodeBin);
    assert.doesNotMatch(installed.output, /EBADENGINE|Unsupported engine/, `npm warned about engines on Node ${expectVersion}:\n${installed.output}`);
    assert.ok(existsSync(installed.bin), "the patchbay binary is linked into the prefix");
    assert.ok(!readlinkSync(installed.bin).includes(process.cwd()), "the binary points into the install, not the checkout");

    const version = await run(installed.bin, ["--version"], { env: installed.env });
    assert.equal(version.stdout.trim(), pkg.version);

    const plugins = new TempDir("patchbay-packed-plugins-");
    const home = new TempDir("patchbay-packed-home-");
    const stdioHome = new TempDir("patchbay-packed-stdio-home-");
    plugins.file("hello.ts", PLUGIN);
    const env = { ...installed.env, PATCHBAY_LOG_LEVEL: "info" };
    const daemon = spawn(installed.bin, ["start", "--port", "0", "--plugins", plugins.path], { env: { ...env, PATCHBAY_HOME: home.path }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    daemon.stdout!.setEncoding("utf8").on("data", (d) => (out += d));
    daemon.stderr!.setEncoding("utf8").on("data", (d) => (err += d));
    const attachedPids: number[] = [];
    try {
      const url = await waitFor("the installed daemon's URL", () => /MCP \(HTTP\):\s+(http:\/\/\S+)\/mcp/.exec(out)?.[1], 60_000);
      await waitFor("plugins loaded", async () => {
        const h = (await (await fetch(`${url}/healthz`)).json()) as { plugins: { name: string; status: string }[] };
        return h.plugins.some((p) => p.name === "hello" && p.status === "loaded") || undefined;
      }, 60_000);
      // the daemon runs on the Node line under test
      assert.equal(realpathSync(`/proc/${daemon.pid}/exe`), realpathSync(nodeBin ?? process.execPath));

      const expected = `from node ${expectVersion}`;
      assert.match(await callGreet(await httpClient(url), "http"), new RegExp(`hello http ${expected}`));
      assert.match(await callGreet(await sseClient(url), "sse"), new RegExp(`hello sse ${expected}`));
      assert.match(await callGreet(await wsClient(url), "ws"), new RegExp(`hello ws ${expected}`));

      const page = await fetch(`${url}/`);
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<html/i);
      const script = await fetch(`${url}/dashboard/app.js`);
      assert.equal(script.status, 200, "the dashboard's bundled script is served from the install");
      const overview = (await (await fetch(`${url}/api/overview`)).json()) as Record<string, unknown>;
      assert.equal(typeof overview, "object");
      assert.match(JSON.stringify(overview), /hello__greet/, "the dashboard API shows the calls just made");
      // the token-counting process runs from the install (dist/token-count-process.js)
      await waitFor("exact token counts", async () => {
        const h = (await (await fetch(`${url}/healthz`)).json()) as { context?: { exact: boolean; totals: { toolTokens: number } } };
        return (h.context?.exact && h.context.totals.toolTokens > 0) || undefined;
      }, 60_000);

      // the other commands, from the install
      const status = await run(installed.bin, ["status"], { env: { ...env, PATCHBAY_HOME: home.path } });
      assert.match(status.stdout, new RegExp(url.replace(/[.]/g, "\\.")), "status finds the running daemon");
      assert.match(status.stdout, /hello/);
      const entry = await run(installed.bin, ["connect", "claude-desktop"], { env: { ...env, PATCHBAY_HOME: home.path, HOME: home.path, XDG_CONFIG_HOME: home.join("xdg") } });
      assert.match(entry.stdout, /"command": "patchbay"/, "a global install's entry runs the global patchbay");
      await run(installed.bin, ["new-plugin", "fresh", "--plugins", plugins.path], { env });
      assert.ok(existsSync(plugins.join("fresh.ts")));
      await waitFor("the new plugin loaded", async () => {
        const h = (await (await fetch(`${url}/healthz`)).json()) as { plugins: { name: string; status: string }[] };
        return h.plugins.some((p) => p.name === "fresh" && p.status === "loaded") || undefined;
      }, 60_000);

      // standalone stdio hosts the plugins in its own process
      const standalone = await stdioSession(installed.bin, ["stdio", "--standalone", "--plugins", plugins.path], { ...env, PATCHBAY_HOME: stdioHome.path });
      assert.ok(standalone.tools.includes("hello__greet"), standalone.stderr);
      assert.match(standalone.text ?? "", new RegExp(`hello stdio ${expected}`));

      // attached stdio on a fresh home: it starts a daemon that serves $PATCHBAY_HOME/plugins,
      // created with the example plugin
      const attached = await stdioSession(installed.bin, ["stdio"], { ...env, PATCHBAY_HOME: stdioHome.path, PATCHBAY_PORT: "0" });
      const state = JSON.parse(readFileSync(join(stdioHome.path, "daemon.json"), "utf8")) as { pid: number };
      attachedPids.push(state.pid);
      assert.ok(attached.tools.includes("example__greet"), `the default plugins folder's example: ${attached.tools} ${attached.stderr}`);
      assert.ok(existsSync(join(stdioHome.path, "plugins", "example.ts")));
    } finally {
      daemon.kill("SIGTERM");
      await waitExit(daemon);
      await stopPids(attachedPids);
      plugins.cleanup();
      home.cleanup();
      stdioHome.cleanup();
    }
    assert.equal(daemon.exitCode, 0, `daemon exit: ${daemon.exitCode} ${daemon.signalCode}\n${err}`);
  });
}

test("npm i of the tarball into a project: the plugin API imports, and npx runs patchbay", { timeout: 5 * 60_000 }, async () => {
  const project = new TempDir("patchbay-packed-project-");
  try {
    project.file("package.json", JSON.stringify({ name: "my-plugins", private: true, type: "module" }));
    const { stdout, stderr } = await run("npm", ["install", "--no-audit", "--no-fund", packed.tarball], { cwd: project.path, maxBuffer: 16 << 20 });
    assert.doesNotMatch(stdout + stderr, /EBADENGINE/);
    project.file("check.mjs", `import { definePlugin, z } from "mcp-patchbay";\nconst p = definePlugin({ tools: { t: { input: { a: z.string() }, handler: () => "ok" } } });\nconsole.log(typeof p.tools.t.handler, typeof z.object);\n`);
    const check = await run(process.execPath, ["check.mjs"], { cwd: project.path });
    assert.equal(check.stdout.trim(), "function function");
    const version = await run("npx", ["--no-install", "patchbay", "--version"], { cwd: project.path });
    assert.equal(version.stdout.trim(), pkg.version);
    // `npx -y -p <tarball> patchbay` is how an unpublished copy is run (FIELD-NOTES: a bare
    // tarball path is run as a command)
    const npx = await run("npx", ["-y", "-p", packed.tarball, "patchbay", "--version"], { cwd: project.path });
    assert.equal(npx.stdout.trim(), pkg.version);
  } finally {
    project.cleanup();
  }
});
