/**
 * Plugins asking the client (ctx.elicit, ctx.sample, ctx.roots) and notifying resource
 * subscribers (ctx.resourceUpdated), end to end on a real daemon with real workers, in both
 * eras. The handler is written once with awaits; the 2025 era asks on the session, the
 * 2026-07-28 revision answers input_required and replays the answers on the retry.
 *
 * A plugin context without ctx.elicit or ctx.resourceUpdated fails these tests rather than
 * skipping them: the worker side of the plugin API has landed, and a skip would hide losing
 * it (the host side alone is covered by mcp-client-requests.test.ts with a stand-in worker).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { TempDir } from "./helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "./helpers/daemon.ts";
import { textOf } from "./helpers/clients.ts";
import { ANSWERS, v2HttpClient, v2StdioClient, v2WsClient, type V2Client } from "./helpers/clients-v2.ts";

const plugins = new TempDir("patchbay-asks-");
const home = new TempDir("patchbay-asks-home-");
let d: RunningDaemon;
let support: { elicit: boolean; resourceUpdated: boolean } = { elicit: false, resourceUpdated: false };

before(async () => {
  plugins.file(
    "asks.mjs",
    `let runs = 0;
export default { name: "asks",
  tools: {
    probe: { handler: (_a, ctx) => JSON.stringify({ elicit: typeof ctx.elicit === "function", resourceUpdated: typeof ctx.resourceUpdated === "function" }) },
    interview: { handler: async (_a, ctx) => {
      runs++;
      const who = await ctx.elicit({ message: "Who?", requestedSchema: { type: "object", properties: { name: { type: "string", default: "Ada" } }, required: ["name"] } });
      const llm = await ctx.sample({ messages: [{ role: "user", content: { type: "text", text: "q" } }], maxTokens: 5 });
      const roots = await ctx.roots();
      return JSON.stringify({ who, llm, roots, runs });
    } },
    touch: { input: { type: "object", properties: { uri: { type: "string" } } }, handler: ({ uri }, ctx) => { ctx.resourceUpdated(uri); return "touched"; } },
  },
  resources: { "asks://doc": { read: () => "doc" }, "asks://other": { read: () => "other" } },
};\n`,
  );
  d = await startDaemonProcess({ plugins: plugins.path, home: home.path });
  const c = await v2HttpClient(d.url, { modern: true });
  support = JSON.parse(textOf(await c.client.callTool({ name: "asks__probe", arguments: {} })));
  await c.close();
});
after(async () => {
  await d?.stop();
  plugins.cleanup();
  home.cleanup();
});

function assertOffered(what: keyof typeof support): void {
  assert.equal(support[what], true, `a plugin's ctx.${what} is not a function in its thread`);
}

async function interview(c: V2Client) {
  const out = JSON.parse(textOf(await c.client.callTool({ name: "asks__interview", arguments: {} })));
  assert.deepEqual(out.who, ANSWERS.elicit({ message: "Who?" }));
  assert.deepEqual(out.llm, ANSWERS.sample());
  assert.deepEqual(out.roots, ANSWERS.roots());
  assert.deepEqual(c.asked.map((a) => a.method), ["elicitation/create", "sampling/createMessage", "roots/list"]);
  return out;
}

test("ctx.elicit / ctx.sample / ctx.roots in both eras over HTTP, WebSocket and stdio", async () => {
  assertOffered("elicit");
  const clients: V2Client[] = [];
  try {
    for (const open of [
      () => v2HttpClient(d.url, { modern: true }),
      () => v2HttpClient(d.url),
      () => v2WsClient(d.url, { modern: true }),
      () => v2WsClient(d.url),
      () => v2StdioClient(["--standalone", "--plugins", plugins.path], { PATCHBAY_HOME: home.path }, { modern: true }),
    ]) {
      const c = await open();
      clients.push(c);
      await interview(c);
    }
  } finally {
    for (const c of clients) await c.close().catch(() => undefined);
  }
});

test("ctx.resourceUpdated(uri) reaches subscribers of that URI only, in both eras", async () => {
  assertOffered("resourceUpdated");
  const legacy = await v2HttpClient(d.url);
  const modern = await v2HttpClient(d.url, { modern: true });
  const bystander = await v2HttpClient(d.url);
  try {
    await legacy.client.subscribeResource({ uri: "asks://doc" });
    const sub = await modern.client.listen({ resourceSubscriptions: ["asks://doc"] });
    await modern.client.callTool({ name: "asks__touch", arguments: { uri: "asks://other" } });
    await modern.client.callTool({ name: "asks__touch", arguments: { uri: "asks://doc" } });
    await legacy.waitNotification("notifications/resources/updated");
    await modern.waitNotification("notifications/resources/updated");
    for (const c of [legacy, modern]) assert.deepEqual(c.notifications.filter((n) => n.method === "notifications/resources/updated").map((n) => n.params.uri), ["asks://doc"]);
    assert.equal(bystander.count("notifications/resources/updated"), 0);
    await sub.close();
  } finally {
    for (const c of [legacy, modern, bystander]) await c.close().catch(() => undefined);
  }
});
