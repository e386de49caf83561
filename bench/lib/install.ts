/**
 * The `install` section of `npm run bench`: what a new user pays before Claude Desktop sees a
 * tool. From an empty npm cache on this machine:
 *  - `npx -y -p <tarball> patchbay stdio` to the first `tools/list` answer (attached mode: it
 *    starts the daemon on a fresh $PATCHBAY_HOME, whose plugins folder gets the example);
 *  - the same for a real MCP server from npm, `npx -y @modelcontextprotocol/server-everything`
 *    (stdio), as the baseline a user would compare with;
 *  - `npm i -g <tarball>`: installed size and package count, beside the bare SDK v1
 *    (`npm i @modelcontextprotocol/sdk`, what the SDK's own examples start from);
 *  - the installed daemon's idle RSS with the bundled example plugins, beside the bare SDK v1
 *    HTTP server idle in the same run.
 */
import { execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { connect } from "./sdk.ts";
import { ROOT, Temp, rssOf, sleep, startBaseline, waitFor } from "./proc.ts";
import { mib, num, ratio, table, x } from "./report.ts";
import { SPARE_IDLE_MS } from "../../daemon/plugins/host/worker-pool.ts";

export interface InstallContext {
  progress(s: string): void;
  emit(s?: string): void;
  temp(prefix: string): Temp;
  settleMs: number;
}

/** Bytes under `dir` (files only; links not followed). */
function sizeOf(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += sizeOf(p);
    else if (e.isFile()) total += statSync(p).size;
  }
  return total;
}

/** Installed packages under a node_modules tree (every folder with a package.json naming a version). */
function packagesIn(nodeModules: string): number {
  if (!existsSync(nodeModules)) return 0;
  let n = 0;
  for (const e of readdirSync(nodeModules, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name.startsWith(".")) continue;
    const dirs = e.name.startsWith("@") ? readdirSync(join(nodeModules, e.name)).map((s) => join(nodeModules, e.name, s)) : [join(nodeModules, e.name)];
    for (const d of dirs) {
      if (existsSync(join(d, "package.json"))) n++;
      n += packagesIn(join(d, "node_modules"));
    }
  }
  return n;
}

function pack(dest: string): string {
  execFileSync("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", dest], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
  const name = readdirSync(dest).find((f) => f.endsWith(".tgz"));
  if (!name) throw new Error("npm pack wrote no tarball");
  return join(dest, name);
}

/** Spawn → first tools/list answer over stdio, in ms. */
async function firstAnswer(command: string, args: string[], env: Record<string, string>, cwd: string): Promise<{ ms: number; tools: number }> {
  const t0 = performance.now();
  // cwd outside the checkout: there npx would find the dev dependencies' binaries
  const c = await connect(new StdioClientTransport({ command, args, cwd, env: { ...(process.env as Record<string, string>), ...env }, stderr: "ignore" }));
  try {
    const { tools } = await c.client.listTools();
    return { ms: performance.now() - t0, tools: tools.length };
  } finally {
    await c.close();
  }
}

function stopDaemonOf(home: string) {
  const file = join(home, "daemon.json");
  if (!existsSync(file)) return;
  try {
    process.kill((JSON.parse(readFileSync(file, "utf8")) as { pid: number }).pid, "SIGTERM");
  } catch {
    // already gone
  }
}

export async function install(ctx: InstallContext): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const work = ctx.temp("patchbay-bench-install-");
  const tarball = pack(work.path);
  out.tarballBytes = statSync(tarball).size;
  const npmEnv = (cache: string) => ({ npm_config_cache: cache, npm_config_update_notifier: "false", npm_config_audit: "false", npm_config_fund: "false" });

  // 1. npx from an empty cache to the first answer
  ctx.progress("install: npx -y -p <tarball> patchbay stdio, empty npm cache");
  const home = join(work.path, "home-npx");
  try {
    const r = await firstAnswer("npx", ["-y", "-p", tarball, "patchbay", "stdio"], { ...npmEnv(join(work.path, "cache-npx")), PATCHBAY_HOME: home, PATCHBAY_PORT: "0" }, work.path);
    out.npxFirstAnswer = { ms: Math.round(r.ms), tools: r.tools };
  } catch (err) {
    out.npxFirstAnswer = { error: (err as Error).message };
  } finally {
    stopDaemonOf(home);
  }
  ctx.progress("install: npx -y @modelcontextprotocol/server-everything stdio, empty npm cache");
  try {
    const r = await firstAnswer("npx", ["-y", "@modelcontextprotocol/server-everything", "stdio"], npmEnv(join(work.path, "cache-everything")), work.path);
    out.baselineNpxFirstAnswer = { server: "@modelcontextprotocol/server-everything", ms: Math.round(r.ms), tools: r.tools };
  } catch (err) {
    out.baselineNpxFirstAnswer = { error: (err as Error).message };
  }

  // 2. installed size and package count
  ctx.progress("install: npm i -g <tarball> and npm i @modelcontextprotocol/sdk, empty caches");
  const prefix = join(work.path, "prefix");
  const t0 = performance.now();
  execFileSync("npm", ["install", "-g", "--prefix", prefix, tarball], { env: { ...process.env, ...npmEnv(join(work.path, "cache-g")) }, stdio: ["ignore", "ignore", "ignore"] });
  const installMs = performance.now() - t0;
  const installed = join(prefix, "lib", "node_modules", "mcp-patchbay");
  out.installed = { bytes: sizeOf(installed), packages: 1 + packagesIn(join(installed, "node_modules")), ms: Math.round(installMs) };
  const sdkDir = join(work.path, "sdk-project");
  mkdirSync(sdkDir, { recursive: true });
  execFileSync("npm", ["install", "--prefix", sdkDir, "@modelcontextprotocol/sdk"], { env: { ...process.env, ...npmEnv(join(work.path, "cache-sdk")) }, stdio: ["ignore", "ignore", "ignore"] });
  out.baselineInstalled = { what: "@modelcontextprotocol/sdk", bytes: sizeOf(join(sdkDir, "node_modules")), packages: packagesIn(join(sdkDir, "node_modules")) };

  // 3. idle memory: the installed daemon with the bundled example plugins vs the bare SDK
  ctx.progress("install: idle RSS, installed daemon with the example plugins; bare SDK v1 HTTP");
  const sdk = await startBaseline("sdk-v1-http");
  try {
    await sleep(ctx.settleMs);
    out.baselineIdleRss = rssOf(sdk.pid);
  } finally {
    await sdk.stop();
  }
  const daemonHome = join(work.path, "home-daemon");
  // a copy: the watcher skips anything under node_modules, as a plugin folder's own packages
  const examples = join(work.path, "examples");
  cpSync(join(installed, "plugins"), examples, { recursive: true });
  const proc = spawn(join(prefix, "bin", "patchbay"), ["start", "--port", "0", "--plugins", examples], { env: { ...process.env, PATCHBAY_HOME: daemonHome, PATCHBAY_LOG_LEVEL: "warn" }, stdio: ["ignore", "pipe", "ignore"] });
  try {
    let text = "";
    proc.stdout!.setEncoding("utf8").on("data", (d) => (text += d));
    const url = await waitFor("installed daemon URL", () => /MCP \(HTTP\):\s+(http:\/\/\S+)\/mcp/.exec(text)?.[1]);
    const plugins = await waitFor("example plugins loaded", async () => {
      const h = (await (await fetch(`${url}/healthz`)).json()) as { counts: { plugins: number; loaded: number } };
      return h.counts.loaded > 0 && h.counts.loaded === h.counts.plugins ? h.counts.loaded : undefined;
    });
    await sleep(ctx.settleMs);
    const loaded = rssOf(proc.pid!);
    // the warm spare thread lives SPARE_IDLE_MS after the last load (worker-pool.ts)
    await sleep(SPARE_IDLE_MS + ctx.settleMs);
    out.idleRss = { rss: rssOf(proc.pid!), justLoadedRss: loaded, plugins };
  } finally {
    proc.kill("SIGTERM");
    await new Promise((r) => proc.once("exit", r));
  }

  const first = out.npxFirstAnswer as { ms?: number; tools?: number; error?: string };
  const base = out.baselineNpxFirstAnswer as { ms?: number; tools?: number; error?: string };
  const inst = out.installed as { bytes: number; packages: number; ms: number };
  const sdkInst = out.baselineInstalled as { bytes: number; packages: number };
  const idle = out.idleRss as { rss: number; justLoadedRss: number; plugins: number };
  ctx.emit("## Install and first start");
  ctx.emit();
  ctx.emit("From an empty npm cache on this machine (the registry is the only network). Goals (issue 18): first answer under 10 s, install under 50 MB, idle under 100 MB RSS.");
  ctx.emit();
  ctx.emit(
    table(
      ["figure", "Patchbay", "baseline", "ratio"],
      [
        ["`npx -y -p <tarball> patchbay stdio` → first tools/list", first.error ? `error: ${first.error}` : `${num(first.ms! / 1000, 1)} s (${first.tools} tools; starts the daemon)`, base.error ? `error: ${base.error}` : `${num(base.ms! / 1000, 1)} s: npx -y @modelcontextprotocol/server-everything (${base.tools} tools)`, x(ratio(first.ms, base.ms))],
        ["installed size (`npm i -g <tarball>`)", `${mib(inst.bytes, 1)}, ${inst.packages} packages, ${num(inst.ms / 1000, 1)} s`, `${mib(sdkInst.bytes, 1)}, ${sdkInst.packages} packages: npm i @modelcontextprotocol/sdk`, x(ratio(inst.bytes, sdkInst.bytes))],
        ["tarball", mib(out.tarballBytes as number, 2), "–", "–"],
        [`idle RSS, installed daemon with the ${idle.plugins} example plugins (just loaded: ${mib(idle.justLoadedRss, 1)} with the warm spare thread)`, mib(idle.rss, 1), `${mib(out.baselineIdleRss as number, 1)}: bare SDK v1 HTTP server`, x(ratio(idle.rss, out.baselineIdleRss as number))],
      ],
    ),
  );
  ctx.emit();
  return out;
}
