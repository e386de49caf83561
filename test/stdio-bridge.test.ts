/**
 * The Claude Desktop path: `patchbay stdio` starts the daemon when none runs, shows up in it
 * as a stdio session with its client name, and survives the daemon being killed.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { TempDir, waitFor } from "./helpers/env.ts";
import { stdioClient, textOf } from "./helpers/clients.ts";
import { stopPids } from "./helpers/daemon.ts";

const plugins = new TempDir("patchbay-bridge-plugins-");
const home = new TempDir("patchbay-bridge-home-");
const pids = new Set<number>();

plugins.file("slow.mjs", `import { writeFileSync } from "node:fs";
export default { tools: {
  wait: { handler: (_a, ctx) => new Promise((r) => { writeFileSync(ctx.dataDir + "/began-wait", ""); const t = setTimeout(() => r("waited"), 30000); ctx.signal.addEventListener("abort", () => { clearTimeout(t); r("aborted"); }); }) },
  hi: { handler: () => "hi" },
} };`);

after(async () => {
  await stopPids(pids);
  plugins.cleanup();
  home.cleanup();
});

const daemonState = () => JSON.parse(readFileSync(home.join("daemon.json"), "utf8"));
async function health() {
  const s = daemonState();
  return (await fetch(`${s.url}/healthz`)).json();
}

test("starts the daemon when none runs, relays calls, and shows as a stdio session", async () => {
  const env = { PATCHBAY_HOME: home.path, PATCHBAY_PORT: "0" };
  const c = await stdioClient(["--plugins", plugins.path], env);
  try {
    const first = daemonState();
    pids.add(first.pid);
    assert.notEqual(first.pid, c.client.transport && (c.client.transport as any).pid);
    assert.equal(textOf(await c.client.callTool({ name: "slow__hi", arguments: {} })), "hi");
    const h = await health();
    assert.equal(h.sessions.byTransport.stdio, 1);

    // kill the daemon hard while a call is in flight: the call fails clearly, no hang
    const inflight = c.client.callTool({ name: "slow__wait", arguments: {} });
    await waitFor("the call running in the daemon", () => existsSync(home.join("data", "slow", "began-wait")) || undefined);
    const n = c.count("notifications/tools/list_changed");
    process.kill(first.pid, "SIGKILL");
    await assert.rejects(inflight, (e: any) => e.code === -32000 && /connection lost during tools\/call/.test(e.message));

    // the bridge starts a new daemon, re-initializes, and tells the client to re-list
    await c.waitNotification("notifications/tools/list_changed", n + 1);
    const second = daemonState();
    pids.add(second.pid);
    assert.notEqual(second.pid, first.pid);
    assert.equal(textOf(await c.client.callTool({ name: "slow__hi", arguments: {} })), "hi");
    const h2 = await health();
    assert.equal(h2.sessions.byTransport.stdio, 1, "the re-initialized session is registered in the new daemon");
  } finally {
    await c.close();
  }
});

test("a 2025 client's resource subscriptions and log level are set again on the new daemon after a reconnect", async () => {
  const tickerPlugins = new TempDir("patchbay-bridge-ticker-");
  const tickerHome = new TempDir("patchbay-bridge-ticker-home-");
  tickerPlugins.file(
    "ticker.mjs",
    `let t;
export default {
  resources: { "ticker://now": { read: () => String(Date.now()) } },
  setup: (ctx) => { t = setInterval(() => ctx.resourceUpdated("ticker://now"), 50); t.unref(); },
  teardown: () => clearInterval(t),
  tools: { say: { handler: (_a, ctx) => { ctx.sendLog("debug", "quiet"); ctx.sendLog("error", "loud"); return "said"; } } },
};`,
  );
  const env = { PATCHBAY_HOME: tickerHome.path, PATCHBAY_PORT: "0" };
  const state = () => JSON.parse(readFileSync(tickerHome.join("daemon.json"), "utf8"));
  const c = await stdioClient(["--plugins", tickerPlugins.path], env);
  try {
    const first = state();
    pids.add(first.pid);
    await c.client.subscribeResource({ uri: "ticker://now" });
    await c.waitNotification("notifications/resources/updated", 1);
    await c.client.setLoggingLevel("error");
    const lists = c.count("notifications/tools/list_changed");
    process.kill(first.pid, "SIGKILL");
    // the bridge starts a new daemon and re-initializes; then updates flow again without the client subscribing anew
    await c.waitNotification("notifications/tools/list_changed", lists + 1);
    const second = state();
    pids.add(second.pid);
    assert.notEqual(second.pid, first.pid);
    const updates = c.count("notifications/resources/updated");
    await c.waitNotification("notifications/resources/updated", updates + 3);
    // the level the client set holds in the new session: the error comes, the debug does not
    const logs = c.count("notifications/message");
    assert.equal(textOf(await c.client.callTool({ name: "ticker__say", arguments: {} })), "said");
    await c.waitNotification("notifications/message", logs + 1);
    const said = c.notifications.filter((n) => n.method === "notifications/message").slice(logs);
    assert.deepEqual(said.map((n) => (n.params as { level?: string }).level), ["error"], JSON.stringify(said));
    // and an unsubscribe still ends them (the bridge forgets the URI too)
    await c.client.unsubscribeResource({ uri: "ticker://now" });
  } finally {
    await c.close();
    // this test's daemons go before their home folder does
    await stopPids([...pids].filter((p) => p !== undefined));
    tickerPlugins.cleanup();
    tickerHome.cleanup();
  }
});
