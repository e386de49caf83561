/**
 * How registry changes reach sessions: one fan-out for all sessions (no listener per
 * session, so no MaxListenersExceededWarning however many connect), and a plugin calling
 * ctx.resourcesChanged() in a loop costs each client a few notifications, not one per call.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { TempDir } from "./helpers/env.ts";
import { startDaemonProcess } from "./helpers/daemon.ts";
import { httpClient, textOf, wsClient, type RecordingClient } from "./helpers/clients.ts";

const TOOLS_CHANGED = "notifications/tools/list_changed";
const RESOURCES_CHANGED = "notifications/resources/list_changed";

async function closeAll(clients: RecordingClient[]) {
  for (const c of clients) {
    const t = c.client.transport as Partial<StreamableHTTPClientTransport>;
    if (t?.terminateSession) await t.terminateSession().catch(() => undefined);
    await c.close();
  }
}

test("15 sessions on a real daemon: every one hears a change, and no MaxListenersExceededWarning", async () => {
  const plugins = new TempDir("patchbay-fanout-");
  plugins.file("a.mjs", `export default { tools: { one: { handler: () => 1 } } };`);
  const d = await startDaemonProcess({ plugins: plugins.path });
  const clients: RecordingClient[] = [];
  try {
    for (let i = 0; i < 12; i++) clients.push(await httpClient(d.url, { name: `c${i}` }));
    for (let i = 0; i < 3; i++) clients.push(await wsClient(d.url));
    assert.equal((await d.health()).sessions.open, 15);
    plugins.file("b.mjs", `export default { tools: { two: { handler: () => 2 } } };`);
    await Promise.all(clients.map((c) => c.waitNotification(TOOLS_CHANGED)));
  } finally {
    await closeAll(clients);
    await d.stop();
    plugins.cleanup();
  }
  assert.doesNotMatch(d.stderr(), /MaxListenersExceededWarning/);
});

test("ctx.resourcesChanged() called 20,000 times reaches a client as a few notifications", async () => {
  const plugins = new TempDir("patchbay-burst-");
  plugins.file("burst.mjs", `export default { tools: { burst: { handler: (args, ctx) => { for (let i = 0; i < 20000; i++) ctx.resourcesChanged(); return "done"; } } } };`);
  const d = await startDaemonProcess({ plugins: plugins.path });
  // WebSocket: one ordered channel, so "sent before" means "received before"
  const c = await wsClient(d.url);
  try {
    assert.equal(textOf(await c.client.callTool({ name: "burst__burst", arguments: {} })), "done");
    // A later registry change carries any resources notice still gathering with it, so once
    // its notification and a ping after it are back, every resources notice has arrived.
    const tools = c.count(TOOLS_CHANGED);
    plugins.file("sentinel.mjs", `export default { tools: { t: { handler: () => 1 } } };`);
    await c.waitNotification(TOOLS_CHANGED, tools + 1);
    await c.client.ping();
    const n = c.count(RESOURCES_CHANGED);
    assert.ok(n >= 1, "the change is announced");
    assert.ok(n < 100, `${n} resources/list_changed notifications for one burst`);
  } finally {
    await c.close();
    await d.stop();
    plugins.cleanup();
  }
});
