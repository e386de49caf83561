/**
 * Worker groups (config `workerGroups`): plugins that opted in share one worker thread, the
 * others keep a thread each. A reload of one member leaves the others' state alone; a crash
 * or a loop in one member restarts the whole group (its members share fate) and nobody
 * else; members are never parked. Driven through a real daemon process and SDK client.
 *
 * `solo` (a thread of its own, kept alive) is the bystander whose state must survive the
 * group's restarts; `lone` (a thread of its own, parked after 200 ms idle) shows parking.
 * They are two plugins so that how long a restart takes on a busy machine cannot park the
 * bystander (parking, by design, drops module state) and make it look "touched".
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { CLI, TempDir, waitFor } from "./helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "./helpers/daemon.ts";
import { httpClient, textOf, type RecordingClient } from "./helpers/clients.ts";

const plugins = new TempDir("patchbay-groups-");
const home = new TempDir("patchbay-groups-home-");
let d: RunningDaemon;
let c: RecordingClient;

/** A plugin whose tools tell its thread, count calls, crash the thread, or loop forever. */
const member = (tag: string) => `import { threadId } from "node:worker_threads";
let n = 0;
export default { tools: {
  thread: { handler: () => String(threadId) },
  next: { handler: () => "${tag}" + String(++n) },
  crash: { handler: () => { setTimeout(() => process.exit(3), 0); return "bye"; } },
  spin: { handler: () => { for (;;) {} } },
} };
`;

before(async () => {
  plugins.file("ga.mjs", member("a"));
  plugins.file("gb.mjs", member("b"));
  plugins.file("solo.mjs", member("s"));
  plugins.file("lone.mjs", member("l"));
  // callTimeoutMs is also every load's deadline: several seconds, so that only `spin` (which
  // never ends) can miss it, however busy the machine
  const config = home.file("patchbay.json", JSON.stringify({ workerGroups: { small: ["g*"] }, keepAlivePlugins: ["solo"], callTimeoutMs: 5000, workerIdleMs: 200 }));
  d = await startDaemonProcess({ plugins: plugins.path, args: ["--config", config] });
  c = await httpClient(d.url);
});
after(async () => {
  await c?.close();
  await d?.stop();
  plugins.cleanup();
  home.cleanup();
});

const call = async (name: string) => textOf(await c.client.callTool({ name, arguments: {} }));
const states = async () => Object.fromEntries(((await d.health()).plugins as { name: string; worker: string; workerGroup?: string; restarts: number }[]).map((p) => [p.name, p]));

test("members of a group share one thread; a plugin outside it has its own", async () => {
  const [a, b, s, l] = [await call("ga__thread"), await call("gb__thread"), await call("solo__thread"), await call("lone__thread")];
  assert.equal(a, b, "ga and gb run in the same thread");
  assert.notEqual(a, s, "solo runs in a thread of its own");
  assert.notEqual(a, l, "lone runs in a thread of its own");
  assert.notEqual(s, l);
  const st = await states();
  assert.equal(st.ga.workerGroup, "small");
  assert.equal(st.gb.workerGroup, "small");
  assert.equal(st.solo.workerGroup, undefined);
  assert.equal(st.lone.workerGroup, undefined);
});

test("members are not parked when idle; a plugin of its own is; `patchbay status` says which is which", async () => {
  await call("ga__next");
  await waitFor("lone parked", async () => (await states()).lone.worker === "parked" || undefined);
  const st = await states();
  assert.equal(st.ga.worker, "running");
  assert.equal(st.gb.worker, "running");
  assert.equal(st.solo.worker, "running", "kept alive by keepAlivePlugins");
  // not spawnSync: a test process blocked for longer than the server's keep-alive (5 s, which
  // `status` takes on a busy machine) cannot close its idle connection in time, and the
  // client's next request goes out on a socket the server has closed ("fetch failed")
  const status = await promisify(execFile)(process.execPath, [CLI, "status"], { env: { ...process.env, PATCHBAY_HOME: d.home }, encoding: "utf8" });
  assert.match(status.stdout, /ga\s+loaded\s+v1 · worker group small/);
  assert.match(status.stdout, /lone\s+loaded\s+v1 · parked/);
});

test("reloading one member keeps the other's state and thread", async () => {
  const before = await call("gb__thread");
  const bCount = Number((await call("gb__next")).slice(1));
  plugins.file("ga.mjs", member("A"));
  await waitFor("ga reloaded", async () => ((await call("ga__next")).startsWith("A") ? true : undefined));
  assert.equal(await call("gb__next"), `b${bCount + 1}`, "gb kept its module state");
  assert.equal(await call("gb__thread"), before, "gb still runs in the same thread");
  assert.equal(await call("ga__thread"), before, "the new ga version joined the group's thread");
});

test("a member that crashes the thread restarts the whole group; the others are untouched", async () => {
  const groupThread = await call("ga__thread");
  const soloThread = await call("solo__thread");
  const solo = await call("solo__next");
  await call("gb__next");
  // it answers, then ends the thread: the answer arrives all the same
  assert.equal(await call("ga__crash"), "bye");
  const fresh = await waitFor("group restarted", async () => {
    // while the group restarts, calls fail (a tool error naming the restart)
    const t = await call("gb__thread").catch(() => undefined);
    return t && /^\d+$/.test(t) && t !== groupThread ? t : undefined;
  });
  assert.equal(await call("gb__next"), "b1", "gb restarted with fresh state: it shares the crash");
  assert.equal(await call("ga__thread"), fresh, "both restarted into one new thread");
  assert.equal(await call("solo__next"), `s${Number(solo.slice(1)) + 1}`, "solo was not touched: its module state");
  assert.equal(await call("solo__thread"), soloThread, "solo was not touched: its thread");
  const st = await states();
  assert.ok(st.ga.restarts >= 1 && st.gb.restarts >= 1, "both count a restart");
  assert.equal(st.solo.restarts, 0, "solo was not restarted");
});

test("a member stuck in a loop is cut off with its group, which serves again", async () => {
  const groupThread = await call("ga__thread");
  const r = await c.client.callTool({ name: "ga__spin", arguments: {} }).then(
    (x) => x,
    (e: Error) => e,
  );
  assert.ok(r instanceof Error || (r as { isError?: boolean }).isError, "the looping call fails");
  const fresh = await waitFor("group serves again", async () => {
    // while the group restarts, calls fail (a tool error naming the restart)
    const t = await call("gb__thread").catch(() => undefined);
    return t && /^\d+$/.test(t) && t !== groupThread ? t : undefined;
  });
  assert.equal(await call("ga__thread"), fresh);
  assert.match(await call("ga__next"), /^A\d+$/);
});

test("the heap gauge marks a member's (shared) heap with its group", async () => {
  const text = await (await fetch(`${d.url}/metrics`)).text();
  const heap = text.split("\n").filter((l) => l.startsWith("patchbay_plugin_worker_heap"));
  assert.ok(heap.some((l) => l.includes('patchbay_plugin_name="ga"') && l.includes('patchbay_worker_group="small"')), heap.join("\n"));
  assert.ok(heap.some((l) => l.includes('patchbay_plugin_name="solo"') && !l.includes("patchbay_worker_group")), heap.join("\n"));
});
