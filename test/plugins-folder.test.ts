/**
 * What the plugins folder may hold and what may happen to it (issue 21, items 4 and 10):
 * - a FIFO (or other non-regular file) named like a plugin is never opened — at start it
 *   does not keep the daemon from listening or loading, added at run time it does not stay
 *   "loading": it is shown as "skipped" with "not a regular file"; a FIFO a plugin imports
 *   fails that plugin's compile instead of blocking it;
 * - the folder deleted and made again, or another folder moved into its place, is watched
 *   and loaded again; while it is missing /healthz says "degraded" with the reason, and
 *   `patchbay status` says so too.
 * (Made unreadable with chmod 000 and readable again is handled the same way — the last
 * loaded versions keep serving meanwhile — but cannot be tested as root, where mode 000
 * does not stop reading.)
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { CLI, TempDir, waitFor } from "./helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "./helpers/daemon.ts";
import { httpClient, textOf, type RecordingClient } from "./helpers/clients.ts";

const dir = new TempDir("patchbay-folder-");
const daemons: RunningDaemon[] = [];
const clients: RecordingClient[] = [];
after(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  for (const d of daemons) await d.stop().catch(() => undefined);
  dir.cleanup();
});

const quick = (word: string) => `export default { tools: { say: { handler: () => ${JSON.stringify(word)} } } };\n`;
const mkfifo = (path: string) => execFileSync("mkfifo", [path]);

async function health(d: RunningDaemon) {
  return (await (await fetch(`${d.url}/healthz`)).json()) as any;
}
const plugin = (h: any, name: string) => h.plugins.find((p: any) => p.name === name);

test("a FIFO named like a plugin, present at start: the daemon listens and loads the rest; the FIFO is skipped as not a regular file", async () => {
  const plugins = dir.join("fifo-start");
  dir.file("fifo-start/good.mjs", quick("good"));
  dir.file("fifo-start/uses-pipe.mjs", `import "./helper-pipe.mjs";\nexport default { tools: { x: { handler: () => "x" } } };\n`);
  mkfifo(dir.join("fifo-start/pipe.mjs"));
  mkfifo(dir.join("fifo-start/helper-pipe.mjs"));
  mkfifo(dir.join("fifo-start/remote.mcp.json"));
  // the helper waits until every plugin has loaded or failed: a blocked open would hang it
  const d = await startDaemonProcess({ plugins });
  daemons.push(d);
  const h = await health(d);
  assert.equal(h.ready, true);
  assert.equal(plugin(h, "good").status, "loaded");
  for (const name of ["pipe", "remote"]) {
    assert.equal(plugin(h, name).status, "skipped", name);
    assert.match(plugin(h, name).lastError.message, /is not a regular file \(it is a named pipe \(FIFO\)\); skipped/, name);
  }
  // helper-pipe.mjs is a plugin entry too (skipped); the plugin importing it fails to compile, it does not block
  assert.equal(plugin(h, "helper-pipe").status, "skipped");
  assert.equal(plugin(h, "uses-pipe").status, "error");
  assert.match(plugin(h, "uses-pipe").lastError.message, /helper-pipe\.mjs is not a regular file/);
  assert.equal(h.counts.skipped, 3);
  // skipped files are not errors: only uses-pipe failed
  assert.equal(h.counts.errors, 1);
  const c = await httpClient(d.url);
  clients.push(c);
  assert.equal(textOf(await c.client.callTool({ name: "good__say", arguments: {} })), "good");
  // the dashboard API shows the same status
  const overview = (await (await fetch(`${d.url}/api/overview`)).json()) as any;
  assert.equal(overview.plugins.find((p: any) => p.name === "pipe").status, "skipped");
});

test("a FIFO added at run time is skipped, not left loading; replacing it with a file loads the plugin", async () => {
  const plugins = dir.join("fifo-run");
  dir.file("fifo-run/good.mjs", quick("good"));
  const d = await startDaemonProcess({ plugins });
  daemons.push(d);
  mkfifo(dir.join("fifo-run/late.mjs"));
  const skipped = await waitFor("late skipped", async () => {
    const p = plugin(await health(d), "late");
    return p?.status === "skipped" ? p : undefined;
  });
  assert.match(skipped.lastError.message, /not a regular file/);
  const h = await health(d);
  assert.equal(h.counts.loading, 0);
  assert.equal(h.ready, true);
  // the daemon still reloads other plugins
  writeFileSync(dir.join("fifo-run/good.mjs"), quick("better"));
  const c = await httpClient(d.url);
  clients.push(c);
  await waitFor("good reloaded", async () => textOf(await c.client.callTool({ name: "good__say", arguments: {} })) === "better" || undefined);
  rmSync(dir.join("fifo-run/late.mjs"));
  writeFileSync(dir.join("fifo-run/late.mjs"), quick("late"));
  await waitFor("late loaded", async () => plugin(await health(d), "late")?.status === "loaded" || undefined);
  assert.equal(textOf(await c.client.callTool({ name: "late__say", arguments: {} })), "late");
});

function status(home: string): string {
  const r = spawnSync(process.execPath, [CLI, "status"], { env: { ...process.env, PATCHBAY_HOME: home }, encoding: "utf8" });
  return r.stdout + r.stderr;
}

test("the plugins folder deleted and made again: degraded while missing (healthz, status), loaded again when it is back", async () => {
  const plugins = dir.join("gone", "plugins");
  dir.file("gone/plugins/first.mjs", quick("first"));
  const d = await startDaemonProcess({ plugins });
  daemons.push(d);
  const c = await httpClient(d.url);
  clients.push(c);
  assert.equal(textOf(await c.client.callTool({ name: "first__say", arguments: {} })), "first");

  rmSync(plugins, { recursive: true, force: true });
  const missing = await waitFor("degraded", async () => {
    const h = await health(d);
    return h.status === "degraded" && h.counts.plugins === 0 ? h : undefined;
  });
  assert.equal(missing.ready, false);
  assert.equal(missing.pluginsFolder.state, "missing");
  assert.match(missing.reason, /does not exist/);
  assert.equal(missing.counts.tools, 0);
  assert.match(status(d.home), /Plugins folder: .*MISSING.*does not exist/s);

  mkdirSync(plugins);
  writeFileSync(`${plugins}/second.mjs`, quick("second"));
  const back = await waitFor("back", async () => {
    const h = await health(d);
    return h.status === "ok" && plugin(h, "second")?.status === "loaded" ? h : undefined;
  });
  assert.equal(back.pluginsFolder.state, "ok");
  assert.equal(back.ready, true);
  assert.equal(textOf(await c.client.callTool({ name: "second__say", arguments: {} })), "second");
  // and it is watched again: a file added now loads
  writeFileSync(`${plugins}/third.mjs`, quick("third"));
  await waitFor("third loaded", async () => plugin(await health(d), "third")?.status === "loaded" || undefined);
  assert.doesNotMatch(status(d.home), /MISSING/);
});

test("another folder moved into place (the old one moved away): its plugins replace the old ones", async () => {
  const plugins = dir.join("swap", "plugins");
  dir.file("swap/plugins/old.mjs", quick("old"));
  const d = await startDaemonProcess({ plugins });
  daemons.push(d);
  assert.equal(plugin(await health(d), "old").status, "loaded");

  // moved away: missing, its plugins unloaded (even if the watcher heard nothing of the files)
  renameSync(plugins, dir.join("swap", "plugins.old"));
  await waitFor("missing", async () => {
    const h = await health(d);
    return (h.pluginsFolder.state === "missing" && h.counts.plugins === 0) || undefined;
  });
  dir.file("swap/staging/new.mjs", quick("new"));
  renameSync(dir.join("swap", "staging"), plugins);
  const h = await waitFor("new loaded", async () => {
    const b = await health(d);
    return b.status === "ok" && plugin(b, "new")?.status === "loaded" ? b : undefined;
  });
  assert.equal(plugin(h, "old"), undefined);

  // swapped in one go while present (rename away, rename in, no pause): another folder is noticed too
  dir.file("swap/next/newer.mjs", quick("newer"));
  renameSync(plugins, dir.join("swap", "plugins.prev"));
  renameSync(dir.join("swap", "next"), plugins);
  await waitFor("newer loaded, new gone", async () => {
    const b = await health(d);
    return (plugin(b, "newer")?.status === "loaded" && !plugin(b, "new")) || undefined;
  });
  const c = await httpClient(d.url);
  clients.push(c);
  assert.equal(textOf(await c.client.callTool({ name: "newer__say", arguments: {} })), "newer");
});
