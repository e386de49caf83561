/**
 * A stdio upstream with 20 tools of 1 MB descriptions (issue 21, item 18) failed as
 * "reconnect failed: Connection closed" with `restarts: 0`, for ever: its 20 MB tools/list
 * line passed the SDK stdio reader's 10 MiB cap, and the reader closed the connection
 * saying nothing else (two reconnect timers per failure made it look like twice the
 * attempts). Now the cap is upstreamMaxMessageBytes (64 MiB): such a server loads and its
 * tools are callable; over the cap, the error names the answer and the key.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { join } from "node:path";
import { ROOT, TempDir, waitFor } from "./helpers/env.ts";
import { startDaemonProcess } from "./helpers/daemon.ts";
import { httpClient, textOf } from "./helpers/clients.ts";

const req = createRequire(join(ROOT, "package.json"));

function bigServer(root: TempDir): string {
  return root.file(
    "servers/big.cjs",
    `const { McpServer } = require(${JSON.stringify(req.resolve("@modelcontextprotocol/sdk/server/mcp.js"))});
const { StdioServerTransport } = require(${JSON.stringify(req.resolve("@modelcontextprotocol/sdk/server/stdio.js"))});
const s = new McpServer({ name: "big", version: "1" });
for (let i = 0; i < 20; i++) s.registerTool("t" + i, { description: String(i).padEnd(1024 * 1024, ".") }, async () => ({ content: [{ type: "text", text: "ok " + i }] }));
s.connect(new StdioServerTransport());`,
  );
}

const bigState = async (d: { health(): Promise<any> }) => (await d.health()).plugins.find((p: any) => p.name === "big");

test("20 tools with 1 MB descriptions (a 20 MB tools/list line) load and are callable", async () => {
  const root = new TempDir("patchbay-big-upstream-");
  root.file("plugins/big.mcp.json", JSON.stringify({ command: process.execPath, args: [bigServer(root)] }));
  const d = await startDaemonProcess({ plugins: root.join("plugins"), env: { PATCHBAY_LOG_LEVEL: "info" } });
  try {
    const s = await waitFor("big loaded", async () => ((await bigState(d))?.status === "loaded" ? bigState(d) : undefined), 60_000, 200);
    assert.equal(s.upstream.state, "connected");
    const c = await httpClient(d.url);
    try {
      const tools = (await c.client.listTools()).tools.filter((t) => t.name.startsWith("big__"));
      assert.equal(tools.length, 20);
      assert.equal(tools[3].description?.length, 1024 * 1024);
      assert.equal(textOf(await c.client.callTool({ name: "big__t7", arguments: {} })), "ok 7");
    } finally {
      await c.close();
    }
  } finally {
    await d.stop();
    root.cleanup();
  }
});

test("over upstreamMaxMessageBytes the upstream fails with an error naming the answer and the key, one retry timer at a time", async () => {
  const root = new TempDir("patchbay-big-upstream-cap-");
  root.file("plugins/big.mcp.json", JSON.stringify({ command: process.execPath, args: [bigServer(root)] }));
  const d = await startDaemonProcess({ plugins: root.join("plugins"), env: { PATCHBAY_LOG_LEVEL: "info", PATCHBAY_UPSTREAM_MAX_MESSAGE_BYTES: String(4 * 1024 * 1024) } });
  try {
    const s = await waitFor("big failed", async () => {
      const p = await bigState(d);
      return p?.status === "error" && /upstreamMaxMessageBytes/.test(p.lastError?.message ?? "") ? p : undefined;
    }, 60_000, 200);
    assert.match(s.lastError.message, /the tools\/list answer\) was larger than 4 MiB \(upstreamMaxMessageBytes\)/);
    // each failure schedules one retry: the delays double one by one (500, 1000, 2000 …)
    await waitFor("two retries", () => ((d.stdout() + d.stderr()).match(/"retryInMs":\d+/g)?.length ?? 0) >= 3 || undefined, 30_000, 100);
    const delays = [...(d.stdout() + d.stderr()).matchAll(/"retryInMs":(\d+)/g)].map((m) => Number(m[1]));
    assert.deepEqual(delays.slice(0, 3), [500, 1000, 2000]);
  } finally {
    await d.stop();
    root.cleanup();
  }
});
