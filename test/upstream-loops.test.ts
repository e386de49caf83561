/**
 * Daemons as each other's upstreams (issue 21, item 7). A daemon whose `NAME.mcp.json` names
 * its own /mcp nested its tools without end (`self__self__…`, 165 → 1,445 tools in 30 s);
 * two daemons naming each other did the same between them. Every HTTP answer of a daemon
 * says who it is and whom it relays (X-Patchbay-Instance), and an upstream whose answer
 * names this daemon is refused with a clear status. A chain that does not come back (A → B)
 * stays allowed, B's tools callable through A.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { EXAMPLE_PLUGINS, TempDir, freePort, waitFor } from "./helpers/env.ts";
import { startDaemonProcess } from "./helpers/daemon.ts";
import { httpClient, textOf } from "./helpers/clients.ts";
import { stderrProblems } from "./helpers/fuzz-harness.ts";

const plugin = async (d: { health(): Promise<any> }, name: string) => (await d.health()).plugins.find((p: any) => p.name === name);
const toolNames = async (url: string) => {
  const c = await httpClient(url);
  try {
    return (await c.client.listTools()).tools.map((t) => t.name);
  } finally {
    await c.close();
  }
};

test("a daemon whose upstream is its own /mcp (present at start) refuses it as a loop, and its tools do not nest", async () => {
  const root = new TempDir("patchbay-self-loop-");
  const port = await freePort();
  root.file("plugins/self.mcp.json", JSON.stringify({ url: `http://127.0.0.1:${port}/mcp` }));
  root.file("plugins/one.mjs", `export default { tools: { hi: { description: "hi", handler: () => "hi" } } };`);
  const d = await startDaemonProcess({ plugins: root.join("plugins"), port, env: { PATCHBAY_LOG_LEVEL: "info" } });
  try {
    const self = await waitFor("the self upstream refused", async () => {
      const p = await plugin(d, "self");
      return p?.status === "error" && /loop/.test(p.lastError?.message ?? "") ? p : undefined;
    }, 20_000, 200);
    assert.match(self.lastError.message, /loop refused: .* is this Patchbay daemon itself/);
    // refused, not retried: no next attempt is scheduled
    assert.equal(self.upstream?.nextRetryAt, undefined);
    const before = await toolNames(d.url);
    assert.ok(before.includes("one__hi"), String(before));
    assert.ok(!before.some((t) => t.startsWith("self__")), `no relayed tools of its own: ${before}`);
    // a while later, still nothing nested and no retries in the log
    await new Promise((r) => setTimeout(r, 2_000));
    const after = await toolNames(d.url);
    assert.deepEqual(after.sort(), before.sort());
    assert.doesNotMatch(d.stderr(), /self__self__/);
    assert.deepEqual(stderrProblems(d.stderr()), []);
  } finally {
    await d.stop();
    root.cleanup();
  }
});

test("A → B → A: the daemon that would close the loop refuses it; A → B alone is allowed and B's tools are callable through A", async () => {
  const a = new TempDir("patchbay-loop-a-");
  const b = new TempDir("patchbay-loop-b-");
  a.file("plugins/mine.mjs", `export default { tools: { ping: { description: "ping", handler: () => "pong from A" } } };`);
  b.file("plugins/theirs.mjs", `export default { tools: { ping: { description: "ping", handler: () => "pong from B" } } };`);
  const A = await startDaemonProcess({ plugins: a.join("plugins"), env: { PATCHBAY_LOG_LEVEL: "info" } });
  const B = await startDaemonProcess({ plugins: b.join("plugins"), env: { PATCHBAY_LOG_LEVEL: "info" } });
  try {
    // A → B: allowed
    writeFileSync(join(a.join("plugins"), "b.mcp.json"), JSON.stringify({ url: `${B.url}/mcp` }));
    await waitFor("A lists B's tools", async () => ((await toolNames(A.url)).includes("b__theirs__ping") ? true : undefined), 20_000, 200);
    const c = await httpClient(A.url);
    try {
      assert.equal(textOf(await c.client.callTool({ name: "b__theirs__ping", arguments: {} })), "pong from B");
    } finally {
      await c.close();
    }
    assert.equal((await plugin(A, "b")).status, "loaded");

    // B → A would close the loop: B's upstream answers that it relays B
    writeFileSync(join(b.join("plugins"), "a.mcp.json"), JSON.stringify({ url: `${A.url}/mcp` }));
    const refused = await waitFor("B refuses A", async () => {
      const p = await plugin(B, "a");
      return p?.status === "error" && /loop/.test(p.lastError?.message ?? "") ? p : undefined;
    }, 20_000, 200);
    assert.match(refused.lastError.message, /loop refused: .* relays this one/);
    // nothing nests on either side, and A → B still works
    await new Promise((r) => setTimeout(r, 2_000));
    const onA = await toolNames(A.url);
    const onB = await toolNames(B.url);
    assert.ok(onA.includes("b__theirs__ping"), String(onA));
    assert.ok(!onA.some((t) => t.startsWith("b__a__")), String(onA));
    assert.ok(!onB.some((t) => t.startsWith("a__")), String(onB));
    assert.equal((await plugin(A, "b")).status, "loaded");
    for (const d of [A, B]) assert.deepEqual(stderrProblems(d.stderr()), []);
  } finally {
    await A.stop();
    await B.stop();
    a.cleanup();
    b.cleanup();
  }
});
