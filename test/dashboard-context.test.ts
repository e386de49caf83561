/**
 * The dashboard's "Context cost" card and the tools table's definition and result-size
 * columns, in real Chromium against the real daemon: a default view that `auto` switched to
 * search, a profile that still lists everything, and result sizes after real calls.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { SKIP_NO_CHROMIUM, launchChromium, requireChromiumUnderCi } from "./helpers/browser.ts";
import { ROOT, TempDir } from "./helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "./helpers/daemon.ts";
import { httpClient, type RecordingClient } from "./helpers/clients.ts";

const SKIP = SKIP_NO_CHROMIUM;
const OUT = join(ROOT, "test-output");
requireChromiumUnderCi();

const plugins = new TempDir("patchbay-dash-ctx-");
const config = new TempDir("patchbay-dash-ctx-config-");
let d: RunningDaemon;
let c: RecordingClient;
let browser: Browser;
let page: Page;

before(async () => {
  if (SKIP) return;
  plugins.file("calc.ts", `import { definePlugin, z } from "mcp-patchbay";\nexport default definePlugin({ tools: { double: { description: "Doubles a number", input: { n: z.number().describe("the number to double") }, handler: ({ n }) => String(n * 2) } } });\n`);
  // a plugin whose long descriptions cost far more than the threshold below
  const long = "Looks up records in the archive by any of their fields and returns every match with its full history. ".repeat(30);
  plugins.file("archive.ts", `import { definePlugin, z } from "mcp-patchbay";\nexport default definePlugin({ tools: { find: { description: ${JSON.stringify(long)}, input: { query: z.string() }, handler: ({ query }) => "x".repeat(2000) + query } } });\n`);
  config.file("patchbay.json", JSON.stringify({ expose: "auto", searchThresholdTokens: 300, pin: ["calc__*"], profiles: { small: { include: ["calc__*"] } } }));
  d = await startDaemonProcess({ plugins: plugins.path, args: ["--config", config.join("patchbay.json")] });
  c = await httpClient(d.url, { name: "dashboard-context-client" });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1300, height: 1500 } });
});
after(async () => {
  await browser?.close();
  await c?.close();
  await d?.stop();
  plugins.cleanup();
  config.cleanup();
});

test("the Context cost card shows each view's listing, its expose mode and what search saves", { skip: SKIP }, async () => {
  await page.goto(d.url);
  await page.locator('#context-views tr[data-view="default"]').waitFor();
  // counts arrive from the counting process; the card says "counted" when they are exact
  await page.waitForFunction(() => document.querySelector("#context-summary")?.textContent?.includes("counted"));
  const view = (name: string, col: string) => page.locator(`#context-views tr[data-view="${name}"] td.${col}`);
  assert.match((await view("default", "expose").textContent()) ?? "", /auto → search/);
  assert.match((await view("small", "expose").textContent()) ?? "", /auto → all/);
  const num = async (name: string, col: string) => Number(((await view(name, col).textContent()) ?? "").replace(/[^0-9.]/g, ""));
  assert.ok((await num("default", "all-tokens")) > 300, "the default view's full listing is over its threshold");
  assert.ok((await num("default", "listed-tokens")) < (await num("default", "all-tokens")), "search lists less than all");
  assert.equal(await num("small", "listed-tokens"), await num("small", "all-tokens"), "a view in `all` lists its full listing");
  assert.match((await view("default", "saves").textContent()) ?? "", /\d+ %/);
  // the most expensive plugin is the archive, named in the card with its tokens
  assert.equal(await page.locator("#context-plugins tbody tr").first().locator("td").first().textContent(), "archive");
  assert.match((await page.locator("#context-card h2 small").textContent()) ?? "", /estimated/);
});

test("the tools table shows each tool's definition cost and its result sizes after calls", { skip: SKIP }, async () => {
  const tokensCell = page.locator('#tools-table tr[data-tool="archive__find"] td.tokens');
  await tokensCell.waitFor();
  assert.match((await tokensCell.textContent()) ?? "", /^\d[\d,.k]*$/);
  // through call_tool, as a client in search mode calls it: the row is the real tool's
  for (let i = 0; i < 3; i++) await c.client.callTool({ name: "patchbay__call_tool", arguments: { name: "archive__find", arguments: { query: "q" + i } } });
  await page.waitForFunction(() => document.querySelector('#tools-table tr[data-tool="archive__find"] td.calls')?.textContent === "3");
  await page.waitForFunction(() => /KB/.test(document.querySelector('#tools-table tr[data-tool="archive__find"] td.result-size')?.textContent ?? ""));
  // 2,000 "x" and the query: 2,002 bytes, about 501 tokens at bytes/4
  assert.match((await page.locator('#tools-table tr[data-tool="archive__find"] td.result-size').textContent()) ?? "", /^2\.0 KB \/ 2\.0 KB$/);
  assert.equal(await page.locator('#tools-table tr[data-tool="archive__find"] td.result-tokens').textContent(), "501 / 501");
  mkdirSync(OUT, { recursive: true });
  await page.locator("#context-card").screenshot({ path: join(OUT, "dashboard-context.png") });
  await page.screenshot({ path: join(OUT, "dashboard-context-full.png"), fullPage: true });
});
