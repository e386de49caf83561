/**
 * Hot reload with a connected client, in a temp plugins folder, against the real daemon.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync, rmSync, mkdirSync, existsSync, readFileSync } from "node:fs";
import { TempDir, waitFor } from "./helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "./helpers/daemon.ts";
import { httpClient, textOf, type RecordingClient } from "./helpers/clients.ts";

const plugins = new TempDir("patchbay-reload-");
let d: RunningDaemon;
let c: RecordingClient;
const LIST = "notifications/tools/list_changed";

const hello = (word: string) => `import { definePlugin, z } from "mcp-patchbay";
export default definePlugin({
  tools: {
    say: { description: "say a word", input: { times: z.number().int().default(1) }, handler: ({ times }) => Array(times).fill("${word}").join(" ") },
  },
});
`;

async function callText(name: string, args: Record<string, unknown> = {}) {
  return textOf(await c.client.callTool({ name, arguments: args }));
}

before(async () => {
  mkdirSync(plugins.join("empty"), { recursive: true });
  d = await startDaemonProcess({ plugins: plugins.path });
  c = await httpClient(d.url);
});
after(async () => {
  await c?.close();
  await d?.stop();
  plugins.cleanup();
});

test("adding a plugin file sends tools/list_changed and the tool is callable", async () => {
  const n = c.count(LIST);
  plugins.file("hello.ts", hello("hi"));
  await c.waitNotification(LIST, n + 1);
  const { tools } = await c.client.listTools();
  assert.ok(tools.some((t) => t.name === "hello__say"));
  assert.equal(await callText("hello__say", { times: 2 }), "hi hi");
});

test("editing it changes behaviour", async () => {
  plugins.file("hello.ts", hello("ho"));
  await waitFor("new behaviour", async () => (await callText("hello__say")) === "ho" || undefined);
});

test("a syntax error keeps the old version serving and /healthz shows file:line", async () => {
  const file = plugins.file("hello.ts", `import { definePlugin } from "mcp-patchbay";\nexport default definePlugin({\n  tools: {\n    say: { handler: () => "broken" ,, },\n  },\n});\n`);
  const h = await waitFor("error in healthz", async () => {
    const health = await d.health();
    const p = health.plugins.find((x: any) => x.name === "hello");
    return p?.lastError ? health : undefined;
  });
  const p = h.plugins.find((x: any) => x.name === "hello");
  assert.equal(p.status, "loaded", "the last good version keeps serving");
  assert.equal(p.lastError.location.file, file);
  assert.equal(p.lastError.location.line, 4);
  assert.match(p.lastError.message, new RegExp(`hello\\.ts:4:`));
  assert.equal(await callText("hello__say"), "ho");
});

test("fixing it clears the error", async () => {
  plugins.file("hello.ts", hello("fixed"));
  await waitFor("fixed", async () => (await callText("hello__say")) === "fixed" || undefined);
  const health = await d.health();
  assert.equal(health.plugins.find((x: any) => x.name === "hello").lastError, undefined);
});

test("a plugin that throws at load reports the plugin's own file:line (source maps)", async () => {
  const file = plugins.file("thrower.ts", `// line 1\n// line 2\nconst x: number = 1;\nthrow new Error("boom at load " + x);\nexport default {};\n`);
  const p = await waitFor("load error", async () => (await d.health()).plugins.find((x: any) => x.name === "thrower" && x.lastError));
  assert.equal(p.status, "error");
  assert.match(p.lastError.message, /boom at load 1/);
  assert.equal(p.lastError.location.file, file);
  assert.equal(p.lastError.location.line, 4);
  rmSync(file);
  await waitFor("thrower gone", async () => !(await d.health()).plugins.some((x: any) => x.name === "thrower") || undefined);
});

test("an invalid plugin shape names the file and the bad field", async () => {
  plugins.file("shapeless.mjs", `export default { tools: { t: { description: "no handler" } } };\n`);
  const p = await waitFor("shape error", async () => (await d.health()).plugins.find((x: any) => x.name === "shapeless" && x.lastError));
  assert.match(p.lastError.message, /shapeless\.mjs: tools\.t\.handler: must be a function/);
  rmSync(plugins.join("shapeless.mjs"));
  await waitFor("shapeless gone", async () => !(await d.health()).plugins.some((x: any) => x.name === "shapeless") || undefined);
});

test("editing a helper of a folder plugin reloads the plugin", async () => {
  const n = c.count(LIST);
  plugins.file("folder/helper.ts", `export const word = "alpha";\n`);
  plugins.file("folder/index.ts", `import { word } from "./helper.ts";\nexport default { tools: { word: { handler: () => word } } };\n`);
  await c.waitNotification(LIST, n + 1);
  assert.equal(await callText("folder__word"), "alpha");
  plugins.file("folder/helper.ts", `export const word = "beta";\n`);
  await waitFor("helper reload", async () => (await callText("folder__word")) === "beta" || undefined);
});

test("a save that changes nothing visible sends no list_changed", async () => {
  const before = c.count(LIST);
  const health0 = await d.health();
  const v0 = health0.plugins.find((x: any) => x.name === "hello").version;
  plugins.file("hello.ts", hello("quiet"));
  await waitFor("reloaded", async () => (await d.health()).plugins.find((x: any) => x.name === "hello").version > v0 || undefined);
  assert.equal(await callText("hello__say"), "quiet");
  // a later visible change proves notifications still flow; the invisible one must not have sent any
  plugins.file("folder/index.ts", `import { word } from "./helper.ts";\nexport default { tools: { word: { handler: () => word }, word2: { handler: () => word } } };\n`);
  await c.waitNotification(LIST, before + 1);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(c.count(LIST), before + 1);
});

test("a call in flight during a reload finishes on the old version; new calls get the new one", async () => {
  const slow = (word: string) => `export default { tools: { slow: { handler: () => new Promise((r) => setTimeout(() => r("${word}"), 700)) }, fast: { handler: () => "${word}" } } };\n`;
  const n = c.count(LIST);
  plugins.file("drain.mjs", slow("old"));
  await c.waitNotification(LIST, n + 1);
  const inflight = callText("drain__slow");
  await new Promise((r) => setTimeout(r, 100));
  plugins.file("drain.mjs", slow("new"));
  await waitFor("new version", async () => (await callText("drain__fast")) === "new" || undefined);
  assert.equal(await inflight, "old");
  rmSync(plugins.join("drain.mjs"));
});

test("setup runs before a version serves; teardown runs when it is replaced or deleted", async () => {
  const lifecycle = (v: string) => `import { appendFileSync } from "node:fs";
let dir;
export default {
  setup: (ctx) => { dir = ctx.dataDir; appendFileSync(dir + "/events.log", "setup ${v}\\n"); },
  teardown: () => appendFileSync(dir + "/events.log", "teardown ${v}\\n"),
  tools: { v: { handler: () => "${v}" } },
};
`;
  const log = () => (existsSync(`${d.home}/data/lifecycle/events.log`) ? readFileSync(`${d.home}/data/lifecycle/events.log`, "utf8") : "");
  plugins.file("lifecycle.mjs", lifecycle("v1"));
  await waitFor("v1", async () => (await callText("lifecycle__v").catch(() => "")) === "v1" || undefined);
  assert.equal(log(), "setup v1\n");
  plugins.file("lifecycle.mjs", lifecycle("v2"));
  await waitFor("v2 and v1 torn down", async () => log().includes("teardown v1") || undefined);
  assert.equal(await callText("lifecycle__v"), "v2");
  assert.equal(log(), "setup v1\nsetup v2\nteardown v1\n");
  rmSync(plugins.join("lifecycle.mjs"));
  await waitFor("v2 torn down", () => log().includes("teardown v2") || undefined);
});

test("rapid successive saves end with the last version loaded", async () => {
  for (let i = 0; i < 10; i++) plugins.file("hello.ts", hello(`v${i}`));
  await waitFor("last version", async () => (await callText("hello__say")) === "v9" || undefined);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await callText("hello__say"), "v9");
});

test("deleting the file unloads the plugin and sends list_changed", async () => {
  const n = c.count(LIST);
  rmSync(plugins.join("hello.ts"));
  await c.waitNotification(LIST, n + 1);
  const { tools } = await c.client.listTools();
  assert.ok(!tools.some((t) => t.name === "hello__say"));
  await assert.rejects(c.client.callTool({ name: "hello__say", arguments: {} }), /Unknown tool/);
});

test("deleting a folder plugin unloads it", async () => {
  rmSync(plugins.join("folder"), { recursive: true });
  await waitFor("folder gone", async () => !(await c.client.listTools()).tools.some((t) => t.name.startsWith("folder__")) || undefined);
});

test("dotfiles and editor temp files are ignored", async () => {
  writeFileSync(plugins.join(".hidden.ts"), `export default { tools: { x: { handler: () => 1 } } };`);
  writeFileSync(plugins.join("temp.ts~"), `export default { tools: { x: { handler: () => 1 } } };`);
  plugins.file("visible.mjs", `export default { tools: { x: { handler: () => "v" } } };`);
  await waitFor("visible loaded", async () => (await c.client.listTools()).tools.some((t) => t.name === "visible__x") || undefined);
  const health = await d.health();
  assert.deepEqual(health.plugins.map((p: any) => p.name).sort(), ["visible"]);
});
