/**
 * Start-up does not wait for plugins (issue 21, item 3): the daemon listens while its plugins
 * load, /healthz says which still load (status "loading", ready false, `?ready` 503), clients
 * get list_changed as they arrive, one plugin that never finishes loading holds up neither the
 * daemon nor the other plugins, and `patchbay stdio --standalone` answers initialize before
 * its plugins have loaded.
 *
 * Nothing here depends on how fast the machine is: a "held" plugin's module does not finish
 * loading until the test creates its release file, so "still loading" is a state the test
 * holds, not a race it hopes to win.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { TempDir, waitFor } from "./helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "./helpers/daemon.ts";
import { httpClient, stdioClient, textOf, type RecordingClient } from "./helpers/clients.ts";

const dir = new TempDir("patchbay-startup-");
const daemons: RunningDaemon[] = [];
const clients: RecordingClient[] = [];
after(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  for (const d of daemons) await d.stop().catch(() => undefined);
  dir.cleanup();
});

/** A plugin whose module finishes loading only once `release` exists (top-level await). */
const held = (release: string, word = "held") => `import { existsSync } from "node:fs";
while (!existsSync(${JSON.stringify(release)})) await new Promise((r) => setTimeout(r, 20));
export default { tools: { say: { handler: () => ${JSON.stringify(word)} } } };
`;
const quick = (word: string) => `export default { tools: { say: { handler: () => ${JSON.stringify(word)} } } };\n`;

const plugin = (h: any, name: string) => h.plugins.find((p: any) => p.name === name);
async function health(d: RunningDaemon, query = "") {
  const res = await fetch(`${d.url}/healthz${query}`);
  return { code: res.status, body: (await res.json()) as any };
}

test("listens while a plugin is still loading: /healthz says so, the others serve, list_changed brings the late one", async () => {
  const plugins = dir.join("one-held");
  const release = dir.join("one-held.release");
  dir.file("one-held/late.mjs", held(release, "late"));
  dir.file("one-held/early.mjs", quick("early"));
  const d = await startDaemonProcess({ plugins, waitForPlugins: false });
  daemons.push(d);
  // alive (200) but not ready: the held plugin cannot have loaded
  const during = await waitFor("early loaded", async () => {
    const h = await health(d);
    return h.body.plugins.find((p: any) => p.name === "early")?.status === "loaded" ? h : undefined;
  });
  assert.equal(during.code, 200, "liveness: the daemon is up while plugins load");
  assert.equal(during.body.status, "loading");
  assert.equal(during.body.ready, false);
  assert.deepEqual(during.body.loading, ["late"]);
  assert.equal(during.body.counts.loading, 1);
  assert.match(during.body.reason, /1 plugin still loading \(late\)/);
  assert.equal(during.body.plugins.find((p: any) => p.name === "late").status, "loading");
  assert.equal((await health(d, "?ready")).code, 503, "readiness probe: not ready while a plugin loads");

  const c = await httpClient(d.url);
  clients.push(c);
  // a call to a tool already served answers at once; a listing waits a while for the load,
  // then lists what has loaded (the held plugin cannot load before the release file exists)
  assert.equal(textOf(await c.client.callTool({ name: "early__say", arguments: {} })), "early");
  const listed = (await c.client.listTools()).tools.map((t) => t.name);
  assert.deepEqual(listed, ["early__say"]);

  const n = c.count("notifications/tools/list_changed");
  writeFileSync(release, "");
  await c.waitNotification("notifications/tools/list_changed", n + 1);
  assert.deepEqual((await c.client.listTools()).tools.map((t) => t.name).sort(), ["early__say", "late__say"]);
  assert.equal(textOf(await c.client.callTool({ name: "late__say", arguments: {} })), "late");
  const done = await waitFor("ready", async () => ((await health(d)).body.ready ? health(d) : undefined));
  assert.equal(done.body.status, "ok");
  assert.equal(done.body.startup.done, true);
  assert.equal(done.body.counts.loading, 0);
  assert.equal((await health(d, "?ready")).code, 200);
});

test("plugins that never finish loading hold up neither listening nor the rest of the folder; each fails at its own deadline", async () => {
  const plugins = dir.join("many-held");
  const never = dir.join("never.release");
  // more held plugins than loads may run at once (4 to 16), all sorted before the quick one
  for (let i = 0; i < 20; i++) dir.file(`many-held/a${String(i).padStart(2, "0")}.mjs`, held(never));
  dir.file("many-held/zz.mjs", quick("zz"));
  const d = await startDaemonProcess({ plugins, waitForPlugins: false, env: { PATCHBAY_CALL_TIMEOUT_MS: "30000" } });
  daemons.push(d);
  const c = await httpClient(d.url);
  clients.push(c);
  // the quick one loads while held ones still load (a held load gives up its place in the
  // queue after 2 s; the first of them reach their 30 s deadline long after the last began)
  await waitFor("zz loaded", async () => (await health(d)).body.plugins.find((p: any) => p.name === "zz")?.status === "loaded" || undefined, 60_000);
  const h = (await health(d)).body;
  assert.ok(h.counts.loading > 0, `zz loaded only after every held plugin had failed (${h.counts.loading} loading)`);
  assert.equal(h.status, "loading");
  assert.equal(textOf(await c.client.callTool({ name: "zz__say", arguments: {} })), "zz");
  // each held plugin fails once its own load deadline (the call timeout) has passed
  const settled = await waitFor("held plugins failed", async () => {
    const b = (await health(d)).body;
    return b.startup.done && b.counts.loading === 0 ? b : undefined;
  }, 120_000, 200);
  const failed = settled.plugins.filter((p: any) => p.status === "error");
  assert.equal(failed.length, 20);
  for (const p of failed) assert.match(p.lastError.message, /loading took longer than 30000 ms/);
  assert.equal(settled.ready, true, "ready: nothing is loading any more (failures are reported, not waited for)");
});

test("stdio --standalone answers initialize before its plugins have loaded; its first listing has them", async () => {
  const plugins = dir.join("stdio-held");
  const release = dir.join("stdio-held.release");
  dir.file("stdio-held/slowpoke.mjs", held(release, "slow"));
  const home = dir.join("stdio-home");
  // connect() resolves after initialize: the held plugin cannot have loaded by then
  const c = await stdioClient(["--standalone", "--plugins", plugins], { PATCHBAY_HOME: home });
  clients.push(c);
  assert.equal(c.client.getServerVersion()?.name, "patchbay");
  writeFileSync(release, "");
  // requests after initialize wait for the first load (transports/held-until-loaded.ts)
  await waitFor("slowpoke listed", async () => (await c.client.listTools()).tools.some((t) => t.name === "slowpoke__say") || undefined);
  assert.equal(textOf(await c.client.callTool({ name: "slowpoke__say", arguments: {} })), "slow");
});

test("a restart over unchanged plugins: bundles from the compile cache, parked ones listed without a thread; an edited one is compiled again", async () => {
  const plugins = dir.join("restart");
  const home = dir.join("restart-home");
  dir.file("restart/same.mjs", quick("same"));
  dir.file("restart/kept.mjs", `export default { keepAlive: true, tools: { say: { handler: () => "kept" } } };\n`);
  dir.file("restart/edited/index.mjs", `import { word } from "../shared/word.mjs";\nexport default { tools: { say: { handler: () => word } } };\n`);
  dir.file("restart/shared/word.mjs", `export const word = "one";\n`);
  const first = await startDaemonProcess({ plugins, home });
  daemons.push(first);
  // every plugin parks after its first load unless something keeps it up
  await waitFor("parked", async () => plugin((await health(first)).body, "same")?.worker === "parked" || undefined);
  await first.stop();

  // edited while the daemon was down: a helper only, so only its content says it changed
  writeFileSync(dir.join("restart/shared/word.mjs"), `export const word = "two";\n`);
  const second = await startDaemonProcess({ plugins, home });
  daemons.push(second);
  const h = (await health(second)).body;
  assert.equal(plugin(h, "same").worker, "parked", "listed from its last manifest, no thread started");
  assert.equal(plugin(h, "kept").worker, "running", "keepAlive: started as always");
  assert.match(second.stderr(), /"plugin":"same".*"cached":true.*"parked":true/);
  assert.match(second.stderr(), /"plugin":"edited".*"cached":false/);
  const c = await httpClient(second.url);
  clients.push(c);
  assert.equal(textOf(await c.client.callTool({ name: "same__say", arguments: {} })), "same", "its first call starts it");
  assert.equal(textOf(await c.client.callTool({ name: "edited__say", arguments: {} })), "two");
});
