/**
 * The in-process harness itself: a call goes through the real HTTP server into a real
 * plugin thread, and stop leaves nothing behind (threads, listening sockets, the temp home),
 * so a file of these tests can start as many daemons as it likes.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { TempDir, waitFor } from "../helpers/env.ts";
import { startInProcessDaemon } from "../helpers/in-process.ts";
import { httpClient, textOf } from "../helpers/clients.ts";

const plugins = new TempDir("patchbay-harness-");
after(() => plugins.cleanup());
plugins.file(
  "where.mjs",
  `import { isMainThread, threadId } from "node:worker_threads";
export default { tools: { where: { handler: () => JSON.stringify({ isMainThread, threadId, pid: process.pid }) } } };\n`,
);

/** this process's threads (Linux); undefined elsewhere */
const threads = () => (process.platform === "linux" ? readdirSync("/proc/self/task").length : undefined);
const listening = () => process.getActiveResourcesInfo().filter((r) => r === "TCPServerWrap").length;

test("a tools/call goes over HTTP into a plugin thread of this process", async () => {
  const d = await startInProcessDaemon({ plugins: plugins.path });
  try {
    const c = await httpClient(d.url);
    try {
      const where = JSON.parse(textOf(await c.client.callTool({ name: "where__where", arguments: {} })));
      assert.equal(where.pid, process.pid, "in-process: the plugin runs in the test's own process");
      assert.equal(where.isMainThread, false, "in its own thread");
      assert.ok(d.daemon.manager.workers().length > 0);
    } finally {
      await c.close();
    }
  } finally {
    await d.stop();
  }
});

test("stop closes the server, ends the plugin threads and removes the temp home", async () => {
  const threadsBefore = threads();
  const listeningBefore = listening();
  const d = await startInProcessDaemon({ plugins: plugins.path });
  const c = await httpClient(d.url);
  await c.client.callTool({ name: "where__where", arguments: {} });
  await c.close();
  assert.ok(threads() === undefined || threads()! > threadsBefore!, "a plugin thread runs");
  assert.equal(listening(), listeningBefore + 1, "one more listening socket");
  assert.ok(existsSync(d.home));

  await d.stop();
  assert.equal(listening(), listeningBefore, "its listening socket is closed");
  await assert.rejects(fetch(`${d.url}/healthz`), "nothing answers on its port");
  assert.equal(existsSync(d.home), false, "its temp home is gone");
  // a terminated worker's OS thread goes a moment after terminate() resolves
  if (threadsBefore !== undefined) await waitFor("the plugin threads to end", () => threads()! <= threadsBefore || undefined, 5_000);
});

test("a daemon that cannot start says why and leaves no temp home", async () => {
  const before = readdirSync(plugins.path).length;
  await assert.rejects(startInProcessDaemon({ plugins: plugins.path, config: { host: "0.0.0.0" } }), /in-process daemon did not start: refusing to listen on 0\.0\.0\.0 without a token/);
  assert.equal(readdirSync(plugins.path).length, before);
});
