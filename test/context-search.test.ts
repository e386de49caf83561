/**
 * patchbay__search_tools and patchbay__call_tool against the live registry: a tool outside
 * the client's profile is never found and never callable (not even named as a near miss);
 * the index follows a plugin's add, edit and delete (a new tool is found by the first search
 * after list_changed, an edited description by its new words only, a deleted tool never);
 * and the two names follow `namespaceSeparator`.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { WebSocketClientTransport } from "@modelcontextprotocol/sdk/client/websocket.js";
import { StreamableHTTPClientTransport as V2HttpTransport } from "@modelcontextprotocol/client";
import { TempDir } from "./helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "./helpers/daemon.ts";
import { connect, ensureGlobalWebSocket, httpClient, textOf, type RecordingClient } from "./helpers/clients.ts";
import { connectV2, type V2Client } from "./helpers/clients-v2.ts";
import { countItem, exactContext, rawList } from "./helpers/context.ts";

const TOOLS_CHANGED = "notifications/tools/list_changed";
const SEARCH = "patchbay__search_tools";
const CALL = "patchbay__call_tool";

const home = new TempDir("patchbay-ctx-search-home-");
const plugins = new TempDir("patchbay-ctx-search-plugins-");
const cfg = new TempDir("patchbay-ctx-search-config-");
const configFile = cfg.file("patchbay.json", JSON.stringify({ expose: "search", pin: ["hidden__*", "visible__notes_read"], pageSize: 2, profiles: { narrow: { include: ["visible__*"] } } }));

const VISIBLE = `export default { name: "visible", description: "Notes",
  tools: {
    notes_read: { description: "Read a note by its title", input: { type: "object", properties: { title: { type: "string" } } }, handler: () => "a note" },
    notes_write: { description: "Write a note", input: { type: "object", properties: { title: { type: "string" }, body: { type: "string" } } }, handler: () => "written" },
    vault_status: { description: "Tell whether the vault is open or closed", handler: () => "closed" },
  },
};\n`;
const HIDDEN = `export default { name: "hidden", description: "The quartermaster's vault",
  tools: {
    vault_open: { description: "Open the quartermaster's vault of secret launch codes", input: { type: "object", properties: { code: { type: "string", description: "the combination" } } }, handler: () => "opened" },
  },
};\n`;
plugins.file("visible.mjs", VISIBLE);
plugins.file("hidden.mjs", HIDDEN);

let d: RunningDaemon;
const open: { close(): Promise<void> }[] = [];
async function keep<T extends { close(): Promise<void> }>(c: Promise<T>): Promise<T> {
  const client = await c;
  open.push(client);
  return client;
}

before(async () => {
  d = await startDaemonProcess({ plugins: plugins.path, home: home.path, args: ["--config", configFile] });
  ensureGlobalWebSocket();
});

after(async () => {
  for (const c of open) await c.close().catch(() => undefined);
  await d?.stop();
  plugins.cleanup();
  cfg.cleanup();
  home.cleanup();
});

type AnyClient = { client: { callTool(params: { name: string; arguments?: Record<string, unknown> }): Promise<any> } };
const call = (c: AnyClient, name: string, args: Record<string, unknown>) => c.client.callTool({ name, arguments: args });
async function found(c: AnyClient, query: string, limit = 20): Promise<string[]> {
  const r = await call(c, SEARCH, { query, limit });
  assert.ok(!r.isError, textOf(r));
  return r.structuredContent.tools.map((t: any) => t.name);
}

const HIDDEN_QUERIES = ["hidden__vault_open", "vault_open", "hidden", "quartermaster secret launch codes", "open the vault", "combination"];

test("the control: without a profile the hidden tool is found by each query and callable", async () => {
  const c = await keep(httpClient(d.url));
  for (const query of HIDDEN_QUERIES) assert.ok((await found(c, query)).includes("hidden__vault_open"), query);
  assert.equal(textOf(await call(c, CALL, { name: "hidden__vault_open", arguments: {} })), "opened");
});

test("profile leakage: a tool outside the profile is never found nor callable through call_tool, in both eras", async () => {
  const v1 = await keep(connect(new StreamableHTTPClientTransport(new URL(`${d.url}/mcp?profile=narrow`))));
  const ws = await keep(connect(new WebSocketClientTransport(new URL(`${d.url.replace(/^http/, "ws")}/ws?profile=narrow`))));
  const modern = await keep(connectV2(new V2HttpTransport(new URL(`${d.url}/mcp?profile=narrow`)), { modern: true }));
  const narrow = (await rawList(d.url, "tools/list", "?profile=narrow")).map((t) => t.name);
  // the inherited pins: the hidden one is not listed, nor counted in the view's search listing
  assert.deepEqual(narrow, [SEARCH, CALL, "visible__notes_read"]);
  // (two pages of two: pageSize applies to the search listing as to any other)
  assert.deepEqual((await rawList(d.url, "tools/list")).map((t) => t.name), [SEARCH, CALL, "hidden__vault_open", "visible__notes_read"], "the control: pinned in the default view");
  const ctx = await exactContext(() => d.health());
  const narrowCost = ctx.views.find((v: any) => v.view === "narrow");
  assert.equal(narrowCost.searchTokens, (await rawList(d.url, "tools/list", "?profile=narrow")).reduce((n, t) => n + countItem(t), 0));
  assert.equal(narrowCost.tools, 3);
  const visible = ["visible__notes_read", "visible__notes_write", "visible__vault_status"];
  for (const c of [v1, ws, modern] as AnyClient[]) {
    for (const query of HIDDEN_QUERIES) {
      const r = await call(c, SEARCH, { query, limit: 20 });
      const names = (r.structuredContent?.tools ?? []).map((t: any) => t.name);
      assert.ok(names.every((n: string) => visible.includes(n)), `${query}: ${names}`);
      // nothing of the hidden tool, besides the query the caller typed itself
      const said = JSON.stringify(r).replaceAll(JSON.stringify(query).slice(1, -1), "<query>");
      for (const secret of ["hidden", "vault_open", "quartermaster", "launch codes", "combination"]) assert.ok(!said.includes(secret), `${query}: ${said}`);
    }
    // the vault query finds the visible vault tool, so the search did run
    assert.ok((await found(c, "vault")).includes("visible__vault_status"));

    const refused = await call(c, CALL, { name: "hidden__vault_open", arguments: { code: "1234" } });
    assert.equal(refused.isError, true);
    const text = textOf(refused);
    assert.match(text, /^Unknown tool: hidden__vault_open\./);
    const rest = text.slice("Unknown tool: hidden__vault_open.".length);
    assert.ok(!rest.includes("hidden") && !rest.includes("quartermaster"), rest);
    const closest = /Closest: ([^.]*)\./.exec(rest)?.[1].split(", ") ?? [];
    assert.ok(closest.length > 0 && closest.every((n) => visible.includes(n)), rest);
    // …and exactly what a name that never existed gets
    const ghost = await call(c, CALL, { name: "ghost__vault_open", arguments: { code: "1234" } });
    assert.deepEqual(ghost, { ...refused, content: [{ type: "text", text: text.replaceAll("hidden__vault_open", "ghost__vault_open") }] });
    // a direct call is refused as unknown too
    await assert.rejects(call(c, "hidden__vault_open", {}), (e: any) => e.code === -32602 && /Unknown tool: hidden__vault_open/.test(e.message));
  }
  const h = await d.health();
  assert.equal(h.counts.tools, 4, "the hidden tool is loaded all along");
});

test("search_tools and call_tool check their own arguments, and call_tool does not call the search tools", async () => {
  const c = await keep(httpClient(d.url));
  const refused = async (name: string, args: Record<string, unknown>, message: RegExp) => {
    const r = await call(c, name, args);
    assert.equal(r.isError, true, JSON.stringify(r));
    assert.match(textOf(r), message);
  };
  await refused(SEARCH, { query: "" }, /"query" must be a non-empty string/);
  await refused(SEARCH, { query: "   " }, /"query" must be a non-empty string/);
  await refused(SEARCH, {}, /"query"/);
  for (const limit of [0, 21, 2.5, "3", -1]) await refused(SEARCH, { query: "note", limit }, /"limit" must be a whole number from 1 to 20/);
  assert.equal((await found(c, "note", 1)).length, 1);
  assert.deepEqual(await found(c, "nothing like this zzzqqq"), []);
  await refused(CALL, {}, /"name" must be the name of a tool/);
  await refused(CALL, { name: "" }, /"name" must be the name of a tool/);
  await refused(CALL, { name: "visible__notes_read", arguments: ["a"] }, /"arguments" must be an object/);
  await refused(CALL, { name: CALL, arguments: { name: "visible__notes_read" } }, /^Unknown tool: patchbay__call_tool\./);
  await refused(CALL, { name: SEARCH, arguments: { query: "note" } }, /^Unknown tool: patchbay__search_tools\./);
  // arguments may be left out: the tool gets none
  assert.equal(textOf(await call(c, CALL, { name: "visible__notes_read" })), "a note");
});

const FRESH = (description: string) => `export default { name: "fresh", tools: { gadget: { description: ${JSON.stringify(description)}, handler: () => "gadget" } } };\n`;

test("the index after add, edit and delete: found right after list_changed, by its new words only, then never", async () => {
  const legacy = await keep(httpClient(d.url));
  const modern: V2Client = await keep(connectV2(new V2HttpTransport(new URL(`${d.url}/mcp`)), { modern: true }));
  const sub = await modern.client.listen({ toolsListChanged: true });
  open.push({ close: () => sub.close() });
  const clients: [string, RecordingClient | V2Client][] = [
    ["2025 session", legacy],
    ["2026-07-28 listen", modern],
  ];
  const nextChange = async () => {
    const counts = clients.map(([, c]) => c.count(TOOLS_CHANGED));
    return () => Promise.all(clients.map(([, c], i) => c.waitNotification(TOOLS_CHANGED, counts[i] + 1, 60_000)));
  };
  for (const [, c] of clients) assert.deepEqual(await found(c as AnyClient, "xylophone tuning"), []);

  let heard = await nextChange();
  plugins.file("fresh.mjs", FRESH("Tune a xylophone, bar by bar"));
  await heard();
  for (const [label, c] of clients) assert.deepEqual(await found(c as AnyClient, "xylophone tuning"), ["fresh__gadget"], label);

  heard = await nextChange();
  plugins.file("fresh.mjs", FRESH("Groom a quokka, whisker by whisker"));
  await heard();
  for (const [label, c] of clients) {
    assert.deepEqual(await found(c as AnyClient, "quokka grooming"), ["fresh__gadget"], label);
    assert.deepEqual(await found(c as AnyClient, "xylophone tuning"), [], `${label}: the old words are gone`);
  }

  heard = await nextChange();
  rmSync(plugins.join("fresh.mjs"));
  await heard();
  for (const [label, c] of clients) {
    for (const query of ["quokka grooming", "fresh__gadget", "gadget", "fresh"]) assert.ok(!(await found(c as AnyClient, query)).includes("fresh__gadget"), `${label}: ${query}`);
    const gone = await call(c as AnyClient, CALL, { name: "fresh__gadget", arguments: {} });
    assert.equal(gone.isError, true, label);
    assert.match(textOf(gone), /^Unknown tool: fresh__gadget\./, label);
  }
});

test('namespaceSeparator "-": the search tools are patchbay-search_tools and patchbay-call_tool', async () => {
  const sepCfg = cfg.file("dash.json", JSON.stringify({ expose: "search", namespaceSeparator: "-" }));
  const sepHome = new TempDir("patchbay-ctx-search-sep-home-");
  const sep = await startDaemonProcess({ plugins: plugins.path, home: sepHome.path, args: ["--config", sepCfg] });
  try {
    const c = await httpClient(sep.url);
    try {
      const { tools } = await c.client.listTools();
      assert.deepEqual(tools.map((t) => t.name), ["patchbay-search_tools", "patchbay-call_tool"]);
      // the descriptions name the other tool with the same separator
      assert.ok(tools[0].description!.includes("patchbay-call_tool") && !tools[0].description!.includes("patchbay__"), tools[0].description);
      const r = await c.client.callTool({ name: "patchbay-search_tools", arguments: { query: "read a note" } });
      assert.equal((r.structuredContent as any).tools[0].name, "visible-notes_read");
      assert.match(textOf(r), /patchbay-call_tool/);
      assert.equal(textOf(await c.client.callTool({ name: "patchbay-call_tool", arguments: { name: "visible-notes_read", arguments: {} } })), "a note");
      await assert.rejects(c.client.callTool({ name: SEARCH, arguments: { query: "note" } }), (e: any) => e.code === -32602);
      const h = await sep.health();
      assert.deepEqual(h.context.views[0].effective, "search");
    } finally {
      await c.close();
    }
  } finally {
    await sep.stop();
    sepHome.cleanup();
  }
});
