/**
 * The dashboard in real Chromium (Debian's `chromium`, driven by playwright-core), against
 * the real daemon with calls made through the official SDK client.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { SKIP_NO_CHROMIUM, launchChromium, requireChromiumUnderCi } from "./helpers/browser.ts";
import { ROOT, TempDir } from "./helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "./helpers/daemon.ts";
import { httpClient, type RecordingClient } from "./helpers/clients.ts";

const SKIP = SKIP_NO_CHROMIUM;
const OUT = join(ROOT, "test-output");

requireChromiumUnderCi();

const plugins = new TempDir("patchbay-dash-");
const TOKEN = "dashboard-test-token";
let d: RunningDaemon;
let c: RecordingClient;
let browser: Browser;
let page: Page;

before(async () => {
  if (SKIP) return;
  plugins.file("calc.ts", `import { definePlugin, z } from "mcp-patchbay";\nexport default definePlugin({ tools: { double: { input: { n: z.number() }, handler: ({ n }) => String(n * 2) } } });\n`);
  // never called: parked once loaded (no worker thread), which the plugins table says
  plugins.file("idle.ts", `import { definePlugin } from "mcp-patchbay";\nexport default definePlugin({ tools: { noop: { handler: () => "ok" } } });\n`);
  d = await startDaemonProcess({ plugins: plugins.path, args: ["--token", TOKEN] });
  c = await httpClient(d.url, { token: TOKEN, name: "dashboard-test-client" });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1300, height: 1300 } });
});
after(async () => {
  await browser?.close();
  await c?.close();
  await d?.stop();
  plugins.cleanup();
});

const cell = (tool: string, col: string) => page.locator(`#tools-table tr[data-tool="${tool}"] td.${col}`);

test("the dashboard needs the token, then keeps a cookie", { skip: SKIP }, async () => {
  const denied = await page.goto(d.url);
  assert.equal(denied?.status(), 401);
  const ok = await page.goto(`${d.url}/?token=${TOKEN}`);
  assert.equal(ok?.status(), 200);
  assert.equal(new URL(page.url()).search, "", "the token does not stay in the address bar");
  await page.locator("#live.ok").waitFor();
});

test("tool calls show up live with their count and percentiles, without a reload", { skip: SKIP }, async () => {
  await page.locator('#tools-table tr[data-tool="calc__double"]').waitFor();
  assert.equal(await page.locator('#plugins-table tr[data-plugin="calc"] .file').textContent(), "calc.ts");
  assert.equal(await cell("calc__double", "calls").textContent(), "0");
  for (let i = 0; i < 5; i++) await c.client.callTool({ name: "calc__double", arguments: { n: i } });
  await page.waitForFunction(() => document.querySelector('#tools-table tr[data-tool="calc__double"] td.calls')?.textContent === "5");
  assert.notEqual(await cell("calc__double", "p50").textContent(), "–");
  assert.notEqual(await cell("calc__double", "p99").textContent(), "–");
  for (let i = 0; i < 3; i++) await c.client.callTool({ name: "calc__double", arguments: { n: "bad" } });
  await page.waitForFunction(() => document.querySelector('#tools-table tr[data-tool="calc__double"] td.calls')?.textContent === "8");
  assert.equal(await cell("calc__double", "errors").textContent(), "3");
  assert.equal(await cell("calc__double", "rate").textContent(), "37.5%");
  // a called plugin shows its worker's heap; one nobody called has no thread and says "parked"
  await page.waitForFunction(() => /\d/.test(document.querySelector('#plugins-table tr[data-plugin="calc"] td.memory')?.textContent ?? ""));
  await page.waitForFunction(() => document.querySelector('#plugins-table tr[data-plugin="idle"] td.memory')?.textContent === "parked");
  // the session shows with its transport and client name
  await page.locator("#sessions-table td", { hasText: "dashboard-test-client" }).waitFor();
});

test("calls to unknown tool names share one (unknown) row, not counted as a tool", { skip: SKIP }, async () => {
  for (const name of ["nope_a", "nope_b", "nope_c"]) await assert.rejects(c.client.callTool({ name, arguments: {} }));
  await page.waitForFunction(() => document.querySelector('#tools-table tr[data-tool="(unknown)"] td.calls')?.textContent === "3");
  assert.equal(await page.locator('#tools-table tr[data-tool^="nope_"]').count(), 0);
  assert.equal(await cell("calc__double", "calls").textContent(), "8", "the other rows keep their values across partial updates");
  assert.equal(await page.locator("#counts span").nth(1).textContent(), "2 tools", "calc and idle: the unknown names are not counted");
});

test("a trace opens as a waterfall with host and plugin spans", { skip: SKIP }, async () => {
  await page.locator("#traces-list li", { hasText: "tools/call calc__double" }).first().click();
  await page.locator(".wf-span.worker").first().waitFor();
  assert.ok((await page.locator(".wf-row").count()) >= 2);
  await page.locator(".attrs td", { hasText: "gen_ai.tool.name" }).waitFor();
});

test("a plugin broken on disk shows its error with file:line", { skip: SKIP }, async () => {
  const file = plugins.file("calc.ts", `import { definePlugin } from "mcp-patchbay";\nexport default definePlugin({\n  tools: { double: { handler: () => ) } },\n});\n`);
  const err = page.locator('#plugins-table tr.plugin-error[data-plugin="calc"] td.error');
  await err.waitFor();
  const text = (await err.textContent()) ?? "";
  assert.ok(text.includes(`${file}:3`), text);
  assert.match(text, /last good version keeps serving/);
  mkdirSync(OUT, { recursive: true });
  await page.screenshot({ path: join(OUT, "dashboard.png"), fullPage: true });
  assert.ok(existsSync(join(OUT, "dashboard.png")));
});

test("dark mode renders with the dark palette", { skip: SKIP }, async () => {
  await page.emulateMedia({ colorScheme: "dark" });
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(bg, "rgb(15, 17, 21)");
  await page.waitForTimeout(300); // the chart is rebuilt with the dark palette
  await page.screenshot({ path: join(OUT, "dashboard-dark.png"), fullPage: true });
});
