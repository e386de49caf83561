/**
 * An upstream server that never answers `initialize` (issue 21, item 5): a stdio command
 * that reads its stdin and never writes held the daemon's start-up for callTimeoutMs + 1 s
 * (~61 s), so a cold `patchbay stdio` gave up. Connecting has its own deadline
 * (upstreamConnectTimeoutMs, here 1 s); after it the upstream shows failed with an error
 * naming the deadline and is retried with backoff, and the rest of the folder serves.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { TempDir, waitFor } from "./helpers/env.ts";
import { startDaemonProcess } from "./helpers/daemon.ts";
import { httpClient, textOf } from "./helpers/clients.ts";
import { loadConfig } from "../daemon/config.ts";

test("a stdio upstream that never answers initialize fails after upstreamConnectTimeoutMs with a clear error, is retried, and does not hold up the daemon", async () => {
  const root = new TempDir("patchbay-mute-upstream-");
  // reads stdin for ever, never writes a byte
  root.file("plugins/mute.mcp.json", JSON.stringify({ command: process.execPath, args: ["-e", "process.stdin.resume()"] }));
  root.file("plugins/ok.mjs", `export default { tools: { hi: { description: "hi", handler: () => "hi" } } };`);
  const d = await startDaemonProcess({ plugins: root.join("plugins"), env: { PATCHBAY_UPSTREAM_CONNECT_TIMEOUT_MS: "1000", PATCHBAY_LOG_LEVEL: "info" } });
  try {
    const mute = await waitFor("the mute upstream failed", async () => {
      const p = (await d.health()).plugins.find((x: any) => x.name === "mute");
      return p?.status === "error" && p.lastError ? p : undefined;
    }, 20_000, 100);
    // the deadline that failed it is the upstream's own (1 s), not callTimeoutMs (60 s): the
    // message says which, so no wall clock is needed to tell them apart
    assert.match(mute.lastError.message, /did not answer initialize within 1000 ms \(upstreamConnectTimeoutMs\)/);
    assert.match(mute.upstream.state, /restarting|connecting/);
    // retried with backoff: a second attempt fails the same way
    await waitFor("a retry", () => ((d.stdout() + d.stderr()).match(/reconnect failed: the upstream server did not answer initialize/g)?.length ?? 0) >= 1 || undefined, 20_000, 100);
    const c = await httpClient(d.url);
    try {
      assert.equal(textOf(await c.client.callTool({ name: "ok__hi", arguments: {} })), "hi");
    } finally {
      await c.close();
    }
  } finally {
    await d.stop();
    root.cleanup();
  }
});

test("upstreamConnectTimeoutMs has a range", () => {
  const home = new TempDir("patchbay-deadline-range-");
  try {
    for (const bad of ["50", "600001"]) {
      assert.throws(() => loadConfig({}, { PATCHBAY_HOME: home.path, PATCHBAY_UPSTREAM_CONNECT_TIMEOUT_MS: bad }), /upstreamConnectTimeoutMs/);
    }
    assert.equal(loadConfig({}, { PATCHBAY_HOME: home.path }).upstreamConnectTimeoutMs, 15_000);
  } finally {
    home.cleanup();
  }
});
