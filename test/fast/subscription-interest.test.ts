/**
 * Resource subscriptions as a signal to the plugin serving the URI, against a real daemon,
 * a real stdio upstream (SDK v1 McpServer, run by this Node) and official SDK clients:
 *
 * - an upstream server is subscribed on demand, with each URI's first subscriber (a 2025
 *   session or a 2026-07-28 listen stream), including template URIs and resources past the
 *   first 100, and unsubscribed with its last one (unsubscribe, the session ending, the
 *   stream closing, over HTTP and WebSocket); the upstream itself reports what it is subscribed to. After a
 *   reconnect the live set is subscribed again.
 * - a code plugin that pushes updates from an unref'd timer set in `setup` is started when
 *   a client subscribes, stays running while subscribed (`keptAliveBy: "subscribers"`) and
 *   keeps sending, and is parked again once the last subscriber has left. A reload hands
 *   the subscribers to the new version.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, TempDir, waitFor } from "../helpers/env.ts";
import { startInProcessDaemon, type InProcessDaemon } from "../helpers/in-process.ts";
import { httpClient, textOf, type RecordingClient } from "../helpers/clients.ts";
import { v2HttpClient, v2WsClient } from "../helpers/clients-v2.ts";

const UPDATED = "notifications/resources/updated";
const req = createRequire(join(ROOT, "package.json"));
const root = new TempDir("patchbay-subs-");
const pluginsDir = root.join("plugins");

// Subscribable, with a template and more than 100 listed resources; it sends updates only
// for URIs it is subscribed to, and says which those are.
const serverJs = root.file(
  "servers/subs-server.cjs",
  `const { McpServer, ResourceTemplate } = require(${JSON.stringify(req.resolve("@modelcontextprotocol/sdk/server/mcp.js"))});
const { StdioServerTransport } = require(${JSON.stringify(req.resolve("@modelcontextprotocol/sdk/server/stdio.js"))});
const { SubscribeRequestSchema, UnsubscribeRequestSchema } = require(${JSON.stringify(req.resolve("@modelcontextprotocol/sdk/types.js"))});
const { z } = require(${JSON.stringify(req.resolve("zod"))});
const server = new McpServer({ name: "subs-server", version: "1.0.0" });
const subs = new Set();
for (let i = 0; i < 120; i++) server.registerResource("n" + i, "note://n/" + i, {}, async (uri) => ({ contents: [{ uri: uri.href, text: "n" + i }] }));
server.registerResource("item", new ResourceTemplate("note://item/{id}", { list: undefined }), {}, async (uri, { id }) => ({ contents: [{ uri: uri.href, text: "item " + id }] }));
server.registerTool("subs", { description: "what this server is subscribed to" }, async () => ({ content: [{ type: "text", text: JSON.stringify({ pid: process.pid, subs: [...subs].sort() }) }] }));
server.registerTool("touch", { inputSchema: { uri: z.string() } }, async ({ uri }) => {
  if (!subs.has(uri)) return { content: [{ type: "text", text: "not subscribed" }] };
  await server.server.sendResourceUpdated({ uri });
  return { content: [{ type: "text", text: "sent" }] };
});
server.server.registerCapabilities({ resources: { subscribe: true } });
server.server.setRequestHandler(SubscribeRequestSchema, async (r) => { subs.add(r.params.uri); return {}; });
server.server.setRequestHandler(UnsubscribeRequestSchema, async (r) => { subs.delete(r.params.uri); return {}; });
server.connect(new StdioServerTransport());
`,
);
root.file("plugins/up.mcp.json", JSON.stringify({ command: process.execPath, args: [serverJs] }));
// setup starts an unref'd timer: parking is never refused for it, so only subscribers keep it up
const tickerSource = `import { appendFileSync } from "node:fs";
let t;
let dir;
export default {
  resources: { "ticker://now": { read: () => String(Date.now()) } },
  setup: (ctx) => {
    dir = ctx.dataDir;
    appendFileSync(dir + "/events.log", "setup\\n");
    t = setInterval(() => ctx.resourceUpdated("ticker://now"), 50);
    t.unref();
  },
  teardown: () => {
    clearInterval(t);
    appendFileSync(dir + "/events.log", "teardown\\n");
  },
  tools: { hi: { handler: () => "hi" } },
};
`;
const tickerFile = root.file("plugins/ticker.mjs", tickerSource);

let d: InProcessDaemon;
let c: RecordingClient;

before(async () => {
  d = await startInProcessDaemon({ plugins: pluginsDir, env: { PATCHBAY_WORKER_IDLE_MS: "200" } });
  c = await httpClient(d.url);
});
after(async () => {
  await c?.close().catch(() => undefined);
  await d?.stop();
  root.cleanup();
});

const upstream = async (): Promise<{ pid: number; subs: string[] }> => JSON.parse(textOf(await c.client.callTool({ name: "up__subs", arguments: {} })));
const upstreamSubs = (want: string[]) => waitFor(`upstream subscribed to ${JSON.stringify(want)}`, async () => {
  const u = await upstream();
  return JSON.stringify(u.subs) === JSON.stringify([...want].sort()) ? u : undefined;
});
const ticker = async () => (await d.health()).plugins.find((p: any) => p.name === "ticker");
const tickerIs = (worker: "running" | "parked", keptAliveBy?: string) =>
  waitFor(`ticker ${worker}${keptAliveBy ? ` kept alive by ${keptAliveBy}` : ""}`, async () => {
    const p = await ticker();
    return p?.worker === worker && p.keptAliveBy === keptAliveBy ? p : undefined;
  });
const events = () => {
  const f = `${d.home}/data/ticker/events.log`;
  return existsSync(f) ? readFileSync(f, "utf8") : "";
};

test("upstream: nothing is subscribed upstream until a client subscribes; a template URI and one past the first 100 are forwarded and their updates arrive", async () => {
  const listed: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await c.client.listResources({ cursor });
    listed.push(...page.resources.map((r) => r.uri));
    cursor = page.nextCursor;
  } while (cursor);
  assert.equal(listed.filter((u) => u.startsWith("note://n/")).length, 120);
  assert.deepEqual((await upstream()).subs, [], "no eager subscriptions at connect");
  await c.client.subscribeResource({ uri: "note://item/42" });
  await c.client.subscribeResource({ uri: "note://n/110" });
  await upstreamSubs(["note://item/42", "note://n/110"]);
  for (const uri of ["note://item/42", "note://n/110"]) {
    const n = c.notifications.filter((x) => x.method === UPDATED && (x.params as any)?.uri === uri).length;
    assert.equal(textOf(await c.client.callTool({ name: "up__touch", arguments: { uri } })), "sent");
    await waitFor(`update for ${uri}`, () => c.notifications.filter((x) => x.method === UPDATED && (x.params as any)?.uri === uri).length > n || undefined);
  }
  await c.client.unsubscribeResource({ uri: "note://item/42" });
  await c.client.unsubscribeResource({ uri: "note://n/110" });
  await upstreamSubs([]);
  // unsubscribing twice, or a URI never subscribed, changes nothing
  await c.client.unsubscribeResource({ uri: "note://n/110" });
  await c.client.unsubscribeResource({ uri: "note://n/3" });
  assert.deepEqual((await upstream()).subs, []);
});

test("upstream: one upstream subscription per URI whatever the number of subscribers; a 2026-07-28 listen stream counts, and the last one leaving ends it", async () => {
  const uri = "note://item/7";
  const modern = await v2HttpClient(d.url, { modern: true, name: "listener-2026" });
  const ws = await v2WsClient(d.url, { name: "ws-2025" });
  try {
    await c.client.subscribeResource({ uri });
    await ws.client.subscribeResource({ uri });
    const sub = await modern.client.listen({ resourceSubscriptions: [uri] });
    assert.deepEqual(sub.honoredFilter.resourceSubscriptions, [uri]);
    await upstreamSubs([uri]);
    await c.client.callTool({ name: "up__touch", arguments: { uri } });
    await modern.waitNotification(UPDATED, 1);
    await ws.waitNotification(UPDATED, 1);
    // the 2025 session unsubscribes and the WebSocket session closes: the listen stream still holds it
    await c.client.unsubscribeResource({ uri });
    await ws.close();
    await waitFor("the WebSocket session gone", async () => !(await d.health()).sessions.list.some((x: any) => x.clientName === "ws-2025") || undefined);
    assert.equal(textOf(await c.client.callTool({ name: "up__touch", arguments: { uri } })), "sent");
    await modern.waitNotification(UPDATED, 2);
    await sub.close();
    await upstreamSubs([]);
  } finally {
    await modern.close().catch(() => undefined);
    await ws.close().catch(() => undefined);
  }
});

test("upstream: after the child is killed and reconnected, the live subscriptions are made again", async () => {
  const uri = "note://item/99";
  await c.client.subscribeResource({ uri });
  const { pid } = await upstreamSubs([uri]);
  process.kill(pid, "SIGKILL");
  const again = await waitFor("a new child subscribed again", async () => {
    const u = await upstream().catch(() => undefined);
    return u && u.pid !== pid && u.subs.includes(uri) ? u : undefined;
  });
  assert.deepEqual(again.subs, [uri]);
  const n = c.count(UPDATED);
  assert.equal(textOf(await c.client.callTool({ name: "up__touch", arguments: { uri } })), "sent");
  await c.waitNotification(UPDATED, n + 1);
  await c.client.unsubscribeResource({ uri });
  await upstreamSubs([]);
});

test("code plugin: a parked plugin is started by its first subscriber, kept running while subscribed, and parked after the last unsubscribes", async () => {
  await tickerIs("parked");
  const before = events();
  await c.client.subscribeResource({ uri: "ticker://now" });
  await tickerIs("running", "subscribers");
  const n = c.count(UPDATED);
  // 20 updates 50 ms apart span five idle periods of 200 ms: a parked plugin would have stopped sending
  await c.waitNotification(UPDATED, n + 20);
  assert.equal((await ticker()).worker, "running");
  assert.equal(events(), `${before}setup\n`, "started once for the subscriber and never parked meanwhile");
  await c.client.unsubscribeResource({ uri: "ticker://now" });
  await tickerIs("parked");
  assert.equal(events(), `${before}setup\nteardown\n`);
});

test("code plugin: a session that ends releases its subscriptions, and the plugin is parked", async () => {
  await tickerIs("parked");
  const ws = await v2WsClient(d.url, { name: "ws-ticker" });
  try {
    await ws.client.subscribeResource({ uri: "ticker://now" });
    await tickerIs("running", "subscribers");
    await ws.waitNotification(UPDATED, 5);
  } finally {
    await ws.close();
  }
  await tickerIs("parked");
});

test("code plugin: a 2026-07-28 listen stream naming the URI keeps it running and hears its updates; closing the stream lets it park", async () => {
  await tickerIs("parked");
  const modern = await v2HttpClient(d.url, { modern: true, name: "ticker-2026" });
  try {
    const sub = await modern.client.listen({ resourceSubscriptions: ["ticker://now"] });
    await tickerIs("running", "subscribers");
    await modern.waitNotification(UPDATED, 20);
    assert.equal((await ticker()).worker, "running");
    await sub.close();
    await tickerIs("parked");
  } finally {
    await modern.close();
  }
});

test("code plugin: a reload while subscribed hands the subscribers to the new version, which runs for them", async () => {
  await tickerIs("parked");
  await c.client.subscribeResource({ uri: "ticker://now" });
  const { version } = await tickerIs("running", "subscribers");
  // a comment alone would bundle the same: an export makes a new version
  writeFileSync(tickerFile, `${tickerSource}export const version = 2;\n`);
  await waitFor("ticker reloaded", async () => ((await ticker())?.version > version ? true : undefined));
  await tickerIs("running", "subscribers");
  const n = c.count(UPDATED);
  await c.waitNotification(UPDATED, n + 20);
  assert.equal((await ticker()).worker, "running");
  await c.client.unsubscribeResource({ uri: "ticker://now" });
  await tickerIs("parked");
});

test("upstream: a 2026-07-28 listen stream over WebSocket subscribes upstream while it is open", async () => {
  const uri = "note://item/ws";
  const modern = await v2WsClient(d.url, { modern: true, name: "ws-2026" });
  try {
    const sub = await modern.client.listen({ resourceSubscriptions: [uri] });
    await upstreamSubs([uri]);
    assert.equal(textOf(await c.client.callTool({ name: "up__touch", arguments: { uri } })), "sent");
    await modern.waitNotification(UPDATED, 1);
    await sub.close();
    await upstreamSubs([]);
  } finally {
    await modern.close();
  }
});
