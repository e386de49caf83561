/**
 * The context-economy keys of the config (`expose`, `pin`, `searchThresholdTokens`, at the
 * top level and in each profile): a bad value is a clear error naming the key, from the file,
 * the environment and at `patchbay start`; and the search tools' names follow the separator.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { CLI, TempDir } from "./helpers/env.ts";
import { loadConfig } from "../daemon/config.ts";
import { ConfigError } from "../daemon/errors.ts";
import { builtinTools } from "../daemon/context/builtin-tools.ts";

const dir = new TempDir("patchbay-ctx-config-");
after(() => dir.cleanup());

const EXPOSE = /: must be "all", "search" or "auto"/;
const PIN = /a pin glob must not be empty/;
const THRESHOLD = /must be a whole number of tokens from 0 to 10000000/;

function rejects(config: unknown, key: string, message: RegExp) {
  const f = dir.file(`c${Math.random().toString(36).slice(2)}.json`, JSON.stringify(config));
  assert.throws(
    () => loadConfig({ config: f }, {}),
    (e: Error) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.ok(e.message.includes(f), e.message);
      assert.ok(e.message.includes(`"${key}"`), `${e.message} names ${key}`);
      assert.match(e.message, message);
      return true;
    },
  );
}

test("bad top-level values are config errors naming the key", () => {
  rejects({ expose: "sometimes" }, "expose", EXPOSE);
  rejects({ expose: true }, "expose", EXPOSE);
  rejects({ pin: [""] }, "pin.0", PIN);
  rejects({ pin: ["ok__*", ""] }, "pin.1", PIN);
  rejects({ pin: "a__*" }, "pin", /expected array/);
  rejects({ searchThresholdTokens: -1 }, "searchThresholdTokens", THRESHOLD);
  rejects({ searchThresholdTokens: 1.5 }, "searchThresholdTokens", THRESHOLD);
  rejects({ searchThresholdTokens: 10_000_001 }, "searchThresholdTokens", THRESHOLD);
  rejects({ searchThresholdTokens: "15000" }, "searchThresholdTokens", THRESHOLD);
});

test("the same keys inside a profile are checked and named with the profile", () => {
  rejects({ profiles: { p: { expose: "sometimes" } } }, "profiles.p.expose", EXPOSE);
  rejects({ profiles: { p: { pin: [""] } } }, "profiles.p.pin.0", PIN);
  rejects({ profiles: { p: { searchThresholdTokens: -1 } } }, "profiles.p.searchThresholdTokens", THRESHOLD);
  rejects({ profiles: { p: { exposed: "all" } } }, "profiles.p.exposed", /unknown key/);
});

test("good values load, with the defaults: all, no pins, 15000 tokens", () => {
  const none = dir.file("none.json", "{}");
  const c = loadConfig({ config: none }, {});
  assert.equal(c.expose, "all");
  assert.deepEqual(c.pin, []);
  assert.equal(c.searchThresholdTokens, 15_000);
  const f = dir.file("good.json", JSON.stringify({ expose: "auto", pin: ["a__*"], searchThresholdTokens: 0, profiles: { p: { expose: "search", pin: [], searchThresholdTokens: 10_000_000 } } }));
  const g = loadConfig({ config: f }, {});
  assert.equal(g.expose, "auto");
  assert.equal(g.searchThresholdTokens, 0);
  assert.deepEqual(g.profiles.p, { expose: "search", pin: [], searchThresholdTokens: 10_000_000 });
});

test("from the environment: PATCHBAY_EXPOSE and PATCHBAY_SEARCH_THRESHOLD_TOKENS, named", () => {
  const none = dir.file("env.json", "{}");
  assert.equal(loadConfig({ config: none }, { PATCHBAY_EXPOSE: "search" }).expose, "search");
  assert.equal(loadConfig({ config: none }, { PATCHBAY_SEARCH_THRESHOLD_TOKENS: "1200" }).searchThresholdTokens, 1200);
  assert.throws(() => loadConfig({ config: none }, { PATCHBAY_EXPOSE: "sometimes" }), (e: Error) => e instanceof ConfigError && /PATCHBAY_EXPOSE/.test(e.message) && EXPOSE.test(e.message));
  assert.throws(() => loadConfig({ config: none }, { PATCHBAY_SEARCH_THRESHOLD_TOKENS: "-1" }), (e: Error) => e instanceof ConfigError && /"searchThresholdTokens"/.test(e.message) && THRESHOLD.test(e.message));
});

test("patchbay start refuses a bad expose with exit 2 and the message, before listening", () => {
  const bad = dir.file("start.json", JSON.stringify({ expose: "sometimes" }));
  const r = spawnSync(process.execPath, [CLI, "start", "--port", "0", "--config", bad, "--plugins", dir.join("no-plugins")], { env: { ...process.env, PATCHBAY_HOME: dir.join("home") }, encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, EXPOSE);
  assert.doesNotMatch(r.stdout, /MCP \(HTTP\)/);
});

test('namespaceSeparator names the search tools: "_" → patchbay_search_tools, "" → patchbaysearch_tools; each description names the other', () => {
  for (const [sep, search, call] of [
    ["_", "patchbay_search_tools", "patchbay_call_tool"],
    ["-", "patchbay-search_tools", "patchbay-call_tool"],
    ["", "patchbaysearch_tools", "patchbaycall_tool"],
  ]) {
    const b = builtinTools(sep);
    assert.equal(b.searchName, search);
    assert.equal(b.callName, call);
    assert.deepEqual(b.items.map((t) => t.name), [search, call]);
    assert.ok(b.items[0].description!.includes(call) && b.items[1].description!.includes(search), sep);
    assert.ok(!JSON.stringify(b.items).includes("patchbay__"), sep);
  }
  const f = dir.file("sep.json", JSON.stringify({ namespaceSeparator: "_" }));
  assert.equal(loadConfig({ config: f }, {}).namespaceSeparator, "_");
});
