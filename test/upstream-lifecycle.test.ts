/**
 * Upstream lifecycle against real daemons: a stdio upstream that ignores stdin EOF (and the
 * child it starts) dies with a daemon killed by SIGKILL; a missing command is a clear load
 * error.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { join } from "node:path";
import { ROOT, TempDir, waitFor } from "./helpers/env.ts";
import { startDaemonProcess } from "./helpers/daemon.ts";
import { httpClient, textOf } from "./helpers/clients.ts";

const req = createRequire(join(ROOT, "package.json"));
const root = new TempDir("patchbay-upstream-life-");
/** A stdio server that stays up after stdin closes, with a child of its own. */
const stubborn = root.file(
  "servers/stubborn.cjs",
  `const { McpServer } = require(${JSON.stringify(req.resolve("@modelcontextprotocol/sdk/server/mcp.js"))});
const { StdioServerTransport } = require(${JSON.stringify(req.resolve("@modelcontextprotocol/sdk/server/stdio.js"))});
const { spawn } = require("node:child_process");
const grandchild = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
process.stdin.on("end", () => {});
process.on("SIGHUP", () => {});
setInterval(() => {}, 1000);
const server = new McpServer({ name: "stubborn", version: "1.0.0" });
server.registerTool("pids", { description: "pids" }, async () => ({ content: [{ type: "text", text: JSON.stringify({ pid: process.pid, grandchild: grandchild.pid }) }] }));
server.connect(new StdioServerTransport());
`,
);
after(() => root.cleanup());

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test("kill -9 of the daemon: a stdio upstream that ignores stdin EOF, and its own child, die too", async () => {
  const plugins = root.join("p-kill");
  root.file("p-kill/stubborn.mcp.json", JSON.stringify({ command: process.execPath, args: [stubborn] }));
  const d = await startDaemonProcess({ plugins });
  let pids: { pid: number; grandchild: number } | undefined;
  try {
    const c = await httpClient(d.url);
    pids = JSON.parse(textOf(await c.client.callTool({ name: "stubborn__pids", arguments: {} })));
    await c.close();
    assert.equal((await d.health()).plugins.find((p: any) => p.name === "stubborn").upstream.pid, pids!.pid);
    assert.ok(alive(pids!.pid) && alive(pids!.grandchild));
    d.proc.kill("SIGKILL");
    await waitFor("daemon gone", () => (d.proc.exitCode !== null || d.proc.signalCode !== null) || undefined);
    await waitFor("upstream child gone", () => !alive(pids!.pid) || undefined, 30_000);
    await waitFor("its own child gone", () => !alive(pids!.grandchild) || undefined, 30_000);
  } finally {
    await d.stop();
    for (const p of [pids?.pid, pids?.grandchild]) if (p && alive(p)) process.kill(p, "SIGKILL");
  }
});

test("a command that is not on PATH is a clear load error", async () => {
  const plugins = root.join("p-missing");
  root.file("p-missing/nothere.mcp.json", JSON.stringify({ command: "patchbay-no-such-command-xyz" }));
  const d = await startDaemonProcess({ plugins });
  try {
    const s = await waitFor("error shown", async () => (await d.health()).plugins.find((p: any) => p.name === "nothere")?.lastError);
    assert.match(s.message, /"patchbay-no-such-command-xyz" is not on PATH/);
  } finally {
    await d.stop();
  }
});
