/**
 * `patchbay stdio` attached to the daemon, with a 2026-07-28 client: the bridge relays raw
 * frames, so the revision works through it as on /ws. When the daemon dies, the client's
 * listen stream (which lived on the lost connection) is re-opened on the new one: the
 * client is told to re-list, and hears later changes again.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { TempDir } from "./helpers/env.ts";
import { textOf } from "./helpers/clients.ts";
import { v2StdioClient } from "./helpers/clients-v2.ts";
import { stopPids } from "./helpers/daemon.ts";

const plugins = new TempDir("patchbay-bridge26-plugins-");
const home = new TempDir("patchbay-bridge26-home-");
const pids = new Set<number>();
plugins.file("hi.mjs", `export default { tools: { hi: { handler: () => "hi" } } };`);

after(async () => {
  await stopPids(pids);
  plugins.cleanup();
  home.cleanup();
});

const daemonState = () => JSON.parse(readFileSync(home.join("daemon.json"), "utf8"));
const LIST_CHANGED = "notifications/tools/list_changed";

test("a 2026-07-28 client through the bridge: calls, listen, and its listen stream survives the daemon being killed", async () => {
  const c = await v2StdioClient(["--plugins", plugins.path], { PATCHBAY_HOME: home.path, PATCHBAY_PORT: "0" }, { modern: true, name: "bridged-modern" });
  try {
    assert.equal(c.client.getProtocolEra(), "modern");
    const first = daemonState();
    pids.add(first.pid);
    assert.equal(textOf(await c.client.callTool({ name: "hi__hi", arguments: {} })), "hi");
    const sub = await c.client.listen({ toolsListChanged: true });
    assert.equal(sub.honoredFilter.toolsListChanged, true);

    process.kill(first.pid, "SIGKILL");
    // the re-opened stream tells the client to re-list
    await c.waitNotification(LIST_CHANGED, 1);
    const second = daemonState();
    pids.add(second.pid);
    assert.notEqual(second.pid, first.pid);
    assert.equal(textOf(await c.client.callTool({ name: "hi__hi", arguments: {} })), "hi");
    // and it is live on the new connection
    const n = c.count(LIST_CHANGED);
    plugins.file("more.mjs", `export default { tools: { more: { handler: () => "more" } } };`);
    await c.waitNotification(LIST_CHANGED, n + 1);
    assert.equal(textOf(await c.client.callTool({ name: "more__more", arguments: {} })), "more");
    await sub.close();
  } finally {
    await c.close();
  }
});
