/**
 * An upstream that floods its stderr (issue 21, item 9): it was copied line for line at warn
 * level — daemon.log grew ~18 MB/s with the daemon at 104 % CPU — and daemon.log was never
 * rotated. Now each upstream's stderr passes a token bucket (here 50 lines/s, bursts of 200)
 * with one "dropped N lines" line a second for the rest, the log file rotates by size (here
 * 256 KiB × 2 kept), and the dashboard's log tail keeps the daemon's own lines (the
 * summaries among them) however much the upstream writes. The daemon answers throughout.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ROOT, TempDir, waitFor } from "./helpers/env.ts";
import { startDaemonProcess } from "./helpers/daemon.ts";
import { httpClient, textOf } from "./helpers/clients.ts";

const req = createRequire(join(ROOT, "package.json"));
const FLOOD_MS = Number(process.env.PB_FLOOD_MS ?? 4_000);
const MAX_BYTES = 256 * 1024;
const MAX_FILES = 2;

test(`an upstream flooding stderr for ${FLOOD_MS / 1000} s: the log stays bounded, says what it dropped, the tail stays readable, the daemon answers`, async () => {
  const root = new TempDir("patchbay-flood-");
  const server = root.file(
    "servers/flood.cjs",
    `const { McpServer } = require(${JSON.stringify(req.resolve("@modelcontextprotocol/sdk/server/mcp.js"))});
const { StdioServerTransport } = require(${JSON.stringify(req.resolve("@modelcontextprotocol/sdk/server/stdio.js"))});
const s = new McpServer({ name: "flood", version: "1" });
s.registerTool("hi", { description: "hi" }, async () => ({ content: [{ type: "text", text: "hi" }] }));
let n = 0;
let over = false;
s.registerTool("count", { description: "lines written so far" }, async () => ({ content: [{ type: "text", text: JSON.stringify({ n, over }) }] }));
s.connect(new StdioServerTransport());
const line = "flood line " + "x".repeat(100) + "\\n";
const chunk = line.repeat(200);
const until = Date.now() + ${FLOOD_MS};
// as fast as the pipe takes it (a write past a full socket buffer would end in ENOBUFS)
(function more() { if (Date.now() > until) { over = true; return; } n += 200; if (process.stderr.write(chunk)) setImmediate(more); else process.stderr.once("drain", more); })();`,
  );
  root.file("plugins/flood.mcp.json", JSON.stringify({ command: process.execPath, args: [server] }));
  const home = root.join("home");
  const logFile = join(home, "daemon.log");
  const d = await startDaemonProcess({
    plugins: root.join("plugins"),
    home,
    env: { PATCHBAY_LOG_LEVEL: "info", PATCHBAY_LOG_FILE: logFile, PATCHBAY_LOG_MAX_BYTES: String(MAX_BYTES), PATCHBAY_LOG_MAX_FILES: String(MAX_FILES) },
  });
  const files = () => [logFile, ...Array.from({ length: MAX_FILES + 1 }, (_, i) => `${logFile}.${i + 1}`)].filter((f) => existsSync(f));
  const logText = () => files().map((f) => readFileSync(f, "utf8")).join("");
  try {
    await waitFor("flood connected", async () => ((await d.health()).plugins.find((p: any) => p.name === "flood")?.status === "loaded" ? true : undefined), 30_000, 100);
    // the daemon answers while the flood goes on
    const c = await httpClient(d.url);
    let flooded = 0;
    try {
      for (;;) {
        assert.equal(textOf(await c.client.callTool({ name: "flood__hi", arguments: {} })), "hi");
        assert.equal((await fetch(`${d.url}/healthz`)).status, 200);
        const { n, over } = JSON.parse(textOf(await c.client.callTool({ name: "flood__count", arguments: {} })));
        flooded = n;
        if (over) break;
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      await c.close();
    }
    // the last count of dropped lines comes within a second
    await new Promise((r) => setTimeout(r, 1_500));
    const text = logText();
    const total = files().reduce((n, f) => n + statSync(f).size, 0);
    assert.ok(total <= (MAX_FILES + 1) * MAX_BYTES, `log files hold ${total} bytes, over ${(MAX_FILES + 1) * MAX_BYTES}`);
    assert.ok(files().length <= MAX_FILES + 1, `at most ${MAX_FILES} rotated files: ${files()}`);
    assert.ok(!existsSync(`${logFile}.${MAX_FILES + 1}`));
    const dropped = [...text.matchAll(/stderr: dropped (\d+) lines/g)].reduce((n, m) => n + Number(m[1]), 0);
    assert.ok(flooded > 5_000, `the server wrote ${flooded} lines`);
    assert.ok(dropped > 0, "a dropped-lines count is logged");
    // the tail: upstream stderr holds at most a third of its 300 lines; the daemon's own lines stay
    const tail = (await (await fetch(`${d.url}/api/logs`)).json()) as { msg: string; stderr?: boolean }[];
    const fromStderr = tail.filter((l) => l.stderr).length;
    assert.ok(fromStderr <= 100, `${fromStderr} of ${tail.length} tail lines are stderr`);
    assert.ok(tail.some((l) => /patchbay daemon listening/.test(l.msg)), "the daemon's first lines are still in the tail");
    assert.ok(tail.some((l) => /stderr: dropped \d+ lines/.test(l.msg)), "the tail shows what was dropped");
    assert.ok(tail.some((l) => /upstream server (connected|loaded)/.test(l.msg)), "the tail keeps the daemon's own lines");
    console.log(`# flood: ${flooded} lines written in ${FLOOD_MS} ms, ${dropped} dropped; log files ${total} bytes in ${files().length} files`);
  } finally {
    await d.stop();
    root.cleanup();
  }
});
