/**
 * Upstream servers on the dashboard, in real Chromium against a real daemon: the plugin row
 * shows the transport, the child's pid, its memory and the connection state, and after the
 * child is killed, the restart count and the new pid; its tools get per-tool percentiles
 * like any other.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { SKIP_NO_CHROMIUM, launchChromium, requireChromiumUnderCi } from "../helpers/browser.ts";
import { ROOT, TempDir, waitFor } from "../helpers/env.ts";
import { startInProcessDaemon, type InProcessDaemon } from "../helpers/in-process.ts";
import { httpClient, textOf, type RecordingClient } from "../helpers/clients.ts";

const SKIP = SKIP_NO_CHROMIUM;
requireChromiumUnderCi();

const req = createRequire(join(ROOT, "package.json"));
const root = new TempDir("patchbay-dash-up-");
let d: InProcessDaemon;
let c: RecordingClient;
let browser: Browser;
let page: Page;

before(async () => {
  if (SKIP) return;
  const server = root.file(
    "servers/pid-server.cjs",
    `const { McpServer } = require(${JSON.stringify(req.resolve("@modelcontextprotocol/sdk/server/mcp.js"))});
const { StdioServerTransport } = require(${JSON.stringify(req.resolve("@modelcontextprotocol/sdk/server/stdio.js"))});
const server = new McpServer({ name: "pid-server", version: "1.0.0" });
server.registerTool("pid", { description: "pid" }, async () => ({ content: [{ type: "text", text: String(process.pid) }] }));
server.connect(new StdioServerTransport());
`,
  );
  root.file("plugins/up.mcp.json", JSON.stringify({ command: process.execPath, args: [server] }));
  d = await startInProcessDaemon({ plugins: root.join("plugins") });
  c = await httpClient(d.url);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1300, height: 1300 } });
});
after(async () => {
  await browser?.close();
  await c?.close();
  await d?.stop();
  root.cleanup();
});

const row = () => page.locator('#plugins-table tr[data-plugin="up"]');

test("an upstream plugin shows its transport, pid, memory, state, restarts and per-tool percentiles", { skip: SKIP }, async () => {
  const pid = Number(textOf(await c.client.callTool({ name: "up__pid", arguments: {} })));
  await page.goto(d.url);
  await row().locator(".upstream").waitFor();
  assert.equal(await row().locator(".upstream").textContent(), `upstream stdio · pid ${pid} · connected`);
  assert.equal(await row().locator(".upstream-state").getAttribute("class"), "pill ok upstream-state");
  // the child's resident memory, read by the daemon's periodic probe
  await page.waitForFunction(() => /MB$/.test(document.querySelectorAll('#plugins-table tr[data-plugin="up"] td.num')[1]?.textContent ?? ""), undefined, { timeout: 20_000 });
  await page.waitForFunction(() => document.querySelector('#tools-table tr[data-tool="up__pid"] td.calls')?.textContent === "1");
  assert.notEqual(await page.locator('#tools-table tr[data-tool="up__pid"] td.p50').textContent(), "–");
  process.kill(pid, "SIGKILL");
  const newPid = await waitFor("restarted", async () => {
    const r = await c.client.callTool({ name: "up__pid", arguments: {} }).catch(() => undefined);
    return r && !r.isError && Number(textOf(r)) !== pid ? Number(textOf(r)) : undefined;
  });
  await page.waitForFunction((p) => document.querySelector('#plugins-table tr[data-plugin="up"] .upstream')?.textContent === `upstream stdio · pid ${p} · connected`, newPid);
  assert.equal(await row().locator("td.num").nth(2).textContent(), "1");
});
