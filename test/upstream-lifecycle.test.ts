/**
 * Upstream lifecycle against real daemons: a stdio upstream that ignores stdin EOF (and the
 * child it starts) dies with a daemon killed by SIGKILL; a missing command is a clear load
 * error; a server unreachable at the first load is retried until it answers; `${VAR}` from $PATCHBAY_HOME/.env, under the daemon's environment, never shown.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { ROOT, TempDir, waitFor } from "./helpers/env.ts";
import { startDaemonProcess } from "./helpers/daemon.ts";
import { isPidAlive } from "../daemon/state-file.ts";
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
// digests, so the test can compare values that must not appear anywhere in the clear
const digest = (v) => v === undefined ? null : require("node:crypto").createHash("sha256").update(v).digest("hex");
server.registerTool("env", { description: "env" }, async () => ({ content: [{ type: "text", text: JSON.stringify({ FROM_FILE: digest(process.env.FROM_FILE), BOTH: digest(process.env.BOTH), ARG: digest(process.argv[2]) }) }] }));
server.registerTool("pids", { description: "pids" }, async () => ({ content: [{ type: "text", text: JSON.stringify({ pid: process.pid, grandchild: grandchild.pid }) }] }));
server.connect(new StdioServerTransport());
`,
);
after(() => root.cleanup());

const alive = isPidAlive;

test("kill -9 of the daemon: a stdio upstream that ignores stdin EOF, and its own child, die too (even with a PATH of its own that has no sleep or setsid)", async () => {
  const plugins = root.join("p-kill");
  // the launcher's watchdog and setsid must not depend on the PATH the server's env sets
  const emptyBin = root.join("empty-bin");
  mkdirSync(emptyBin, { recursive: true });
  root.file("p-kill/stubborn.mcp.json", JSON.stringify({ command: process.execPath, args: [stubborn], env: { PATH: emptyBin } }));
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

test("${VAR} expands from $PATCHBAY_HOME/.env too (the daemon's environment wins); no value shows in healthz, the dashboard API, traces, logs or the audit log", async () => {
  const plugins = root.join("p-env");
  const home = root.join("home-env");
  const FILE_SECRET = "file-secret-4f1d9a";
  const DAEMON_SECRET = "daemon-secret-77c2e0";
  root.file("home-env/.env", `# secrets for upstream servers\nexport FROM_FILE="${FILE_SECRET}"\nBOTH='file-value-should-lose'\nARG_VALUE=${FILE_SECRET}-arg # trailing comment\n`);
  root.file("p-env/envy.mcp.json", JSON.stringify({ command: process.execPath, args: [stubborn, "${ARG_VALUE}"], env: { FROM_FILE: "${FROM_FILE}", BOTH: "${BOTH}" } }));
  const audit = join(home, "audit.log");
  const d = await startDaemonProcess({ plugins, home, env: { BOTH: DAEMON_SECRET, PATCHBAY_AUDIT_FILE: audit } });
  const sha = (v: string) => createHash("sha256").update(v).digest("hex");
  try {
    const c = await httpClient(d.url);
    const seen = JSON.parse(textOf(await c.client.callTool({ name: "envy__env", arguments: {} })));
    assert.deepEqual(seen, { FROM_FILE: sha(FILE_SECRET), BOTH: sha(DAEMON_SECRET), ARG: sha(`${FILE_SECRET}-arg`) });
    await c.close();
    const shown = [JSON.stringify(await d.health())];
    for (const path of ["/api/overview", "/api/traces", "/api/logs"]) shown.push(await (await fetch(`${d.url}${path}`)).text());
    for (const t of JSON.parse(shown[2]) as { traceId: string }[]) shown.push(await (await fetch(`${d.url}/api/traces/${t.traceId}`)).text());
    await waitFor("audit written", () => (existsSync(audit) && readFileSync(audit, "utf8").includes("envy__env")) || undefined);
    shown.push(readFileSync(audit, "utf8"), d.stdout(), d.stderr());
    for (const text of shown) {
      assert.ok(!text.includes(FILE_SECRET), "a .env value leaked");
      assert.ok(!text.includes(DAEMON_SECRET), "a daemon env value leaked");
    }
  } finally {
    await d.stop();
  }
});

test("a server that cannot be reached at the first load is retried with the backoff until it answers; its last listing survives a daemon restart", async () => {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const plugins = root.join("p-late");
  root.file("p-late/late.mcp.json", JSON.stringify({ url: `http://127.0.0.1:${port}/mcp` }));
  const home = root.join("home-late");
  const d = await startDaemonProcess({ plugins, home });
  let d2: Awaited<ReturnType<typeof startDaemonProcess>> | undefined;
  const everything = join(dirname(req.resolve("@modelcontextprotocol/server-everything/package.json")), "dist", "index.js");
  let server: ReturnType<typeof spawn> | undefined;
  try {
    const waiting = await waitFor("retrying shown", async () => {
      const p = (await d.health()).plugins.find((x: any) => x.name === "late");
      return p?.upstream?.state === "restarting" && p.upstream.nextRetryAt ? p : undefined;
    });
    assert.equal(waiting.status, "error");
    assert.match(waiting.lastError.message, /could not connect/);
    const c = await httpClient(d.url);
    assert.ok(!(await c.client.listTools()).tools.some((t) => t.name.startsWith("late__")));
    server = spawn(process.execPath, [everything, "streamableHttp"], { env: { ...process.env, PORT: String(port) }, stdio: "ignore" });
    await waitFor("listed once it answers", async () => (await c.client.listTools()).tools.some((t) => t.name === "late__get-sum") || undefined, 60_000, 100);
    const r = await c.client.callTool({ name: "late__get-sum", arguments: { a: 20, b: 22 } });
    assert.match(textOf(r), /42/);
    const p = (await d.health()).plugins.find((x: any) => x.name === "late");
    assert.equal(p.status, "loaded");
    assert.equal(p.lastError, undefined);
    assert.equal(p.upstream.state, "connected");
    assert.equal(p.upstream.restarts, 0);
    await c.close();
    // the next daemon, with the server down, lists what the server offered last time, and a
    // call gets a tool error naming the next try instead of "unknown tool"
    await d.stop();
    const gone = once(server, "exit");
    server.kill("SIGKILL");
    await gone;
    d2 = await startDaemonProcess({ plugins, home });
    const c2 = await httpClient(d2.url);
    await waitFor("retrying again", async () => (await d2!.health()).plugins.find((x: any) => x.name === "late")?.upstream?.state === "restarting" || undefined);
    assert.ok((await c2.client.listTools()).tools.some((t) => t.name === "late__get-sum"));
    const during = await c2.client.callTool({ name: "late__get-sum", arguments: { a: 1, b: 2 } });
    assert.equal(during.isError, true);
    assert.match(textOf(during), /not connected .*next attempt in \d+ s/);
    await c2.close();
  } finally {
    await d2?.stop();
    await d.stop();
    if (server && server.exitCode === null && server.signalCode === null) {
      const gone = once(server, "exit");
      server.kill("SIGKILL");
      await gone;
    }
  }
});
