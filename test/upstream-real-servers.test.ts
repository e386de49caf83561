/**
 * Upstream servers that people actually run, installed as dev dependencies:
 * `@modelcontextprotocol/server-everything` over stdio and over Streamable HTTP, and
 * `@modelcontextprotocol/server-filesystem` over stdio on a temporary folder — behind a real
 * daemon, seen through the official SDK client. Listing, calls, progress, cancellation, a
 * resource subscription, server→client requests answered by the test's client, a crash and
 * restart, an edit of the `.mcp.json` and a delete; a 2026-07-28 client too.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { ROOT, TempDir, freePort, waitFor } from "./helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "./helpers/daemon.ts";
import { isPidAlive } from "../daemon/state-file.ts";
import { connect, textOf, type RecordingClient } from "./helpers/clients.ts";
import { v2HttpClient } from "./helpers/clients-v2.ts";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CreateMessageRequestSchema, ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";

const req = createRequire(join(ROOT, "package.json"));
const pkgDir = (name: string) => dirname(req.resolve(`${name}/package.json`));
const EVERYTHING = join(pkgDir("@modelcontextprotocol/server-everything"), "dist", "index.js");
const FILESYSTEM = join(pkgDir("@modelcontextprotocol/server-filesystem"), "dist", "index.js");

const root = new TempDir("patchbay-real-upstreams-");
const pluginsDir = root.join("plugins");
const shared = root.join("shared");
root.file("shared/hello.txt", "hello from the filesystem server\n");
const evFile = join(pluginsDir, "ev.mcp.json");
const evConfig = (marker: string) => JSON.stringify({ command: process.execPath, args: [EVERYTHING, "stdio"], env: { PB_MARKER: marker } });
root.file("plugins/ev.mcp.json", evConfig("one"));
root.file("plugins/fs.mcp.json", JSON.stringify({ command: process.execPath, args: [FILESYSTEM, shared] }));

let d: RunningDaemon;
let c: RecordingClient;
let httpServer: ChildProcess | undefined;
let httpPort = 0;

/** server-everything's Streamable HTTP mode, on a port of our choosing (its PORT variable). */
async function startEverythingHttp(port: number): Promise<ChildProcess> {
  const p = spawn(process.execPath, [EVERYTHING, "streamableHttp"], { env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  p.stderr!.setEncoding("utf8").on("data", (s) => (err += s));
  await waitFor("everything HTTP server listening", () => (/listening on port/.test(err) ? true : p.exitCode !== null ? Promise.reject(new Error(err)) : undefined), 20_000);
  return p;
}

async function stopChild(p?: ChildProcess) {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const gone = once(p, "exit");
  p.kill("SIGKILL");
  await gone;
}

/** A client that answers sampling and elicitation, as a host application would. */
async function answeringClient(): Promise<RecordingClient> {
  const client = new Client({ name: "answering", version: "1.0.0" }, { capabilities: { sampling: {}, elicitation: {} } });
  client.setRequestHandler(CreateMessageRequestSchema, async () => ({ role: "assistant", model: "test-model", content: { type: "text", text: "forty-two" } }));
  client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "decline" }));
  const rec: RecordingClient = { client, notifications: [], count: () => 0, waitNotification: async () => undefined, close: () => client.close() };
  await client.connect(new StreamableHTTPClientTransport(new URL(`${d.url}/mcp`)));
  return rec;
}

const alive = isPidAlive;
const state = async (name: string) => (await d.health()).plugins.find((p: any) => p.name === name);
const toolNames = async () => (await c.client.listTools()).tools.map((t) => t.name);

before(async () => {
  httpPort = await freePort();
  httpServer = await startEverythingHttp(httpPort);
  root.file("plugins/evh.mcp.json", JSON.stringify({ url: `http://127.0.0.1:${httpPort}/mcp` }));
  d = await startDaemonProcess({ plugins: pluginsDir });
  c = await connect(new StreamableHTTPClientTransport(new URL(`${d.url}/mcp`)));
});
after(async () => {
  await c?.close().catch(() => undefined);
  await d?.stop();
  await stopChild(httpServer);
  root.cleanup();
});

/** A client subscribes to one of the upstream's documents; the upstream, told to, sends it updates. */
async function subscribedUpdates(up: string) {
  const resources = (await c.client.listResources()).resources;
  const doc = resources.find((r) => r.uri.startsWith("demo://resource/static/document/"));
  assert.ok(doc, JSON.stringify(resources.map((r) => r.uri)));
  const listener = await connect(new StreamableHTTPClientTransport(new URL(`${d.url}/mcp`)));
  try {
    await listener.client.subscribeResource({ uri: doc.uri });
    // the upstream then sends resources/updated every 5 s for the URIs Patchbay subscribed to
    const toggled = await c.client.callTool({ name: `${up}__toggle-subscriber-updates`, arguments: {} });
    assert.match(textOf(toggled), /Started/);
    await waitFor("resources/updated relayed", () => listener.notifications.find((n) => n.method === "notifications/resources/updated" && (n.params as any)?.uri === doc.uri), 30_000);
    await c.client.callTool({ name: `${up}__toggle-subscriber-updates`, arguments: {} });
  } finally {
    await listener.close();
  }
}

for (const up of ["ev", "evh"]) {
  test(`server-everything (${up === "ev" ? "stdio" : "Streamable HTTP"}): listing, a call, progress and cancellation`, async () => {
    const names = await waitFor("tools listed", async () => {
      const n = await toolNames();
      return n.includes(`${up}__get-sum`) && n.includes(`${up}__trigger-sampling-request`) ? n : undefined;
    });
    assert.ok(names.includes(`${up}__echo`));
    const s = await state(up);
    assert.equal(s.status, "loaded");
    assert.equal(s.upstream.transport, up === "ev" ? "stdio" : "streamable-http");
    const prompts = (await c.client.listPrompts()).prompts.map((p) => p.name);
    assert.ok(prompts.includes(`${up}__simple-prompt`), String(prompts));
    const sum = await c.client.callTool({ name: `${up}__get-sum`, arguments: { a: 2, b: 40 } });
    assert.match(textOf(sum), /42/);
    const progress: number[] = [];
    const long = await c.client.callTool({ name: `${up}__trigger-long-running-operation`, arguments: { duration: 0.3, steps: 3 } }, undefined, { onprogress: (p) => progress.push(p.progress) });
    assert.match(textOf(long), /completed/);
    assert.deepEqual(progress, [1, 2, 3]);
    // cancelled at its first progress step: the call ends, the upstream stays usable
    const ac = new AbortController();
    const pending = c.client.callTool({ name: `${up}__trigger-long-running-operation`, arguments: { duration: 60, steps: 120 } }, undefined, { signal: ac.signal, onprogress: () => ac.abort() });
    await assert.rejects(pending);
    assert.match(textOf(await c.client.callTool({ name: `${up}__echo`, arguments: { message: "still here" } })), /still here/);
  });

  test(`server-everything (${up === "ev" ? "stdio" : "Streamable HTTP"}): sampling and elicitation from the upstream are answered by the calling client`, async () => {
    const asker = await answeringClient();
    try {
      await waitFor("elicitation tool listed", async () => (await asker.client.listTools()).tools.some((t) => t.name === `${up}__trigger-elicitation-request`) || undefined);
      const sampled = await asker.client.callTool({ name: `${up}__trigger-sampling-request`, arguments: { prompt: "what is six times seven?" } });
      assert.match(textOf(sampled), /forty-two/);
      const elicited = await asker.client.callTool({ name: `${up}__trigger-elicitation-request`, arguments: {} });
      assert.equal(elicited.isError, undefined);
      assert.match(textOf(elicited), /decline/i);
    } finally {
      await asker.close();
    }
  });

  // ev and evh list the same URIs and ev's file sorts first, so ev serves them (and hears
  // their subscribers); evh's turn comes once ev has been deleted, further down
  if (up === "ev") test("server-everything (stdio): resources/updated reaches a subscribed client", () => subscribedUpdates("ev"));
}

test("server-everything (stdio) to a 2026-07-28 client: the upstream's sampling request becomes input_required, and the retry replays the answer", async () => {
  const modern = await v2HttpClient(d.url, { modern: true });
  try {
    const r = await modern.client.callTool({ name: "ev__trigger-sampling-request", arguments: { prompt: "six times seven?" } });
    assert.match(textOf(r), /"text": "42"/);
    assert.deepEqual(modern.asked.map((a) => a.method), ["sampling/createMessage"]);
    assert.match(JSON.stringify(modern.asked[0].params), /six times seven/);
  } finally {
    await modern.close();
  }
});

test("server-everything (stdio): a killed child is restarted and serves again", async () => {
  const pid = (await state("ev")).upstream.pid as number;
  assert.ok(pid > 0 && alive(pid));
  process.kill(pid, "SIGKILL");
  const s = await waitFor("reconnected with a new child", async () => {
    const st = await state("ev");
    return st.upstream.state === "connected" && st.upstream.pid !== pid ? st : undefined;
  });
  assert.equal(s.upstream.restarts, 1);
  assert.match(s.upstream.lastExit, /exited/);
  assert.match(textOf(await c.client.callTool({ name: "ev__get-sum", arguments: { a: 1, b: 1 } })), /2/);
});

test("server-everything (Streamable HTTP): the server going away and coming back is reconnected", async () => {
  await stopChild(httpServer);
  const during = await c.client.callTool({ name: "evh__get-sum", arguments: { a: 1, b: 2 } }).catch((e) => ({ isError: true, content: [{ type: "text", text: String(e) }] }));
  assert.equal(during.isError, true);
  httpServer = await startEverythingHttp(httpPort);
  await waitFor("evh serves again", async () => {
    const r = await c.client.callTool({ name: "evh__get-sum", arguments: { a: 1, b: 2 } }).catch(() => undefined);
    return r && !r.isError && /3/.test(textOf(r)) ? true : undefined;
  }, 60_000, 200);
});

test("server-everything (stdio): editing the .mcp.json restarts the child with the new settings; deleting it unloads", async () => {
  const env = async () => textOf(await c.client.callTool({ name: "ev__get-env", arguments: {} }));
  assert.match(await env(), /"PB_MARKER": "one"/);
  const pid = (await state("ev")).upstream.pid as number;
  writeFileSync(evFile, evConfig("two"));
  await waitFor("new env served", async () => /"PB_MARKER": "two"/.test(await env().catch(() => "")) || undefined);
  await waitFor("old child gone", () => !alive(pid) || undefined);
  const newPid = (await state("ev")).upstream.pid as number;
  rmSync(evFile);
  await waitFor("ev unloaded", async () => !(await toolNames()).some((n) => n.startsWith("ev__")) || undefined);
  assert.equal(await state("ev"), undefined);
  await waitFor("child gone after delete", () => !alive(newPid) || undefined);
});

test("server-everything (Streamable HTTP): resources/updated reaches a subscribed client, now that it serves the URIs", () => subscribedUpdates("evh"));

test("server-filesystem (stdio) on a temporary folder: list, read and write through the relay", async () => {
  const names = await waitFor("fs tools", async () => {
    const n = await toolNames();
    return n.includes("fs__read_text_file") ? n : undefined;
  });
  for (const t of ["fs__list_directory", "fs__write_file"]) assert.ok(names.includes(t), t);
  const listing = await c.client.callTool({ name: "fs__list_directory", arguments: { path: shared } });
  assert.match(textOf(listing), /hello\.txt/);
  const read = await c.client.callTool({ name: "fs__read_text_file", arguments: { path: join(shared, "hello.txt") } });
  assert.match(textOf(read), /hello from the filesystem server/);
  const wrote = await c.client.callTool({ name: "fs__write_file", arguments: { path: join(shared, "new.txt"), content: "written via patchbay" } });
  assert.notEqual(wrote.isError, true, textOf(wrote));
  assert.equal(readFileSync(join(shared, "new.txt"), "utf8"), "written via patchbay");
  // outside its allowed folder the server itself refuses: the refusal comes back as a tool error
  const outside = await c.client.callTool({ name: "fs__read_text_file", arguments: { path: "/etc/hostname" } });
  assert.equal(outside.isError, true);
  assert.equal((await state("fs")).upstream.transport, "stdio");
});
