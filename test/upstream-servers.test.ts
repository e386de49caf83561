/**
 * Upstream MCP servers as plugins (`NAME.mcp.json`), against a REAL stdio server (SDK v1
 * McpServer, run by this Node) and a real daemon: namespaced listing, calls, progress,
 * cancellation, resources and prompts, a crash and reconnect, an edit, a broken file, a
 * delete, and no child left after the daemon stops.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { join } from "node:path";
import { rmSync, writeFileSync } from "node:fs";
import { EXAMPLE_PLUGINS, ROOT, TempDir, waitFor } from "./helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "./helpers/daemon.ts";
import { isPidAlive } from "../daemon/state-file.ts";
import { httpClient, textOf, type RecordingClient } from "./helpers/clients.ts";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CreateMessageRequestSchema } from "@modelcontextprotocol/sdk/types.js";

const req = createRequire(join(ROOT, "package.json"));
const root = new TempDir("patchbay-upstream-");
const pluginsDir = root.join("plugins");
/** While this file exists, the echo server exits at once: an outage that lasts until the test ends it. */
const hold = root.join("hold-upstream");
const serverJs = root.file(
  "servers/echo-server.cjs",
  `if (require("node:fs").existsSync(${JSON.stringify(hold)})) process.exit(1);
const { McpServer } = require(${JSON.stringify(req.resolve("@modelcontextprotocol/sdk/server/mcp.js"))});
const { StdioServerTransport } = require(${JSON.stringify(req.resolve("@modelcontextprotocol/sdk/server/stdio.js"))});
const { z } = require(${JSON.stringify(req.resolve("zod"))});
const server = new McpServer({ name: "echo-server", version: "1.2.3" });
server.registerTool("echo", { description: "echo", inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: "text", text: text + "|" + process.env.ECHO_SUFFIX }] }));
server.registerTool("pid", { description: "pid" }, async () => ({ content: [{ type: "text", text: String(process.pid) }] }));
server.registerTool("slow", { description: "slow", inputSchema: { steps: z.number() } }, async ({ steps }, extra) => {
  const token = extra._meta && extra._meta.progressToken;
  for (let i = 1; i <= steps; i++) {
    if (extra.signal.aborted) throw new Error("aborted");
    if (token !== undefined) await extra.sendNotification({ method: "notifications/progress", params: { progressToken: token, progress: i, total: steps } });
    await new Promise((r) => setTimeout(r, 100));
  }
  return { content: [{ type: "text", text: "done" }] };
});
server.registerTool("ask", { description: "asks the client to sample" }, async () => {
  const r = await server.server.createMessage({ messages: [{ role: "user", content: { type: "text", text: "q?" } }], maxTokens: 5 });
  return { content: [{ type: "text", text: "model said " + r.content.text }] };
});
server.registerResource("note", "note://hello", { mimeType: "text/plain" }, async (uri) => ({ contents: [{ uri: uri.href, text: "hello note" }] }));
server.registerPrompt("greet", { argsSchema: { who: z.string() } }, ({ who }) => ({ messages: [{ role: "user", content: { type: "text", text: "hi " + who } }] }));
process.stderr.write("echo-server started\\n");
server.connect(new StdioServerTransport());
`,
);
const cfg = (suffix: string) => JSON.stringify({ command: process.execPath, args: [serverJs], env: { ECHO_SUFFIX: `${suffix}-\${UPSTREAM_SECRET}` } });
const cfgFile = join(pluginsDir, "up.mcp.json");
root.file("plugins/up.mcp.json", cfg("v1"));

let d: RunningDaemon;
let c: RecordingClient;
const SECRET = "s3cr3t-value-xyz";

before(async () => {
  d = await startDaemonProcess({ plugins: pluginsDir, env: { UPSTREAM_SECRET: SECRET } });
  c = await httpClient(d.url);
});
after(async () => {
  await c?.close().catch(() => undefined);
  await d?.stop();
  root.cleanup();
});

const call = async (name: string, args: Record<string, unknown> = {}) => c.client.callTool({ name, arguments: args });
const state = async () => (await d.health()).plugins.find((p: any) => p.name === "up");
const alive = isPidAlive;

test("tools, resources and prompts are namespaced and relayed; ${VAR} expands but never shows", async () => {
  const tools = (await c.client.listTools()).tools.map((t) => t.name);
  for (const t of ["up__echo", "up__pid", "up__slow"]) assert.ok(tools.includes(t), `${t} in ${tools}`);
  assert.equal(textOf(await call("up__echo", { text: "a" })), `a|v1-${SECRET}`);
  const read = await c.client.readResource({ uri: "note://hello" });
  assert.equal((read.contents[0] as any).text, "hello note");
  const prompt = await c.client.getPrompt({ name: "up__greet", arguments: { who: "bob" } });
  assert.equal((prompt.messages[0].content as any).text, "hi bob");
  const s = await state();
  assert.equal(s.status, "loaded");
  assert.equal(s.upstream.transport, "stdio");
  assert.equal(s.upstream.state, "connected");
  assert.ok(!JSON.stringify(await d.health()).includes(SECRET));
  // the child's stderr goes to the daemon log under the plugin's name
  const line = await waitFor("stderr logged", () => (d.stdout() + d.stderr()).split("\n").find((l) => l.includes("echo-server started")));
  assert.match(line, /"plugin":"up"/);
});

test("progress arrives and cancelling ends the call", async () => {
  const progress: number[] = [];
  const r = await c.client.callTool({ name: "up__slow", arguments: { steps: 3 } }, undefined, { onprogress: (p) => progress.push(p.progress) });
  assert.equal(textOf(r), "done");
  assert.deepEqual(progress, [1, 2, 3]);
  // a call that would run for hours (and a client that would wait as long): only the cancel ends it
  const ac = new AbortController();
  const pending = c.client.callTool({ name: "up__slow", arguments: { steps: 100_000 } }, undefined, { signal: ac.signal, onprogress: () => ac.abort("the user gave up"), timeout: 24 * 3_600_000 });
  await assert.rejects(pending, /the user gave up/);
  assert.equal(textOf(await call("up__echo", { text: "b" })), `b|v1-${SECRET}`);
});

test("a sampling request from the upstream reaches the calling client and its answer goes back", async () => {
  const asker = new Client({ name: "sampler", version: "1.0.0" }, { capabilities: { sampling: {} } });
  asker.setRequestHandler(CreateMessageRequestSchema, async () => ({ role: "assistant", model: "test", content: { type: "text", text: "forty-two" } }));
  await asker.connect(new StreamableHTTPClientTransport(new URL(`${d.url}/mcp`)));
  try {
    const r = await asker.callTool({ name: "up__ask", arguments: {} });
    assert.equal(textOf(r), "model said forty-two");
    // a client without the capability gets a tool error, not a hang
    const refused = await call("up__ask");
    assert.equal(refused.isError, true);
  } finally {
    await asker.close();
  }
});

test("a killed child is restarted; calls during the outage fail fast", async () => {
  const pid = Number(textOf(await call("up__pid")));
  assert.equal((await state()).upstream.pid, pid);
  // the outage lasts until the test ends it: a call during it must fail without waiting for
  // the reconnect (which cannot come before the call has its answer) or a timeout
  writeFileSync(hold, "");
  process.kill(pid, "SIGKILL");
  await waitFor("outage seen", async () => ((await state()).upstream.state !== "connected") || undefined, 30_000);
  const during = await call("up__echo", { text: "x" }).catch((e) => ({ isError: true, content: [{ type: "text", text: String(e) }] }));
  assert.equal(during.isError, true);
  assert.doesNotMatch(textOf(during as any), /time(d)? ?out|did not answer/i);
  assert.notEqual((await state()).upstream.state, "connected", "the call failed during the outage");
  rmSync(hold);
  const newPid = await waitFor("reconnected", async () => {
    const r = await call("up__pid").catch(() => undefined);
    return r && !r.isError && Number(textOf(r)) !== pid ? Number(textOf(r)) : undefined;
  });
  assert.ok(newPid > 0 && !alive(pid));
  const s = await state();
  assert.equal(s.upstream.restarts, 1);
  assert.equal(s.restarts, 1);
});

test("editing reconnects, a broken file keeps the last good version, deleting unloads", async () => {
  writeFileSync(cfgFile, cfg("v2"));
  await waitFor("v2 serves", async () => textOf(await call("up__echo", { text: "c" })) === `c|v2-${SECRET}` || undefined);
  writeFileSync(cfgFile, '{ "command": ');
  const broken = await waitFor("error shown", async () => (await state()).lastError);
  assert.match(broken.message, /invalid JSON/);
  assert.equal(textOf(await call("up__echo", { text: "d" })), `d|v2-${SECRET}`);
  writeFileSync(cfgFile, JSON.stringify({ command: process.execPath, env: { X: "${NOT_SET_ANYWHERE}" } }));
  await waitFor("unset var error", async () => /NOT_SET_ANYWHERE/.test((await state()).lastError?.message ?? "") || undefined);
  writeFileSync(cfgFile, cfg("v3"));
  await waitFor("v3 serves", async () => textOf(await call("up__echo", { text: "e" })) === `e|v3-${SECRET}` || undefined);
  const pid = Number(textOf(await call("up__pid")));
  rmSync(cfgFile);
  await waitFor("unloaded", async () => !(await c.client.listTools()).tools.some((t) => t.name === "up__echo") || undefined);
  await waitFor("child gone", () => !alive(pid) || undefined, 30_000);
  assert.ok(!JSON.stringify(await d.health()).includes(SECRET));
});

test("a url upstream (another Patchbay daemon over Streamable HTTP) is served too", async () => {
  const remote = await startDaemonProcess({ plugins: EXAMPLE_PLUGINS });
  try {
    root.file("plugins/remote.mcp.json", JSON.stringify({ url: `${remote.url}/mcp`, headers: { "x-test": "${UPSTREAM_SECRET}" } }));
    await waitFor("remote listed", async () => (await c.client.listTools()).tools.some((t) => t.name === "remote__utils__add") || undefined);
    const r = await call("remote__utils__add", { numbers: [1, 2] });
    assert.deepEqual(r.structuredContent, { sum: 3 });
    const s = (await d.health()).plugins.find((p: any) => p.name === "remote");
    assert.equal(s.upstream.transport, "streamable-http");
    assert.ok(!JSON.stringify(await d.health()).includes(SECRET));
    rmSync(join(pluginsDir, "remote.mcp.json"));
    await waitFor("remote unloaded", async () => !(await c.client.listTools()).tools.some((t) => t.name === "remote__utils__add") || undefined);
  } finally {
    await remote.stop();
  }
});

test("the daemon's shutdown stops the child", async () => {
  root.file("plugins/up.mcp.json", cfg("v4"));
  await waitFor("v4 serves", async () => textOf(await call("up__echo", { text: "f" }).catch(() => ({}))) === `f|v4-${SECRET}` || undefined);
  const pid = Number(textOf(await call("up__pid")));
  await c.close();
  await d.stop();
  await waitFor("child gone after stop", () => !alive(pid) || undefined, 30_000);
});
