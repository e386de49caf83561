/**
 * A plugin that floods its console. Its thread's output was copied to the log line for
 * line, as fast as it came, so `console.log` in a loop grew the log and took the daemon's
 * main thread; it now goes through the same per-stream limit as an upstream's stderr
 * (output-limiter.ts): the first lines are kept, the rest counted and said to be dropped,
 * and the daemon keeps answering.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { TempDir, waitFor } from "./helpers/env.ts";
import { startDaemonProcess } from "./helpers/daemon.ts";
import { httpClient, textOf } from "./helpers/clients.ts";

test("a plugin's console flood is rate-limited in the log, summarized, and calls keep working", async () => {
  const root = new TempDir("patchbay-console-flood-");
  root.file(
    "plugins/noisy.mjs",
    `export default { tools: {
      flood: { description: "logs 50,000 lines", handler: () => { for (let i = 0; i < 50000; i++) console.log("flood line " + i); return "flooded"; } },
      quiet: { description: "one line", handler: () => { console.error("just one"); return "ok"; } },
    } };`,
  );
  const d = await startDaemonProcess({ plugins: root.join("plugins"), env: { PATCHBAY_LOG_LEVEL: "info" } });
  const c = await httpClient(d.url);
  try {
    assert.equal(textOf(await c.client.callTool({ name: "noisy__flood", arguments: {} })), "flooded");
    const summary = await waitFor("the dropped-lines summary", () => /console: dropped (\d+) lines in \d+ s \(over 50 lines\/s, bursts of 200\)/.exec(d.stderr()) ?? undefined, 30_000, 100);
    const copied = d.stderr().match(/"console":true,"msg":"flood line \d+"/g)?.length ?? 0;
    // a burst of 200 and a few seconds' refill at most, not 50,000
    assert.ok(copied >= 200 && copied < 1_000, `copied ${copied} lines`);
    assert.ok(Number(summary[1]) > 40_000, summary[0]);
    assert.match(d.stderr(), /"console":true,"msg":"flood line 0"/);
    // the daemon answers, and the plugin's stderr, a stream with a limit of its own, still gets through
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal(textOf(await c.client.callTool({ name: "noisy__quiet", arguments: {} })), "ok");
    await waitFor("the later line", () => (/"level":40[^\n]*"console":true,"msg":"just one"/.test(d.stderr()) ? true : undefined), 30_000, 100);
  } finally {
    await c.close();
    await d.stop();
    root.cleanup();
  }
});
