/**
 * Daemons as each other's upstreams (issue 21, item 7). A daemon whose `NAME.mcp.json` names
 * its own /mcp nested its tools without end (`self__self__…`, 165 → 1,445 tools in 30 s);
 * two daemons naming each other did the same between them. Every HTTP answer of a daemon
 * says who it is and whom it relays (X-Patchbay-Instance), and an upstream whose answer
 * names this daemon is refused with a clear status. A chain that does not come back (A → B)
 * stays allowed, B's tools callable through A.
 *
 * Through stdio no id can come back: `patchbay stdio --standalone` as an upstream of a daemon
 * whose folder holds that same file started a daemon that started another, without end (69
 * processes in 20 s), and `patchbay stdio` attached to the daemon that started it relayed
 * that daemon back to itself. Every stdio upstream now runs with PATCHBAY_UPSTREAM_CHAIN
 * (upstream-chain.ts), and the loop is refused on the side that sees it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { CLI, TempDir, freePort, waitFor } from "./helpers/env.ts";
import { INSTANCE_ID } from "../daemon/instance.ts";
import { MAX_UPSTREAM_DEPTH, UPSTREAM_CHAIN_ENV, attachLoop, childChainValue, inheritedChain, stdioUpstreamLoop } from "../daemon/upstream-chain.ts";
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

const upstream = (args: string[], env: Record<string, string>) => JSON.stringify({ command: process.execPath, args: [CLI, "stdio", ...args], env });

test("the chain in the environment: malformed values are ignored; a file already in it, or a chain too deep, is a loop; an ancestor daemon is not attached to", () => {
  const id = "0123abcd-0000-4000-8000-000000000000";
  for (const bad of ["", "{", "[1,2]", '{"instance":"x"}', '[{"instance":"not an id!","file":"/a"}]', "x".repeat(70_000)]) assert.deepEqual(inheritedChain({ [UPSTREAM_CHAIN_ENV]: bad }), [], bad.slice(0, 40));
  const env = { [UPSTREAM_CHAIN_ENV]: JSON.stringify([{ instance: id, file: "/plugins/self.mcp.json" }]) };
  assert.match(stdioUpstreamLoop("/plugins/self.mcp.json", env) ?? "", /loop refused: this daemon was itself started by \/plugins\/self\.mcp\.json/);
  assert.equal(stdioUpstreamLoop("/plugins/other.mcp.json", env), undefined);
  assert.equal(stdioUpstreamLoop("/plugins/self.mcp.json", {}), undefined);
  const deep = { [UPSTREAM_CHAIN_ENV]: JSON.stringify(Array.from({ length: MAX_UPSTREAM_DEPTH }, (_, i) => ({ instance: id, file: `/p${i}/x.mcp.json` }))) };
  assert.match(stdioUpstreamLoop("/elsewhere/y.mcp.json", deep) ?? "", /levels deep/);
  assert.match(attachLoop(id, env) ?? "", /loop refused: the running daemon \(instance 0123abcd\) started this patchbay stdio/);
  assert.equal(attachLoop(INSTANCE_ID, env), undefined);
  // the child's chain: what this daemon inherited, then this daemon and the file
  const child = JSON.parse(childChainValue("/plugins/next.mcp.json", env));
  assert.deepEqual(child, [{ instance: id, file: "/plugins/self.mcp.json" }, { instance: INSTANCE_ID, file: "/plugins/next.mcp.json" }]);
});

test("stdio --standalone as an upstream of a daemon whose folder starts it again: the daemon it starts refuses the file, and nothing nests", async () => {
  const root = new TempDir("patchbay-stdio-self-");
  const dir = root.join("plugins");
  root.file("plugins/one.mjs", `export default { tools: { hi: { description: "hi", handler: () => "hi" } } };`);
  root.file("plugins/self.mcp.json", upstream(["--standalone", "--plugins", dir], { PATCHBAY_HOME: root.join("child-home"), PATCHBAY_LOG_LEVEL: "info" }));
  const d = await startDaemonProcess({ plugins: dir, env: { PATCHBAY_LOG_LEVEL: "info" } });
  try {
    // the daemon the upstream started says why it did not start its own copy (copied to our log)
    await waitFor("the started daemon refuses the loop", () => (/loop refused: this daemon was itself started by [^"]*self\.mcp\.json/.test(d.stderr()) ? true : undefined), 30_000, 200);
    const names = await waitFor("A lists the upstream's other tools", async () => {
      const n = await toolNames(d.url);
      return n.includes("self__one__hi") ? n : undefined;
    }, 30_000, 200);
    assert.ok(!names.some((t) => t.startsWith("self__self__")), String(names));
    assert.equal((await plugin(d, "self")).status, "loaded");
    const c = await httpClient(d.url);
    try {
      assert.equal(textOf(await c.client.callTool({ name: "self__one__hi", arguments: {} })), "hi");
    } finally {
      await c.close();
    }
    // a while later: still one level, and the upstream still its first process
    const pid = (await plugin(d, "self")).upstream?.pid;
    await new Promise((r) => setTimeout(r, 2_000));
    assert.ok(!(await toolNames(d.url)).some((t) => t.startsWith("self__self__")));
    assert.equal((await plugin(d, "self")).upstream?.pid, pid);
  } finally {
    await d.stop();
    root.cleanup();
  }
});

test("patchbay stdio attached to the daemon that started it as an upstream refuses, and the daemon shows the loop without retrying", async () => {
  const root = new TempDir("patchbay-stdio-attach-self-");
  const home = root.join("home");
  root.file("plugins/one.mjs", `export default { tools: { hi: { description: "hi", handler: () => "hi" } } };`);
  root.file("plugins/self.mcp.json", upstream([], { PATCHBAY_HOME: home }));
  const d = await startDaemonProcess({ plugins: root.join("plugins"), home, env: { PATCHBAY_LOG_LEVEL: "info" } });
  try {
    const self = await waitFor("the self upstream refused", async () => {
      const p = await plugin(d, "self");
      return p?.status === "error" && /loop/.test(p.lastError?.message ?? "") ? p : undefined;
    }, 30_000, 200);
    assert.match(self.lastError.message, /loop refused: the running daemon \(instance [0-9a-f]{8}\) started this patchbay stdio as its upstream .*self\.mcp\.json/);
    await new Promise((r) => setTimeout(r, 2_000));
    // refused once: the bridge was not started again
    assert.equal(d.stderr().match(/"stderr":true,"msg":"patchbay: loop refused/g)?.length, 1, d.stderr());
    const names = await toolNames(d.url);
    assert.ok(names.includes("one__hi") && !names.some((t) => t.startsWith("self__")), String(names));
  } finally {
    await d.stop();
    root.cleanup();
  }
});

test("a stdio chain that does not come back is allowed: A starts B (--standalone, another folder), B's tools are callable through A", async () => {
  const a = new TempDir("patchbay-stdio-chain-a-");
  const b = new TempDir("patchbay-stdio-chain-b-");
  b.file("plugins/theirs.mjs", `export default { tools: { ping: { description: "ping", handler: () => "pong from B" } } };`);
  a.file("plugins/b.mcp.json", upstream(["--standalone", "--plugins", b.join("plugins")], { PATCHBAY_HOME: b.join("home") }));
  const A = await startDaemonProcess({ plugins: a.join("plugins"), env: { PATCHBAY_LOG_LEVEL: "info" } });
  try {
    await waitFor("A lists B's tools", async () => ((await toolNames(A.url)).includes("b__theirs__ping") ? true : undefined), 30_000, 200);
    const c = await httpClient(A.url);
    try {
      assert.equal(textOf(await c.client.callTool({ name: "b__theirs__ping", arguments: {} })), "pong from B");
    } finally {
      await c.close();
    }
    assert.doesNotMatch(A.stderr(), /loop refused/);
  } finally {
    await A.stop();
    a.cleanup();
    b.cleanup();
  }
});
