/**
 * The search index of a new registry version is the previous one updated for the plugins
 * that changed: it must answer exactly as an index built afresh would, after an edit, an
 * addition and a removal, and an old version searched again must still see only its tools.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ExposedTool } from "../daemon/registry.ts";
import { indexOf, searchTools } from "../daemon/context/tool-search.ts";

type Def = { name: string; description: string; params?: Record<string, string> };

function plugin(name: string, defs: Def[], description = ""): ExposedTool[] {
  const p = { manifest: { name, version: "1.0.0", description } } as unknown as ExposedTool["plugin"];
  return defs.map((d) => ({
    exposed: `${name}__${d.name}`,
    plugin: p,
    info: {
      name: d.name,
      description: d.description,
      inputSchema: { type: "object", properties: Object.fromEntries(Object.entries(d.params ?? {}).map(([k, v]) => [k, { type: "string", description: v }])) },
    },
  })) as unknown as ExposedTool[];
}

const mapOf = (...tools: ExposedTool[][]) => new Map(tools.flat().map((t) => [t.exposed, t]));
/** Every definition a new object: the index cannot be reused, so it is built afresh. */
const rebuilt = (m: Map<string, ExposedTool>) => new Map([...m].map(([k, t]) => [k, { ...t, info: { ...t.info } }]));

const QUERIES = ["list files in a folder", "create an issue", "send a message to a channel", "weather forecast for tomorrow", "delete", "read"];

function answers(m: Map<string, ExposedTool>) {
  return QUERIES.map((q) => searchTools(m, q, 20).map((h) => `${h.tool.exposed} ${h.score.toFixed(9)}`).sort());
}

const files = plugin("files", [
  { name: "list_directory", description: "List the files and folders in a directory", params: { path: "Folder to list" } },
  { name: "read_file", description: "Read a file as text", params: { path: "File to read" } },
  { name: "delete_file", description: "Delete a file" },
]);
const tracker = plugin("tracker", [
  { name: "create_issue", description: "Create an issue in a project", params: { title: "Issue title" } },
  { name: "close_issue", description: "Close an issue" },
]);
const chat = plugin("chat", [{ name: "post_message", description: "Send a message to a channel", params: { channel: "Channel name" } }]);
const weather = plugin("weather", [{ name: "forecast", description: "Weather forecast for a city", params: { city: "City" } }]);
/** Unchanged throughout, so each change below is a small part of the whole (else a fresh build is cheaper). */
const filler = plugin(
  "misc",
  Array.from({ length: 12 }, (_, i) => ({ name: `tool_${i}`, description: `Miscellaneous helper number ${i} for notes, dates and sums` })),
);

test("an index updated for one plugin's edit, an addition and a removal answers as one built afresh", () => {
  const v1 = mapOf(filler, files, tracker, chat);
  const index = indexOf(v1);
  // the tracker plugin reloaded with a changed description; the others keep their objects
  const tracker2 = plugin("tracker", [
    { name: "create_issue", description: "Open a new ticket in a project", params: { title: "Ticket title" } },
    { name: "close_issue", description: "Close an issue" },
  ]);
  const v2 = mapOf(filler, files, tracker2, chat);
  const v3 = mapOf(filler, files, tracker2, chat, weather);
  const v4 = mapOf(filler, files, tracker2, weather);
  const got = [v2, v3, v4].map((v) => {
    assert.equal(indexOf(v), index, "the index is updated, not built afresh");
    return answers(v);
  });
  assert.equal(searchTools(v3, "weather forecast", 1)[0]?.tool.exposed, "weather__forecast");
  assert.ok(!searchTools(v4, "send a message to a channel", 20).some((h) => h.tool.exposed.startsWith("chat__")), "a removed plugin's tool is not found");
  // the reference builds come last: each of them replaces the index the next update starts from
  [v2, v3, v4].forEach((v, i) => assert.deepEqual(got[i], answers(rebuilt(v)), `version ${i + 2}`));
});

test("an old version searched after a newer one still finds only its own tools", () => {
  const old = mapOf(filler, files, chat);
  searchTools(old, "warm", 5);
  const newer = mapOf(filler, files, weather);
  assert.equal(searchTools(newer, "weather forecast", 1)[0]?.tool.exposed, "weather__forecast");
  const hits = searchTools(old, "weather forecast send message", 20).map((h) => h.tool.exposed);
  assert.ok(hits.includes("chat__post_message"), hits.join(", "));
  assert.ok(!hits.includes("weather__forecast"), hits.join(", "));
  assert.deepEqual(answers(newer), answers(rebuilt(newer)));
});
