/**
 * One failing plugin never stops the host: throws, hangs, exits — each call fails cleanly,
 * other plugins keep answering, the bad worker is restarted.
 *
 * The call timeout (also the deadline of every load, restarts included) is 5 s: only a
 * handler that never ends misses it, however busy the machine. Handlers that a test cancels
 * leave a mark in their data folder when they begin, and the test cancels once it is there.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { TempDir, waitFor } from "./helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "./helpers/daemon.ts";
import { httpClient, textOf, type RecordingClient } from "./helpers/clients.ts";

const plugins = new TempDir("patchbay-faults-");
const CALL_TIMEOUT_MS = 5_000;
let d: RunningDaemon;
let c: RecordingClient;

before(async () => {
  plugins.file(
    "faulty.ts",
    `import { definePlugin, z } from "mcp-patchbay";
import { writeFileSync } from "node:fs";
export default definePlugin({
  tools: {
    throws: { handler: () => { throw new Error("kaput: the handler failed"); } },
    loop: { description: "sync infinite loop", handler: (_a, ctx) => { writeFileSync(ctx.dataDir + "/began-loop", ""); for (;;) {} } },
    exit: { handler: () => { process.exit(3); } },
    ok: { input: { n: z.number() }, handler: ({ n }) => \`fine \${n}\` },
    noisy: { handler: () => { console.log("plugin stdout line"); return "quiet"; } },
    wait: {
      description: "waits until cancelled, then leaves a mark in its data folder",
      handler: (_a, ctx) => {
        writeFileSync(ctx.dataDir + "/began-wait", "");
        return new Promise((resolve) => ctx.signal.addEventListener("abort", () => {
          writeFileSync(ctx.dataDir + "/aborted.txt", String(ctx.signal.reason));
          resolve("aborted");
        }));
      },
    },
    stops: {
      description: "waits until cancelled, then ends",
      handler: (_a, ctx) => {
        writeFileSync(ctx.dataDir + "/began-stops", "");
        return new Promise((resolve) => ctx.signal.addEventListener("abort", () => resolve("stopped")));
      },
    },
    leak: { description: "allocates until the worker's heap limit", handler: () => { const keep = []; for (;;) keep.push(new Array(1e5).fill(Math.random())); } },
  },
});
`,
  );
  plugins.file("other.mjs", `export default { tools: { ping: { handler: () => "pong" } } };\n`);
  d = await startDaemonProcess({ plugins: plugins.path, env: { PATCHBAY_CALL_TIMEOUT_MS: String(CALL_TIMEOUT_MS), PATCHBAY_WORKER_HEAP_MB: "48" } });
  c = await httpClient(d.url);
});
after(async () => {
  await c?.close();
  await d?.stop();
  plugins.cleanup();
});

const call = (name: string, args: Record<string, unknown> = {}) => c.client.callTool({ name, arguments: args });
/** Forgets that `tool` of faulty began, so the next mark is the next call's. */
const forgetBegan = (tool: string) => rmSync(`${d.home}/data/faulty/began-${tool}`, { force: true });
/** Waits until a call of `tool` of faulty is running (its handler left its mark). */
const began = (tool: string) => waitFor(`faulty__${tool} running`, () => existsSync(`${d.home}/data/faulty/began-${tool}`) || undefined, 30_000);
const restartsOf = async (name: string) => (await d.health()).plugins.find((p: any) => p.name === name).restarts as number;

test("a handler that throws gives an isError result with its message", async () => {
  const r = await call("faulty__throws");
  assert.equal(r.isError, true);
  assert.equal(textOf(r), "kaput: the handler failed");
});

test("invalid arguments give an isError result with the validation message", async () => {
  const r = await call("faulty__ok", { n: "seven" });
  assert.equal(r.isError, true);
  assert.match(textOf(r), /Invalid arguments for tool ok: n: .*number/);
});

test("unknown tool is JSON-RPC error -32602", async () => {
  await assert.rejects(call("faulty__missing"), (e: any) => e.code === -32602 && /Unknown tool/.test(e.message));
});

test("plugin console output goes to the log, not to a client or stdout", async () => {
  assert.equal(textOf(await call("faulty__noisy")), "quiet");
  await waitFor("log line", () => d.stderr().includes("plugin stdout line") || undefined);
  assert.ok(!d.stdout().includes("plugin stdout line"));
});

test("a sync infinite loop: that call times out, other plugins answer, the worker is restarted", async () => {
  const before = await restartsOf("faulty");
  const stuck = call("faulty__loop");
  // while the faulty worker spins, another plugin keeps answering
  assert.equal(textOf(await call("other__ping")), "pong");
  const r = await stuck;
  assert.equal(r.isError, true);
  assert.match(textOf(r), new RegExp(`did not answer within ${CALL_TIMEOUT_MS} ms`));
  await waitFor("restart", async () => ((await restartsOf("faulty")) > before) || undefined);
  assert.equal(textOf(await call("faulty__ok", { n: 1 })), "fine 1");
  assert.match(d.stderr(), /plugin worker is stuck; restarting it/);
});

test("a healthy call that arrives while a stuck worker is probed waits for the restarted worker", async () => {
  const before = await restartsOf("faulty");
  const stuck = await call("faulty__loop");
  assert.match(textOf(stuck), new RegExp(`did not answer within ${CALL_TIMEOUT_MS} ms`));
  // The worker is being probed now (a loop answers no ping): this call must not be queued
  // behind the loop and fail with it ("worker restarted: stuck"), but run on the fresh thread.
  const healthy = await call("faulty__ok", { n: 4 });
  assert.notEqual(healthy.isError, true, textOf(healthy));
  assert.equal(textOf(healthy), "fine 4");
  assert.ok((await restartsOf("faulty")) > before, "the stuck worker was restarted");
});

/** Calls faulty's `tool`, and cancels the call once it runs, as a client whose user gave up. */
async function callThenCancel(tool: string) {
  const ac = new AbortController();
  forgetBegan(tool);
  const running = c.client.callTool({ name: `faulty__${tool}`, arguments: {} }, undefined, { signal: ac.signal });
  await began(tool);
  ac.abort("the user gave up");
  await assert.rejects(running);
}

test("a cancelled call stuck in a sync loop: the thread is found stuck at the call's own deadline and restarted, with no later call needed", async () => {
  const before = await restartsOf("faulty");
  await callThenCancel("loop");
  // nobody calls the plugin: the cancelled call's deadline reveals the loop
  await waitFor("restart after the cancelled call's deadline", async () => ((await restartsOf("faulty")) > before) || undefined);
  assert.match(d.stderr(), /a cancelled call did not end by its timeout/);
  assert.equal(textOf(await call("faulty__ok", { n: 5 })), "fine 5");
});

test("a cancelled call that ends when told to costs no restart, and the plugin answers at once", async () => {
  const before = await restartsOf("faulty");
  await callThenCancel("stops");
  assert.equal(textOf(await call("faulty__ok", { n: 6 })), "fine 6");
  // Past the cancelled call's deadline: still no restart. (A wait for something not to
  // happen: a busy machine can only make this pass wrongly, never fail wrongly.)
  await new Promise((r) => setTimeout(r, CALL_TIMEOUT_MS + 500));
  assert.equal(await restartsOf("faulty"), before);
});

test("process.exit in a plugin: the call fails clearly, it is reported and restarted", async () => {
  const before = await restartsOf("faulty");
  const r = await call("faulty__exit");
  assert.equal(r.isError, true);
  assert.match(textOf(r), /worker restarted: worker exited with code 3/);
  await waitFor("restart", async () => ((await restartsOf("faulty")) > before) || undefined);
  assert.equal(textOf(await call("faulty__ok", { n: 2 })), "fine 2");
  assert.equal(textOf(await call("other__ping")), "pong");
  assert.match(d.stderr(), /plugin worker exited unexpectedly/);
});

test("a plugin that exhausts its heap limit: the call fails, the daemon lives, the worker is restarted", async () => {
  const before = await restartsOf("faulty");
  const r = await call("faulty__leak");
  assert.equal(r.isError, true);
  assert.match(textOf(r), /worker restarted|did not answer/);
  await waitFor("restart", async () => ((await restartsOf("faulty")) > before) || undefined);
  assert.equal(textOf(await call("faulty__ok", { n: 3 })), "fine 3");
  assert.equal(textOf(await call("other__ping")), "pong");
});

test("closing a session aborts the plugin calls it had in flight", async () => {
  const other = await httpClient(d.url);
  forgetBegan("wait");
  const pending = other.client.callTool({ name: "faulty__wait", arguments: {} }).catch(() => "rejected");
  await began("wait");
  await (other.client.transport as any).terminateSession();
  await other.close();
  await pending;
  // the plugin's thread may be between creating the file and writing it: wait for the text
  const mark = await waitFor("abort mark", () => (existsSync(`${d.home}/data/faulty/aborted.txt`) ? readFileSync(`${d.home}/data/faulty/aborted.txt`, "utf8") || undefined : undefined));
  assert.match(mark, /cancel/);
});

test("the session survives all of it", async () => {
  assert.deepEqual(await c.client.ping(), {});
  const health = await d.health();
  assert.equal(health.plugins.every((p: any) => p.status === "loaded"), true);
});
