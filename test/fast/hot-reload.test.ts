/**
 * Hot reload with a connected client, in a temp plugins folder, against the real daemon.
 *
 * Every test owns its plugin (its own file or folder name), waits for that plugin's own
 * state rather than for "the next notification", and removes it — waiting until the daemon
 * has unloaded it — before it ends, so no reload of one test can land in another.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync, rmSync, mkdirSync, existsSync, readFileSync } from "node:fs";
import { TempDir, waitFor } from "../helpers/env.ts";
import { startInProcessDaemon, type InProcessDaemon } from "../helpers/in-process.ts";
import { httpClient, textOf, type RecordingClient } from "../helpers/clients.ts";

const plugins = new TempDir("patchbay-reload-");
let d: InProcessDaemon;
let c: RecordingClient;
const LIST = "notifications/tools/list_changed";

const say = (word: string) => `import { definePlugin, z } from "mcp-patchbay";
export default definePlugin({
  tools: {
    say: { description: "say a word", input: { times: z.number().int().default(1) }, handler: ({ times }) => Array(times).fill("${word}").join(" ") },
  },
});
`;

async function callText(name: string, args: Record<string, unknown> = {}) {
  return textOf(await c.client.callTool({ name, arguments: args }));
}
async function pluginState(name: string) {
  return (await d.health()).plugins.find((p: any) => p.name === name);
}
async function listed(tool: string) {
  return (await c.client.listTools()).tools.some((t) => t.name === tool);
}
/** Resolves once `tool` answers `expected` (a new version may take a moment to swap in). */
function serves(tool: string, expected: string, args: Record<string, unknown> = {}) {
  return waitFor(`${tool} → ${expected}`, async () => ((await callText(tool, args).catch(() => "")) === expected) || undefined);
}
/** Deletes a plugin's file or folder and waits until the daemon has unloaded it. */
async function removePlugin(rel: string, name: string) {
  rmSync(plugins.join(rel), { recursive: true, force: true });
  await waitFor(`${name} unloaded`, async () => !(await pluginState(name)) || undefined);
}

before(async () => {
  mkdirSync(plugins.join("empty"), { recursive: true });
  d = await startInProcessDaemon({ plugins: plugins.path });
  c = await httpClient(d.url);
});
after(async () => {
  await c?.close();
  await d?.stop();
  plugins.cleanup();
});

test("adding a plugin file sends tools/list_changed and the tool is callable", async () => {
  const n = c.count(LIST);
  plugins.file("added.ts", say("hi"));
  await waitFor("added__say listed", async () => (await listed("added__say")) || undefined);
  await c.waitNotification(LIST, n + 1);
  assert.equal(await callText("added__say", { times: 2 }), "hi hi");
  await removePlugin("added.ts", "added");
});

test("editing it changes behaviour", async () => {
  plugins.file("edited.ts", say("hi"));
  await serves("edited__say", "hi");
  plugins.file("edited.ts", say("ho"));
  await serves("edited__say", "ho");
  await removePlugin("edited.ts", "edited");
});

test("a syntax error keeps the old version serving and /healthz shows file:line; fixing it clears the error", async () => {
  plugins.file("syntax.ts", say("good"));
  await serves("syntax__say", "good");
  const file = plugins.file("syntax.ts", `import { definePlugin } from "mcp-patchbay";\nexport default definePlugin({\n  tools: {\n    say: { handler: () => "broken" ,, },\n  },\n});\n`);
  const p = await waitFor("error in healthz", async () => {
    const s = await pluginState("syntax");
    return s?.lastError ? s : undefined;
  });
  assert.equal(p.status, "loaded", "the last good version keeps serving");
  assert.equal(p.lastError.location.file, file);
  assert.equal(p.lastError.location.line, 4);
  assert.match(p.lastError.message, new RegExp(`syntax\\.ts:4:`));
  assert.equal(await callText("syntax__say"), "good");

  plugins.file("syntax.ts", say("fixed"));
  await serves("syntax__say", "fixed");
  assert.equal((await pluginState("syntax")).lastError, undefined);
  await removePlugin("syntax.ts", "syntax");
});

test("a plugin that throws at load reports the plugin's own file:line (source maps)", async () => {
  const file = plugins.file("thrower.ts", `// line 1\n// line 2\nconst x: number = 1;\nthrow new Error("boom at load " + x);\nexport default {};\n`);
  const p = await waitFor("load error", async () => {
    const s = await pluginState("thrower");
    return s?.lastError ? s : undefined;
  });
  assert.equal(p.status, "error");
  assert.match(p.lastError.message, /boom at load 1/);
  assert.equal(p.lastError.location.file, file);
  assert.equal(p.lastError.location.line, 4);
  await removePlugin("thrower.ts", "thrower");
});

test("an invalid plugin shape names the file and the bad field", async () => {
  plugins.file("shapeless.mjs", `export default { tools: { t: { description: "no handler" } } };\n`);
  const p = await waitFor("shape error", async () => {
    const s = await pluginState("shapeless");
    return s?.lastError ? s : undefined;
  });
  assert.match(p.lastError.message, /shapeless\.mjs: tools\.t\.handler: must be a function/);
  await removePlugin("shapeless.mjs", "shapeless");
});

test("editing a helper of a folder plugin reloads the plugin", async () => {
  const n = c.count(LIST);
  plugins.file("folder/helper.ts", `export const word = "alpha";\n`);
  plugins.file("folder/index.ts", `import { word } from "./helper.ts";\nexport default { tools: { word: { handler: () => word } } };\n`);
  await serves("folder__word", "alpha");
  await c.waitNotification(LIST, n + 1);
  plugins.file("folder/helper.ts", `export const word = "beta";\n`);
  await serves("folder__word", "beta");
  await removePlugin("folder", "folder");
});

test("a save that changes nothing visible sends no list_changed", async () => {
  plugins.file("quiet.ts", say("loud"));
  await serves("quiet__say", "loud");
  const v0 = (await pluginState("quiet")).version;
  const before = c.count(LIST);
  plugins.file("quiet.ts", say("quiet"));
  await waitFor("reloaded", async () => (await pluginState("quiet")).version > v0 || undefined);
  assert.equal(await callText("quiet__say"), "quiet");
  // a later visible change of the same plugin proves notifications still flow; the invisible one must not have sent any
  plugins.file("quiet.ts", say("quiet").replace(`say: {`, `shout: { handler: () => "QUIET" },\n    say: {`));
  await waitFor("quiet__shout listed", async () => (await listed("quiet__shout")) || undefined);
  await c.waitNotification(LIST, before + 1);
  assert.equal(c.count(LIST), before + 1);
  await removePlugin("quiet.ts", "quiet");
});

test("a call in flight during a reload finishes on the old version; new calls get the new one", async () => {
  // slow says when it runs and ends once the test lets it, after the new version serves
  const marks = new TempDir("patchbay-reload-marks-");
  const [began, release] = [marks.join("began"), marks.join("release")];
  const slow = (word: string) => `import { writeFileSync, existsSync } from "node:fs";
export default { tools: {
  slow: { handler: () => new Promise((r) => {
    writeFileSync(${JSON.stringify(began)}, "");
    const t = setInterval(() => existsSync(${JSON.stringify(release)}) && (clearInterval(t), r("${word}")), 20);
  }) },
  fast: { handler: () => "${word}" },
} };
`;
  plugins.file("drain.mjs", slow("old"));
  await serves("drain__fast", "old");
  const inflight = callText("drain__slow");
  await waitFor("the slow call running on the old version", () => existsSync(began) || undefined);
  plugins.file("drain.mjs", slow("new"));
  await serves("drain__fast", "new");
  writeFileSync(release, "");
  assert.equal(await inflight, "old");
  marks.cleanup();
  await removePlugin("drain.mjs", "drain");
});

test("setup runs before a version serves; teardown runs when it is replaced or deleted", async () => {
  // keepAlive: the thread of a version stays up between calls, so setup runs once per version
  const lifecycle = (v: string) => `import { appendFileSync } from "node:fs";
let dir;
export default {
  keepAlive: true,
  setup: (ctx) => { dir = ctx.dataDir; appendFileSync(dir + "/events.log", "setup ${v}\\n"); },
  teardown: () => appendFileSync(dir + "/events.log", "teardown ${v}\\n"),
  tools: { v: { handler: () => "${v}" } },
};
`;
  const log = () => (existsSync(`${d.home}/data/lifecycle/events.log`) ? readFileSync(`${d.home}/data/lifecycle/events.log`, "utf8") : "");
  plugins.file("lifecycle.mjs", lifecycle("v1"));
  await serves("lifecycle__v", "v1");
  assert.equal(log(), "setup v1\n");
  plugins.file("lifecycle.mjs", lifecycle("v2"));
  await waitFor("v2 and v1 torn down", async () => log().includes("teardown v1") || undefined);
  assert.equal(await callText("lifecycle__v"), "v2");
  assert.equal(log(), "setup v1\nsetup v2\nteardown v1\n");
  await removePlugin("lifecycle.mjs", "lifecycle");
  await waitFor("v2 torn down", () => log().includes("teardown v2") || undefined);
});

test("rapid successive saves end with the last version loaded", async () => {
  for (let i = 0; i < 10; i++) plugins.file("rapid.ts", say(`v${i}`));
  await serves("rapid__say", "v9");
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await callText("rapid__say"), "v9");
  await removePlugin("rapid.ts", "rapid");
});

test("deleting the file unloads the plugin and sends list_changed", async () => {
  plugins.file("doomed.ts", say("bye"));
  await serves("doomed__say", "bye");
  const n = c.count(LIST);
  rmSync(plugins.join("doomed.ts"));
  await waitFor("doomed__say gone", async () => !(await listed("doomed__say")) || undefined);
  await c.waitNotification(LIST, n + 1);
  await assert.rejects(c.client.callTool({ name: "doomed__say", arguments: {} }), /Unknown tool/);
  await waitFor("doomed unloaded", async () => !(await pluginState("doomed")) || undefined);
});

test("deleting a folder plugin unloads it", async () => {
  plugins.file("doomedfolder/helper.ts", `export const word = "here";\n`);
  plugins.file("doomedfolder/index.ts", `import { word } from "./helper.ts";\nexport default { tools: { word: { handler: () => word } } };\n`);
  await serves("doomedfolder__word", "here");
  rmSync(plugins.join("doomedfolder"), { recursive: true });
  await waitFor("doomedfolder gone", async () => !(await listed("doomedfolder__word")) || undefined);
  await waitFor("doomedfolder unloaded", async () => !(await pluginState("doomedfolder")) || undefined);
});

test("dotfiles and editor temp files are ignored", async () => {
  writeFileSync(plugins.join(".hidden.ts"), `export default { tools: { x: { handler: () => 1 } } };`);
  writeFileSync(plugins.join("temp.ts~"), `export default { tools: { x: { handler: () => 1 } } };`);
  plugins.file("visible.mjs", `export default { tools: { x: { handler: () => "v" } } };`);
  await serves("visible__x", "v");
  const names = (await d.health()).plugins.map((p: any) => p.name);
  assert.ok(names.includes("visible"));
  for (const n of names) assert.doesNotMatch(n, /hidden|temp/, `ignored file loaded as plugin "${n}"`);
  assert.ok(!(await c.client.listTools()).tools.some((t) => /hidden|temp/.test(t.name)));
  await removePlugin("visible.mjs", "visible");
});
