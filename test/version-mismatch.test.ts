/**
 * A daemon of another version under a running client: users upgrade the package (npm i -g,
 * or npx picking up a new release) while the daemon Claude Desktop started keeps running the
 * old code. `patchbay stdio` attaches to it anyway (restarting it would cut every other
 * client's sessions) but says so on stderr, and `patchbay status` says it too. The old
 * daemon here is the same build under a package.json of another version, run from a copy.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFile } from "node:child_process";
import { cpSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { CLI, ROOT, TempDir, waitFor } from "./helpers/env.ts";
import { readState, readStateFile, stateFilePath } from "../daemon/state-file.ts";
import { existsSync } from "node:fs";
import { stopPids } from "./helpers/daemon.ts";

const run = promisify(execFile);

test("patchbay stdio attached to a daemon of another version says so on stderr and still serves; status says it too", async () => {
  const root = new TempDir("patchbay-version-");
  const pkg = root.join("old-package");
  cpSync(join(ROOT, "dist"), join(pkg, "dist"), { recursive: true });
  const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ ...manifest, version: "0.0.1-old" }));
  symlinkSync(join(ROOT, "node_modules"), join(pkg, "node_modules"));
  const home = root.join("home");
  root.file("plugins/one.mjs", `export default { tools: { hi: { description: "hi", handler: () => "hi" } } };`);
  const env = { ...process.env, PATCHBAY_HOME: home, PATCHBAY_LOG_LEVEL: "warn" };
  const old = spawn(process.execPath, [join(pkg, "dist", "cli.js"), "start", "--port", "0", "--plugins", root.join("plugins")], { env, stdio: "ignore" });
  let bridge: ReturnType<typeof spawn> | undefined;
  try {
    const state = await waitFor("the old daemon to listen", async () => (existsSync(stateFilePath(home)) ? await readState(home) : undefined), 30_000, 100);
    assert.equal(state.version, "0.0.1-old");

    bridge = spawn(process.execPath, [CLI, "stdio"], { env, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let err = "";
    bridge.stdout!.setEncoding("utf8").on("data", (d) => (out += d));
    bridge.stderr!.setEncoding("utf8").on("data", (d) => (err += d));
    bridge.stdin!.write(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } } }) + "\n");
    const init = await waitFor("the initialize answer", () => out.split("\n").find((l) => l.includes('"id":1')), 30_000, 50);
    assert.equal(JSON.parse(init).result.serverInfo.version, "0.0.1-old");
    assert.match(err, new RegExp(`the running daemon \\(pid ${state.pid}, [^)]+\\) is version 0\\.0\\.1-old, this patchbay is ${manifest.version.replace(/\./g, "\\.")}; attaching to it`));
    // stdout carried only JSON-RPC
    for (const line of out.split("\n").filter(Boolean)) assert.doesNotThrow(() => JSON.parse(line), line);
    const exited = new Promise((r) => bridge!.once("exit", r));
    bridge.stdin!.end();
    await exited;

    const status = await run(process.execPath, [CLI, "status"], { env });
    assert.match(status.stdout, /Patchbay 0\.0\.1-old running/);
    assert.match(status.stdout, new RegExp(`this patchbay is ${manifest.version.replace(/\./g, "\\.")}: the daemon runs 0\\.0\\.1-old until it is restarted`));
  } finally {
    // a bridge left running (a failed assertion) would start a daemon of its own once the old one is gone
    if (bridge && bridge.exitCode === null) bridge.kill("SIGKILL");
    await stopPids([old.pid!]);
    const left = readStateFile(home);
    if (left) await stopPids([left.pid]);
    root.cleanup();
  }
});
