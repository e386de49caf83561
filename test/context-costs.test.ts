/**
 * What every listed definition costs, counted: the daemon's o200k counts (/healthz `context`,
 * /api/overview, the gauge on /metrics) against counts made here, with the same open
 * tokenizer, of the list items exactly as a client receives them; totals per plugin and per
 * view following reloads and profiles; and the counting process that ends when idle.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { spawn, spawnSync } from "node:child_process";
import { countTokens, encode, decode } from "gpt-tokenizer/encoding/o200k_base";
import { CLI, TempDir, waitFor } from "./helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "./helpers/daemon.ts";
import { countItem, exactContext, gaugeSeries, rawList } from "./helpers/context.ts";
import { TokenCounter } from "../daemon/context/token-counter.ts";

const home = new TempDir("patchbay-ctx-costs-home-");
const plugins = new TempDir("patchbay-ctx-costs-plugins-");
const cfg = new TempDir("patchbay-ctx-costs-config-");
const configFile = cfg.file("patchbay.json", JSON.stringify({ profiles: { onlyRich: { include: ["rich__*"] }, onlyTiny: { include: ["tiny__*"], expose: "search", pin: ["tiny__ping"] }, at23: { include: ["tiny__*"], expose: "auto", searchThresholdTokens: 23 }, at22: { include: ["tiny__*"], expose: "auto", searchThresholdTokens: 22 } } }));

/** The smallest definition there is: its list item is counted by hand below. */
const TINY = `export default { name: "tiny", tools: { ping: { description: "Ping", handler: () => "pong" } } };\n`;
/** Every field a list item can carry: title, description, input and output schema, annotations; a prompt and a template too. */
const RICH = (extra = "", lookupDescription = "Look up a customer record by id or e-mail address, and return its contact details.") => `export default {
  name: "rich",
  description: "Customer records",
  tools: {
    lookup: {
      title: "Customer lookup — café ☕",
      description: ${JSON.stringify(lookupDescription)},
      input: { type: "object", properties: { id: { type: "string", description: "The customer's id, e.g. C-1042" }, email: { type: "string", format: "email" }, fields: { type: "array", items: { type: "string", enum: ["name", "phone", "address"] }, maxItems: 3 } }, additionalProperties: false },
      output: { type: "object", properties: { name: { type: "string" }, phone: { type: "string" } }, required: ["name"] },
      annotations: { title: "Lookup", readOnlyHint: true, openWorldHint: false },
      handler: () => ({ name: "Ada", phone: "1" }),
    },${extra}
  },
  prompts: { summary: { title: "Summary", description: "Summarise a customer's history", arguments: [{ name: "id", description: "customer id", required: true }], render: () => "sum" } },
  resourceTemplates: { "customer://{id}": { name: "customer", description: "One customer as JSON", mimeType: "application/json", read: () => "{}" } },
};\n`;
const ARCHIVE_TOOL = `
    archive: { description: "Archive a customer who has left, keeping their history for the auditors.", input: { type: "object", properties: { id: { type: "string" } }, required: ["id"] }, handler: () => "archived" },`;

let d: RunningDaemon;

before(async () => {
  plugins.file("tiny.mjs", TINY);
  plugins.file("rich.mjs", RICH());
  d = await startDaemonProcess({ plugins: plugins.path, home: home.path, args: ["--config", configFile] });
});

after(async () => {
  await d?.stop();
  plugins.cleanup();
  cfg.cleanup();
  home.cleanup();
});

const view = (c: any, name: string) => c.views.find((v: any) => v.view === name);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

test("the tokenizer, counted by hand: the tiny tool's list item is these 23 o200k pieces", async () => {
  const [item] = (await rawList(d.url, "tools/list", "?profile=onlyTiny")).filter((t) => t.name === "tiny__ping");
  const text = JSON.stringify(item);
  assert.equal(text, `{"name":"tiny__ping","description":"Ping","inputSchema":{"type":"object","properties":{}}}`);
  const pieces = ['{"', "name", '":"', "tiny", "__", "ping", '","', "description", '":"', "Ping", '","', "input", "Schema", '":{"', "type", '":"', "object", '","', "properties", '":', "{", "}}", "}"];
  assert.equal(pieces.join(""), text);
  assert.deepEqual(encode(text).map((t) => decode([t])), pieces);
  assert.equal(countTokens(text), 23);
  const c = await exactContext(() => d.health());
  assert.equal(c.encoding, "o200k_base");
  assert.deepEqual(c.topTools.find((t: any) => t.name === "tiny__ping"), { name: "tiny__ping", plugin: "tiny", tokens: 23 });
  assert.deepEqual(c.plugins.find((p: any) => p.plugin === "tiny"), { plugin: "tiny", tools: 1, tokens: 23 });
  // the profile that sees only it: 23 in full, and its search listing is the two search tools + the pinned 23
  assert.equal(view(c, "onlyTiny").allTokens, 23);
  assert.equal(view(c, "onlyTiny").tools, 1);
});

test("auto at the threshold: a listing of exactly searchThresholdTokens is still listed in full; one token over is search", async () => {
  const c = await exactContext(() => d.health());
  assert.deepEqual([view(c, "at23").allTokens, view(c, "at23").effective], [23, "all"]);
  assert.deepEqual([view(c, "at22").allTokens, view(c, "at22").effective], [23, "search"]);
  assert.deepEqual((await rawList(d.url, "tools/list", "?profile=at23")).map((t) => t.name), ["tiny__ping"]);
  assert.deepEqual((await rawList(d.url, "tools/list", "?profile=at22")).map((t) => t.name), ["patchbay__search_tools", "patchbay__call_tool"]);
});

test("a profile named default: the view without a profile is shown as (no profile), in /healthz and on the gauge", async () => {
  const file = cfg.file("default-profile.json", JSON.stringify({ profiles: { default: { include: ["tiny__*"] } } }));
  const h = new TempDir("patchbay-ctx-costs-home2-");
  const other = await startDaemonProcess({ plugins: plugins.path, home: h.path, args: ["--config", file] });
  try {
    const c = await exactContext(() => other.health());
    assert.deepEqual(c.views.map((v: any) => [v.view, v.tools]), [["(no profile)", 2], ["default", 1]]);
    const gauge = await gaugeSeries(other.url, "patchbay_tools_listing_tokens", "patchbay_profile");
    assert.deepEqual(gauge, { "(no profile)": view(c, "(no profile)").listedTokens, default: 23 });
  } finally {
    await other.stop();
    h.cleanup();
  }
});

test("each tool, prompt and template costs exactly the o200k count of its list item as received; totals add up", async () => {
  const c = await exactContext(() => d.health());
  const tools = await rawList(d.url, "tools/list");
  const prompts = await rawList(d.url, "prompts/list");
  const templates = await rawList(d.url, "resources/templates/list");
  const lookup = tools.find((t) => t.name === "rich__lookup");
  // the item really carries every field the count must include
  assert.deepEqual(Object.keys(lookup).sort(), ["annotations", "description", "inputSchema", "name", "outputSchema", "title"]);
  assert.ok(countItem(lookup) > 100, String(countItem(lookup)));
  for (const t of tools) assert.equal(c.topTools.find((x: any) => x.name === t.name)?.tokens, countItem(t), t.name);
  assert.equal(c.totals.tools, tools.length);
  assert.equal(c.totals.toolTokens, sum(tools.map(countItem)));
  assert.equal(c.totals.prompts, prompts.length);
  assert.equal(c.totals.promptTokens, sum(prompts.map(countItem)));
  assert.equal(c.totals.templates, templates.length);
  assert.equal(c.totals.templateTokens, sum(templates.map(countItem)));
  assert.equal(c.totals.definitionTokens, c.totals.toolTokens + c.totals.promptTokens + c.totals.templateTokens);
  assert.deepEqual(c.plugins.find((p: any) => p.plugin === "rich"), { plugin: "rich", tools: 1, tokens: countItem(lookup) });
  const def = view(c, "default");
  assert.equal(def.expose, "all");
  assert.equal(def.allTokens, c.totals.toolTokens);
  assert.equal(def.listedTokens, def.allTokens);
  assert.equal(def.promptTokens, c.totals.promptTokens);
  assert.equal(def.templateTokens, c.totals.templateTokens);
  // the search-mode listing of onlyTiny is counted from what such a client receives
  const searchListing = await rawList(d.url, "tools/list", "?profile=onlyTiny");
  assert.deepEqual(searchListing.map((t) => t.name), ["patchbay__search_tools", "patchbay__call_tool", "tiny__ping"]);
  assert.equal(view(c, "onlyTiny").searchTokens, sum(searchListing.map(countItem)));
  assert.equal(view(c, "onlyTiny").listedTokens, view(c, "onlyTiny").searchTokens);

  // the dashboard's JSON API says the same, and each tool row carries its count
  const overview = await (await fetch(`${d.url}/api/overview`)).json();
  assert.deepEqual(overview.context, c);
  for (const t of tools) assert.equal(overview.tools.find((r: any) => r.name === t.name)?.tokens, countItem(t), `${t.name}'s dashboard row`);
});

test("patchbay status prints the context cost: totals, each view's listing, the most expensive plugins", async () => {
  const c = await exactContext(() => d.health());
  const r = spawnSync(process.execPath, [CLI, "status", "--config", configFile], { env: { ...process.env, PATCHBAY_HOME: home.path }, encoding: "utf8", timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split("\n");
  const at = lines.findIndex((l) => l.startsWith("Context cost"));
  assert.ok(at >= 0, r.stdout);
  const { toolTokens, promptTokens, templateTokens } = c.totals;
  assert.ok(toolTokens < 10_000, "small numbers are printed whole");
  assert.equal(lines[at], `Context cost (estimated tokens, o200k_base): tools ${toolTokens}, prompts ${promptTokens}, resource templates ${templateTokens}`);
  const row = (name: string) => lines.slice(at + 1).find((l) => l.trim().startsWith(name + " "))?.replace(/\s+/g, " ").trim();
  assert.equal(row("default"), `default 2 tools all: ${view(c, "default").allTokens}`);
  assert.equal(row("onlyRich"), `onlyRich 1 tools all: ${view(c, "onlyRich").allTokens}`);
  assert.equal(row("onlyTiny"), `onlyTiny 1 tools search: ${view(c, "onlyTiny").searchTokens} listed instead of 23`);
  const rich = c.plugins.find((p: any) => p.plugin === "rich").tokens;
  assert.ok(lines.includes(`  most expensive plugins: rich ${rich}, tiny 23`), r.stdout);
});

/** Waits for the listing to show `ready`, then for exact counts, and checks every figure against the raw listings. */
async function settled(ready: (tools: any[]) => boolean, what: string) {
  await waitFor(what, async () => ready(await rawList(d.url, "tools/list")) || undefined, 60_000, 50);
  const c = await exactContext(() => d.health());
  const all = await rawList(d.url, "tools/list");
  assert.ok(ready(all), `${what}: the listing moved on`);
  const onlyRich = await rawList(d.url, "tools/list", "?profile=onlyRich");
  const byPlugin = new Map<string, number>();
  for (const t of all) byPlugin.set(t.name.split("__")[0], (byPlugin.get(t.name.split("__")[0]) ?? 0) + countItem(t));
  assert.deepEqual(
    c.plugins.map((p: any) => [p.plugin, p.tokens]).sort(),
    [...byPlugin].sort(),
    `${what}: per-plugin totals`,
  );
  assert.equal(view(c, "default").allTokens, sum(all.map(countItem)), `${what}: default view`);
  assert.equal(view(c, "onlyRich").allTokens, sum(onlyRich.map(countItem)), `${what}: onlyRich view`);
  // the gauge carries one series per view, each the tokens that view's clients are listed
  const gauge = await gaugeSeries(d.url, "patchbay_tools_listing_tokens", "patchbay_profile");
  assert.deepEqual(gauge, Object.fromEntries(c.views.map((v: any) => [v.view, v.listedTokens])), `${what}: gauge`);
  assert.deepEqual(Object.keys(gauge).sort(), ["at22", "at23", "default", "onlyRich", "onlyTiny"]);
  return { c, all };
}

test("totals follow reloads (add a tool, change a description, delete a plugin) and profiles; the gauge has one series per view", async () => {
  const start = await settled((t) => t.length === 2, "the start");
  const richAt = (c: any) => c.plugins.find((p: any) => p.plugin === "rich")?.tokens;
  // a profile that excludes a plugin costs less
  assert.ok(view(start.c, "onlyRich").allTokens < view(start.c, "default").allTokens);
  assert.equal(view(start.c, "onlyRich").allTokens, richAt(start.c));

  plugins.file("rich.mjs", RICH(ARCHIVE_TOOL));
  const added = await settled((t) => t.some((x) => x.name === "rich__archive"), "a tool added");
  const archive = added.all.find((t) => t.name === "rich__archive");
  assert.equal(richAt(added.c), richAt(start.c) + countItem(archive));
  assert.equal(view(added.c, "default").allTokens, view(start.c, "default").allTokens + countItem(archive));
  assert.equal(view(added.c, "onlyTiny").allTokens, view(start.c, "onlyTiny").allTokens, "a view without the plugin does not move");

  const longer = "Look up a customer record by id or e-mail address, and return its contact details, its order history for the last twelve months, and any open support tickets.";
  plugins.file("rich.mjs", RICH(ARCHIVE_TOOL, longer));
  const edited = await settled((t) => t.some((x) => x.description === longer), "a description changed");
  const before = countItem(added.all.find((t) => t.name === "rich__lookup"));
  const after_ = countItem(edited.all.find((t) => t.name === "rich__lookup"));
  assert.ok(after_ > before);
  assert.equal(richAt(edited.c), richAt(added.c) - before + after_);

  rmSync(plugins.join("rich.mjs"));
  const gone = await settled((t) => t.every((x) => !x.name.startsWith("rich__")), "a plugin deleted");
  assert.equal(richAt(gone.c), undefined);
  assert.equal(view(gone.c, "onlyRich").allTokens, 0);
  assert.equal(view(gone.c, "onlyRich").tools, 0);
  assert.equal(view(gone.c, "default").allTokens, 23);
  assert.equal(gone.c.totals.promptTokens, 0);
  assert.equal(gone.c.totals.templateTokens, 0);

  plugins.file("rich.mjs", RICH());
  const back = await settled((t) => t.length === 2, "the plugin back");
  assert.deepEqual(back.c.plugins, start.c.plugins);
});

/** The daemon's token-counting child processes (Linux: read from /proc). */
function countingChildren(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid && readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("token-count-process")) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

test("the daemon's counting process exits when idle, and a reload starts one again", { skip: process.platform !== "linux" && "reads /proc" }, async () => {
  const pid = d.proc.pid!;
  // the scan finds such a process: one of this test's own, named alike
  const decoy = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)", "token-count-process"], { stdio: "ignore" });
  try {
    await waitFor("the decoy seen", () => countingChildren(process.pid).includes(decoy.pid!) || undefined, 30_000);
  } finally {
    decoy.kill();
  }
  // new text to count: exact counts, then no process left once it has been idle a while
  plugins.file("tiny.mjs", TINY.replace(`"Ping"`, `"Ping, once more"`));
  await waitFor("the description on the listing", async () => (await rawList(d.url, "tools/list")).some((t) => t.description === "Ping, once more") || undefined, 60_000, 50);
  const c = await exactContext(() => d.health());
  assert.equal(c.plugins.find((p: any) => p.plugin === "tiny").tokens, countItem({ name: "tiny__ping", description: "Ping, once more", inputSchema: { type: "object", properties: {} } }));
  await waitFor("the idle counting process to exit", () => countingChildren(pid).length === 0 || undefined, 60_000, 100);
  plugins.file("tiny.mjs", TINY);
});

test("the counting process ends when idle, starts again for new work, and counts as the tokenizer does", async () => {
  const counter = new TokenCounter({ idleMs: 50 });
  try {
    assert.equal(counter.running, false, "nothing to count: no process");
    const texts = ["hello world", JSON.stringify({ name: "a__b", inputSchema: { type: "object", properties: {} } })];
    await counter.countAll(texts);
    assert.equal(counter.failed, undefined);
    assert.deepEqual(texts.map((t) => counter.cached(t)), texts.map((t) => countTokens(t)));
    assert.equal(counter.cached(texts[1]), 19);
    await waitFor("the idle counting process to end", () => !counter.running || undefined, 30_000);
    // cached: no process is started for texts already counted
    await counter.countAll(texts);
    assert.equal(counter.running, false);
    await counter.countAll(["something new"]);
    assert.equal(counter.cached("something new"), countTokens("something new"));
    await waitFor("the idle counting process to end again", () => !counter.running || undefined, 30_000);
  } finally {
    await counter.close();
  }
  // a process that cannot start: the caller is never failed, counts stay estimates
  const broken = new TokenCounter({ idleMs: 50, entry: plugins.join("no-such-thread.js") });
  await broken.countAll(["x"]);
  assert.equal(broken.cached("x"), undefined);
  assert.equal(typeof broken.failed, "string");
  await broken.countAll(["y"]);
  await waitFor("the broken process gone", () => !broken.running || undefined, 30_000);
  await broken.close();

  const closing = new TokenCounter({ idleMs: 60_000 });
  await closing.countAll(["x"]);
  assert.equal(closing.running, true, "busy a moment ago: still there within its idle time");
  await closing.close();
  await waitFor("close() to end the process", () => !closing.running || undefined, 30_000);
});
