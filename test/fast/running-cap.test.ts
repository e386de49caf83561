/**
 * The limit on running plugins (maxRunningPlugins): a call that starts one plugin more than
 * the limit parks the least recently used idle one; plugins with a call in flight or
 * keepAlive are passed over. The idle period is long here, so only the limit parks anything.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { TempDir, waitFor } from "../helpers/env.ts";
import { startInProcessDaemon, type InProcessDaemon } from "../helpers/in-process.ts";
import { httpClient, textOf, type RecordingClient } from "../helpers/clients.ts";

const plugins = new TempDir("patchbay-cap-");
const marks = new TempDir("patchbay-cap-marks-");
const holdBegan = marks.join("hold-began");
const holdRelease = marks.join("hold-release");
let d: InProcessDaemon;
let c: RecordingClient;

const counter = (extra = "") => `let n = 0;
export default { ${extra} tools: { next: { handler: () => String(++n) } } };
`;

before(async () => {
  for (const name of ["a", "b", "c"]) plugins.file(`${name}.mjs`, counter());
  plugins.file("kept.mjs", counter("keepAlive: true,"));
  // hold says when it runs and ends only once the test lets it
  plugins.file(
    "slow.mjs",
    `import { writeFileSync, existsSync } from "node:fs";
export default { tools: { hold: { handler: () => new Promise((r) => {
  writeFileSync(${JSON.stringify(holdBegan)}, "");
  const t = setInterval(() => existsSync(${JSON.stringify(holdRelease)}) && (clearInterval(t), r("held")), 20);
}) } } };
`,
  );
  d = await startInProcessDaemon({ plugins: plugins.path, env: { PATCHBAY_WORKER_IDLE_MS: "600000", PATCHBAY_MAX_RUNNING_PLUGINS: "3" } });
  c = await httpClient(d.url);
});
after(async () => {
  await c?.close();
  await d?.stop();
  plugins.cleanup();
  marks.cleanup();
});

const next = async (name: string) => textOf(await c.client.callTool({ name: `${name}__next`, arguments: {} }));
const workers = async () => Object.fromEntries(((await d.health()).plugins as { name: string; worker: string }[]).map((p) => [p.name, p.worker]));
const parked = (name: string) => waitFor(`${name} parked`, async () => (await workers())[name] === "parked" || undefined);

// `kept` (keepAlive) runs all the time and counts against the limit of 3: two others may run beside it.

test("starting a plugin beyond the limit parks the least recently used one; the others keep their state", async () => {
  for (const n of ["a", "b", "c", "slow"]) await parked(n);
  assert.equal((await workers()).kept, "running");
  assert.equal(await next("a"), "1");
  assert.equal(await next("b"), "1");
  assert.equal(await next("a"), "2");
  // a was used after b: starting c parks b
  assert.equal(await next("c"), "1");
  await parked("b");
  let w = await workers();
  assert.equal(w.a, "running");
  assert.equal(w.c, "running");
  assert.equal(w.kept, "running");
  assert.equal(await next("a"), "3", "a kept running, with its state");
  // b starts again with fresh state, and c (now the least recent) is parked
  assert.equal(await next("b"), "1");
  await parked("c");
  w = await workers();
  assert.equal(w.a, "running");
  assert.equal(w.b, "running");
});

test("plugins with a call in flight or keepAlive are passed over", async () => {
  // kept is the least recently used of all; a call to slow is running while a, c and b start
  const held = c.client.callTool({ name: "slow__hold", arguments: {} });
  await waitFor("slow's call running", () => existsSync(holdBegan) || undefined);
  await next("a");
  await next("c");
  await next("b");
  const w = await workers();
  assert.equal(w.kept, "running", "keepAlive is never parked for the limit");
  assert.equal(w.slow, "running", "a plugin answering a call is not parked under it");
  assert.equal(w.b, "running");
  // each start parked the least recently used idle one: a, then c
  await parked("a");
  await parked("c");
  writeFileSync(holdRelease, "");
  assert.equal(textOf(await held), "held");
});
