/**
 * Idle parking: a plugin nobody calls holds no worker thread (/healthz `worker: "parked"`)
 * yet stays listed; a call starts it again with correct results; a crash in a woken plugin
 * leaves the others serving; hot reload works on a parked plugin; plugins that keep
 * background work, have subscribers or ask for keepAlive stay running.
 * A short idle period comes from PATCHBAY_WORKER_IDLE_MS; the keepAlivePlugins list from a
 * config file.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { TempDir, waitFor } from "../helpers/env.ts";
import { startInProcessDaemon, type InProcessDaemon } from "../helpers/in-process.ts";
import { httpClient, textOf, type RecordingClient } from "../helpers/clients.ts";

const plugins = new TempDir("patchbay-parking-");
const conf = new TempDir("patchbay-parking-conf-");
let d: InProcessDaemon;
let c: RecordingClient;

const LIST = "notifications/tools/list_changed";
const UPDATED = "notifications/resources/updated";

const counter = (extra = "") => `let n = 0;
export default { ${extra} tools: { next: { handler: () => String(++n) } } };
`;

before(async () => {
  plugins.file("calc.ts", `import { definePlugin, z } from "mcp-patchbay";
export default definePlugin({
  tools: { add: { input: { a: z.number(), b: z.number() }, handler: ({ a, b }) => ({ sum: a + b }) } },
});
`);
  plugins.file("other.mjs", `export default { tools: { ping: { handler: () => "pong" } } };\n`);
  plugins.file("crashy.mjs", `export default { tools: { exit: { handler: () => { process.exit(7); } }, ok: { handler: () => "still here" } } };\n`);
  // hold: a call that ends once the test lets it; while it runs the plugin cannot be parked
  plugins.file(
    "counter.mjs",
    counter().replace(
      "tools: {",
      `tools: { hold: { handler: () => new Promise((r) => { writeFileSync(${JSON.stringify(conf.join("began-hold"))}, ""); const t = setInterval(() => existsSync(${JSON.stringify(conf.join("release-hold"))}) && (clearInterval(t), r("held")), 20); }) },`,
    ).replace("let n = 0;", `import { existsSync, writeFileSync } from "node:fs";\nlet n = 0;`),
  );
  plugins.file("kept.mjs", counter("keepAlive: true,"));
  plugins.file("pinned.mjs", counter());
  plugins.file("ticker.mjs", `let t;
export default {
  setup: () => { t = setInterval(() => {}, 60_000); },
  teardown: () => clearInterval(t),
  tools: { hi: { handler: () => "hi" } },
};
`);
  plugins.file("forced.mjs", `let t;
export default {
  keepAlive: false,
  setup: () => { t = setInterval(() => {}, 60_000); },
  tools: { hi: { handler: () => "forced" } },
};
`);
  plugins.file("pusher.mjs", `export default {
  resources: { "pusher://clock": { read: () => String(Date.now()) } },
  tools: {
    start: { handler: (_a, ctx) => { setInterval(() => ctx.resourceUpdated("pusher://clock"), 50).unref(); return "started"; } },
  },
};
`);
  plugins.file("life.mjs", `import { appendFileSync } from "node:fs";
let dir;
export default {
  setup: (ctx) => { dir = ctx.dataDir; appendFileSync(dir + "/events.log", "setup\\n"); },
  teardown: () => appendFileSync(dir + "/events.log", "teardown\\n"),
  tools: { v: { handler: () => "v" } },
};
`);
  plugins.file("moody.mjs", `import { existsSync } from "node:fs";
export default {
  setup: (ctx) => { if (existsSync(ctx.dataDir + "/refuse")) throw new Error("refusing to start: marker present"); },
  tools: { ok: { handler: () => "started" } },
};
`);
  plugins.file("reloaded.ts", `export default { tools: { say: { handler: () => "one" } } };\n`);
  const config = conf.file("patchbay.json", JSON.stringify({ keepAlivePlugins: ["pinned"] }));
  d = await startInProcessDaemon({ plugins: plugins.path, config: { config }, env: { PATCHBAY_WORKER_IDLE_MS: "200" } });
  c = await httpClient(d.url);
});
after(async () => {
  await c?.close();
  await d?.stop();
  plugins.cleanup();
  conf.cleanup();
});

const call = (name: string, args: Record<string, unknown> = {}) => c.client.callTool({ name, arguments: args });
const plugin = async (name: string) => (await d.health()).plugins.find((p: any) => p.name === name);
const workerOf = async (name: string) => (await plugin(name))?.worker as string | undefined;
const parked = (name: string) => waitFor(`${name} parked`, async () => (await workerOf(name)) === "parked" || undefined);
const listed = async (name: string) => (await c.client.listTools()).tools.some((t) => t.name === name);

test("a plugin nobody calls is parked after loading, and its tools stay listed", async () => {
  await parked("calc");
  assert.ok(await listed("calc__add"));
  const p = await plugin("calc");
  assert.equal(p.status, "loaded");
  assert.equal(p.keptAliveBy, undefined);
});

test("the first call to a parked plugin starts it and returns the right result; idle again, it is parked again", async () => {
  await parked("calc");
  const r = await call("calc__add", { a: 2, b: 40 });
  assert.deepEqual(r.structuredContent, { sum: 42 });
  const again = await call("calc__add", { a: -1, b: 1 });
  assert.deepEqual(again.structuredContent, { sum: 0 });
  await parked("calc");
  assert.deepEqual((await call("calc__add", { a: 1, b: 1 })).structuredContent, { sum: 2 });
  // argument validation still happens in the woken worker
  await parked("calc");
  const bad = await call("calc__add", { a: "x", b: 1 });
  assert.equal(bad.isError, true);
  assert.match(textOf(bad), /Invalid arguments for tool add/);
});

test("module-level state lasts while the thread runs and is lost when the plugin is parked", async () => {
  await parked("counter");
  // a call in flight keeps the thread up, however long the calls take on a busy machine
  const held = call("counter__hold");
  await waitFor("the held call running", () => existsSync(conf.join("began-hold")) || undefined);
  assert.equal(textOf(await call("counter__next")), "1");
  assert.equal(textOf(await call("counter__next")), "2");
  writeFileSync(conf.join("release-hold"), "");
  assert.equal(textOf(await held), "held");
  await parked("counter");
  assert.equal(textOf(await call("counter__next")), "1");
});

test("keepAlive: true in the plugin, or keepAlivePlugins in the config, keeps the thread and its state", async () => {
  for (const name of ["kept", "pinned"]) {
    assert.equal(textOf(await call(`${name}__next`)), "1");
    const p = await plugin(name);
    assert.equal(p.worker, "running");
    assert.equal(p.keptAliveBy, name === "kept" ? "keepAlive: true" : "keepAlivePlugins (config)");
  }
  // idle periods pass for everyone meanwhile: another plugin parks twice
  for (let i = 0; i < 2; i++) {
    await call("other__ping");
    await parked("other");
  }
  assert.equal(textOf(await call("kept__next")), "2");
  assert.equal(textOf(await call("pinned__next")), "2");
  assert.equal(await workerOf("kept"), "running");
});

test("a plugin that keeps a timer running is not parked; keepAlive: false parks it anyway", async () => {
  await waitFor("ticker refused to park", () => /"plugin":"ticker"[^\n]*not parking it/.test(d.logs()) || undefined);
  const p = await plugin("ticker");
  assert.equal(p.worker, "running");
  assert.match(p.keptAliveBy, /background work: Timeout/);
  assert.equal(textOf(await call("ticker__hi")), "hi");
  await parked("forced");
  assert.equal(textOf(await call("forced__hi")), "forced");
});

test("a plugin with subscribers to its resources stays running and they keep hearing its background updates; without subscribers it is parked", async () => {
  await c.client.subscribeResource({ uri: "pusher://clock" });
  assert.equal(textOf(await call("pusher__start")), "started");
  const p = await waitFor("pusher kept alive", async () => {
    const s = await plugin("pusher");
    return s.keptAliveBy === "subscribers" ? s : undefined;
  });
  assert.equal(p.worker, "running");
  // 20 more updates span many idle periods: a parked plugin would have stopped sending
  await c.waitNotification(UPDATED, c.count(UPDATED) + 20);
  assert.equal(await workerOf("pusher"), "running");
  // its updates (from an unref'd timer) go to nobody now, so they do not keep it up
  await c.client.unsubscribeResource({ uri: "pusher://clock" });
  await parked("pusher");
});

test("setup runs each time a parked plugin starts, teardown each time it is parked", async () => {
  const log = () => (existsSync(`${d.home}/data/life/events.log`) ? readFileSync(`${d.home}/data/life/events.log`, "utf8") : "");
  await parked("life");
  assert.equal(log(), "setup\nteardown\n");
  assert.equal(textOf(await call("life__v")), "v");
  await parked("life");
  assert.equal(log(), "setup\nteardown\nsetup\nteardown\n");
});

test("a crash in a woken plugin fails that call; the others keep serving and it serves again", async () => {
  await parked("crashy");
  await parked("other");
  const before = (await plugin("crashy")).restarts;
  const r = await call("crashy__exit").catch((e: Error) => e);
  assert.match(r instanceof Error ? r.message : textOf(r), /exited|restarted/);
  assert.equal(textOf(await call("other__ping")), "pong");
  assert.deepEqual((await call("calc__add", { a: 3, b: 4 })).structuredContent, { sum: 7 });
  await waitFor("crashy restarted", async () => (await plugin("crashy")).restarts > before || undefined);
  assert.equal(textOf(await call("crashy__ok")), "still here");
  await parked("crashy");
  assert.equal(textOf(await call("crashy__ok")), "still here");
});

test("a parked plugin that fails to start again fails that call with the reason, stays listed, and starts on a later call", async () => {
  await parked("moody");
  writeFileSync(`${d.home}/data/moody/refuse`, "");
  const r = await call("moody__ok").catch((e: Error) => e);
  assert.match(r instanceof Error ? r.message : textOf(r), /could not be started again: .*refusing to start: marker present/);
  assert.match((await plugin("moody")).lastError.message, /refusing to start/);
  assert.ok(await listed("moody__ok"));
  assert.equal(textOf(await call("other__ping")), "pong");
  rmSync(`${d.home}/data/moody/refuse`);
  assert.equal(textOf(await call("moody__ok")), "started");
  assert.equal((await plugin("moody")).lastError, undefined);
});

test("hot reload of a parked plugin lists the new version, which serves the next call", async () => {
  await parked("reloaded");
  const v = (await plugin("reloaded")).version;
  const n = c.count(LIST);
  writeFileSync(plugins.join("reloaded.ts"), `export default { tools: { say: { handler: () => "two" }, extra: { handler: () => "new tool" } } };\n`);
  await c.waitNotification(LIST, n + 1);
  await waitFor("version 2", async () => (await plugin("reloaded")).version > v || undefined);
  assert.ok(await listed("reloaded__extra"));
  await parked("reloaded");
  assert.equal(textOf(await call("reloaded__say")), "two");
  assert.equal(textOf(await call("reloaded__extra")), "new tool");
});

test("a keepAlive that is not a boolean is a load error naming the field", async () => {
  plugins.file("badkeep.mjs", `export default { keepAlive: "yes", tools: { t: { handler: () => "t" } } };\n`);
  const p = await waitFor("badkeep error", async () => {
    const s = await plugin("badkeep");
    return s?.status === "error" ? s : undefined;
  });
  assert.match(p.lastError.message, /keepAlive: must be true or false/);
});
