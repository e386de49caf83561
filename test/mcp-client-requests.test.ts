/**
 * The host side of "plugins ask the client" and of resource subscriptions, in both eras,
 * with real SDK clients over real HTTP and WebSocket, against the daemon's MCP layer and
 * transports mounted in this process. The plugin is a stand-in worker that follows the
 * worker contract (CallOptions.onClientRequest, CallRequest.answers replayed in order), so
 * these run whatever the state of the real worker side.
 *
 * - 2025 era: a real server→client request on the session, tied to the calling request.
 * - 2026-07-28: input_required rounds; the plugin is re-run with the answers so far, which
 *   travel in a signed requestState (replay: work before an ask repeats each round).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import { HttpServer } from "../daemon/http-server.ts";
import { Registry, type RegisteredPlugin } from "../daemon/registry.ts";
import { SessionStore } from "../daemon/session-store.ts";
import { CallCancelledError } from "../daemon/errors.ts";
import { MAX_CLIENT_REQUESTS_PER_CALL, type McpDeps } from "../daemon/mcp/call-context.ts";
import { createReplayCodec } from "../daemon/mcp/server-factory.ts";
import { createStreamableHttpEndpoint } from "../daemon/transports/streamable-http.ts";
import { createWebSocketEndpoint } from "../daemon/transports/websocket.ts";
import type { PluginWorker } from "../daemon/plugins/host/plugin-worker.ts";
import type { CallOptions } from "../daemon/plugins/host/plugin-host.ts";
import type { CallRequest, ClientRequest, PluginManifest } from "../daemon/plugins/worker-protocol.ts";
import { waitFor } from "./helpers/env.ts";
import { httpClient, textOf } from "./helpers/clients.ts";
import { ANSWERS, MODERN_REVISION, rawModern, v2HttpClient, v2WsClient, type V2Client } from "./helpers/clients-v2.ts";

const logger = pino({ level: "silent" });
const registry = new Registry();
const store = new SessionStore({ maxSessions: 64, idleTimeoutMs: 600_000 }, logger);
registry.on("changed", (c) => store.broadcast(c));
registry.on("updated", (uri) => store.resourceUpdated(uri));
const deps: McpDeps = {
  registry,
  store,
  logger,
  version: "test",
  pageSize: 100,
  requestState: createReplayCodec({ ttlSeconds: 600 }),
  clientRequestTimeoutMs: 10_000,
  cacheScope: "public",
};

/** Every call the stand-in worker received, and how often the "side effect" before the first ask ran. */
const calls: CallRequest[] = [];
let sideEffects = 0;
let aborted = 0;

const FORM = { message: "Your name?", requestedSchema: { type: "object", properties: { name: { type: "string", default: "Ada" }, color: { type: "string", enum: ["red", "green"] }, tags: { type: "array", items: { type: "string", enum: ["a", "b"] } } }, required: ["name"] } };

/** What a plugin's handler would do, written once with awaits (as a plugin author writes it). */
async function handler(target: string, ask: (r: Omit<ClientRequest, "key">) => Promise<unknown>): Promise<unknown> {
  switch (target) {
    case "ask": {
      sideEffects++;
      const name = await ask({ method: "elicitation/create", params: FORM });
      // two questions at once: one round
      const [llm, roots] = await Promise.all([ask({ method: "sampling/createMessage", params: { messages: [{ role: "user", content: { type: "text", text: "q?" } }], maxTokens: 10 } }), ask({ method: "roots/list" })]);
      return { content: [{ type: "text", text: JSON.stringify({ name, llm, roots }) }] };
    }
    case "sample":
      return { content: [{ type: "text", text: JSON.stringify(await ask({ method: "sampling/createMessage", params: { messages: [], maxTokens: 5 } })) }] };
    case "plain":
      return { content: [{ type: "text", text: "plain" }] };
    case "loop":
      // a plugin that never stops asking: two new questions per round (clients allow a few rounds, ten for the v2 SDK's)
      for (;;) await Promise.all([ask({ method: "roots/list" }), ask({ method: "roots/list" })]);
    default:
      throw new Error(`no tool ${target}`);
  }
}

/** Calls the stoppable stand-in ended through its stop handle. */
let stoppedByHandle = 0;

/**
 * A stand-in PluginWorker honouring the worker contract: the n-th ask has key r<n>; a key in
 * answers resolves at once, else onClientRequest; abort → CallCancelledError. The stoppable
 * one also takes a stop handle (as the worker-thread host does), and a call stopped through it
 * ends the same way.
 */
const standIn = (stoppable: boolean) => ({
  stoppable,
  call(req: CallRequest, opts: CallOptions) {
    calls.push(req);
    return new Promise((resolve, reject) => {
      let i = 0;
      const ask = (r: Omit<ClientRequest, "key">) => {
        const key = `r${i++}`;
        return req.answers && Object.hasOwn(req.answers, key) ? Promise.resolve(req.answers[key]) : opts.onClientRequest!({ key, ...r });
      };
      const onAbort = () => {
        aborted++;
        reject(new CallCancelledError("request cancelled"));
      };
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      if (stoppable && opts.stopHandle) {
        opts.stopHandle.stop = () => {
          stoppedByHandle++;
          onAbort();
        };
      }
      handler(req.target, ask).then(
        (value) => resolve({ value }),
        // a throwing handler is a tool error, as in the real worker
        (err: Error) => resolve({ value: { content: [{ type: "text", text: err.message }], isError: true } }),
      );
    });
  },
}) as unknown as PluginWorker;
const worker = standIn(false);

const manifest: PluginManifest = {
  name: "asker",
  tools: ["ask", "sample", "plain", "loop"].map((name) => ({ name, inputSchema: { type: "object" } })),
  resources: [{ uri: "asker://doc", name: "doc" }, { uri: "asker://other", name: "other" }],
  resourceTemplates: [],
  prompts: [],
};

let http: HttpServer;
let url: string;
let pool: ReturnType<typeof createStreamableHttpEndpoint>["pool"];
const closers: (() => Promise<void>)[] = [];

before(async () => {
  registry.put({ key: "asker", file: "asker.mjs", manifest, worker } satisfies RegisteredPlugin);
  registry.put({ key: "stopper", file: "stopper.mjs", manifest: { ...manifest, name: "stopper" }, worker: standIn(true) } satisfies RegisteredPlugin);
  http = new HttpServer({ host: "127.0.0.1", allowedHosts: [], allowedOrigins: [] }, logger);
  const mcp = createStreamableHttpEndpoint(deps, { maxBodyBytes: 1 << 20 });
  pool = mcp.pool;
  const ws = createWebSocketEndpoint(deps, { maxMessageBytes: 1 << 20, heartbeatMs: 30_000, maxBufferedBytes: 1 << 22 }, logger);
  for (const e of [mcp, ws]) {
    for (const [p, h] of Object.entries(e.routes ?? {})) http.route(p, h);
    for (const [p, h] of Object.entries(e.upgrades ?? {})) http.upgrade(p, h);
    closers.push(() => e.close());
  }
  url = `http://127.0.0.1:${await http.listen(0, "127.0.0.1")}`;
});
after(async () => {
  await store.closeAll("test over");
  for (const c of closers) await c();
  await http.close();
});

const parsed = (r: unknown) => JSON.parse(textOf(r));

test("2026-07-28 over HTTP: the plugin's asks become input_required rounds; the v2 client answers and the re-run plugin gets every answer", async () => {
  // a host stopped through the call's own signal, and one stopped through its stop handle
  for (const [plugin, stoppable] of [["asker", false], ["stopper", true]] as const) {
    const c = await v2HttpClient(url, { modern: true });
    try {
      calls.length = 0;
      sideEffects = 0;
      const [stoppedBefore, abortedBefore] = [stoppedByHandle, aborted];
      const out = parsed(await c.client.callTool({ name: `${plugin}__ask`, arguments: {} }));
      assert.deepEqual(out.name, ANSWERS.elicit(FORM));
      assert.deepEqual(out.llm, ANSWERS.sample());
      assert.deepEqual(out.roots, ANSWERS.roots());
      // round 1 asks the name; round 2 both questions asked together; round 3 completes
      assert.deepEqual(calls.map((x) => Object.keys(x.answers ?? {})), [[], ["r0"], ["r0", "r1", "r2"]]);
      assert.equal(sideEffects, 3, "replay: what runs before the first ask runs on every round");
      // each round that asked was stopped once, through the handle where the host takes one
      assert.equal(aborted - abortedBefore, 2, plugin);
      assert.equal(stoppedByHandle - stoppedBefore, stoppable ? 2 : 0, plugin);
      assert.deepEqual(c.asked.map((a) => a.method), ["elicitation/create", "sampling/createMessage", "roots/list"]);
      // the form schema reaches the client as the plugin gave it (defaults, enums, multi-select)
      assert.deepEqual(c.asked[0].params.requestedSchema, FORM.requestedSchema);
      assert.equal(calls.every((x) => x.session === undefined), true, "no session on 2026-07-28");
    } finally {
      await c.close();
    }
  }
});

test("2026-07-28: a plugin that keeps asking is refused after the most questions one call may ask, as a tool error", async () => {
  const c = await v2HttpClient(url, { modern: true });
  try {
    const r = (await c.client.callTool({ name: "asker__loop", arguments: {} })) as { isError?: boolean };
    assert.equal(r.isError, true);
    assert.match(textOf(r), new RegExp(`more than ${MAX_CLIENT_REQUESTS_PER_CALL} questions`));
    // counted over the answers signed into requestState, which trail the client's latest
    // answers by one round: a round's worth more may reach the client, never an endless stream
    assert.ok(c.asked.length >= MAX_CLIENT_REQUESTS_PER_CALL && c.asked.length < 2 * MAX_CLIENT_REQUESTS_PER_CALL, `${c.asked.length} questions reached the client`);
  } finally {
    await c.close();
  }
});

test("2025 era over HTTP (v2 client default mode): real server→client requests on the session, one plugin run", async () => {
  const c = await v2HttpClient(url);
  try {
    calls.length = 0;
    sideEffects = 0;
    const out = parsed(await c.client.callTool({ name: "asker__ask", arguments: {} }));
    assert.deepEqual(out.name, ANSWERS.elicit(FORM));
    assert.deepEqual(out.roots, ANSWERS.roots());
    assert.equal(calls.length, 1);
    assert.equal(sideEffects, 1);
    assert.deepEqual(c.asked.map((a) => a.method).sort(), ["elicitation/create", "roots/list", "sampling/createMessage"]);
  } finally {
    await c.close();
  }
});

test("2025 era, v1 client without the capabilities: the tool answers isError with a clear message, no hang", async () => {
  const c = await httpClient(url, { name: "bare-v1" });
  try {
    const r = await c.client.callTool({ name: "asker__sample", arguments: {} });
    assert.equal(r.isError, true);
    assert.match(textOf(r), /bare-v1 did not declare the "sampling" capability/);
  } finally {
    await c.close();
  }
});

test("2026-07-28 raw: a client without the capability gets -32021; round 1 carries a signed requestState; tampered, expired-looking or foreign state is -32602", async () => {
  const missing = await rawModern(url, "tools/call", { name: "asker__sample", arguments: {} });
  assert.equal(missing.status, 400);
  assert.equal(missing.body.error.code, -32021);

  const caps = { "io.modelcontextprotocol/clientCapabilities": { sampling: {}, elicitation: { form: {} }, roots: {} } };
  const round1 = await rawModern(url, "tools/call", { name: "asker__sample", arguments: {} }, { meta: caps });
  const r1 = round1.body.result;
  assert.equal(r1.resultType, "input_required");
  assert.deepEqual(Object.keys(r1.inputRequests), ["r0"]);
  assert.equal(r1.inputRequests.r0.method, "sampling/createMessage");
  assert.match(r1.requestState, /^v1\./);

  const answer = { r0: ANSWERS.sample() };
  const round2 = await rawModern(url, "tools/call", { name: "asker__sample", arguments: {}, requestState: r1.requestState, inputResponses: answer }, { meta: caps, id: 2 });
  assert.deepEqual(JSON.parse(round2.body.result.content[0].text), ANSWERS.sample());

  const flipped = r1.requestState.slice(0, -2) + (r1.requestState.endsWith("AA") ? "BB" : "AA");
  const tampered = await rawModern(url, "tools/call", { name: "asker__sample", arguments: {}, requestState: flipped, inputResponses: answer }, { meta: caps, id: 3 });
  assert.equal(tampered.body.error.code, -32602);

  // a state minted for one tool is refused by another
  const foreign = await rawModern(url, "tools/call", { name: "asker__ask", arguments: {}, requestState: r1.requestState, inputResponses: answer }, { meta: caps, id: 4 });
  assert.equal(foreign.body.error.code, -32602);
  assert.match(foreign.body.error.message, /requestState/);

  // ...and by the same tool called with other arguments: answers given for one call are not
  // an approval for another
  const otherArgs = await rawModern(url, "tools/call", { name: "asker__sample", arguments: { target: "b" }, requestState: r1.requestState, inputResponses: answer }, { meta: caps, id: 5 });
  assert.equal(otherArgs.body.error?.code, -32602, JSON.stringify(otherArgs.body));
  assert.match(otherArgs.body.error.message, /requestState/);
});

test("WebSocket, 2026-07-28: input_required rounds over a connection too", async () => {
  const c = await v2WsClient(url, { modern: true });
  try {
    const out = parsed(await c.client.callTool({ name: "asker__ask", arguments: {} }));
    assert.deepEqual(out.llm, ANSWERS.sample());
  } finally {
    await c.close();
  }
});

test("2025 era: cancelling a call while the client is being asked cancels the plugin call", async () => {
  const c = await v2HttpClient(url);
  let release: (() => void) | undefined;
  c.client.setRequestHandler("sampling/createMessage", () => new Promise((r) => (release = () => r(ANSWERS.sample() as never))));
  try {
    const before = aborted;
    const ac = new AbortController();
    const pending = c.client.callTool({ name: "asker__sample", arguments: {} }, { signal: ac.signal });
    await waitFor("the client being asked", () => (release ? true : undefined));
    ac.abort("user gave up");
    await assert.rejects(pending);
    await waitFor("the plugin call aborted", () => (aborted > before ? true : undefined));
    release?.();
  } finally {
    await c.close();
  }
});

test("resources/updated reaches only subscribers of that URI: 2025 resources/subscribe, 2026-07-28 listen with resourceSubscriptions (HTTP and WebSocket)", async () => {
  const subscribed = await v2HttpClient(url, { name: "sub-2025" });
  const bystander = await v2HttpClient(url, { name: "bystander-2025" });
  const modern = await v2HttpClient(url, { modern: true, name: "sub-2026" });
  const modernWs = await v2WsClient(url, { modern: true, name: "sub-2026-ws" });
  const cs: V2Client[] = [subscribed, bystander, modern, modernWs];
  try {
    await subscribed.client.subscribeResource({ uri: "asker://doc" });
    const sub = await modern.client.listen({ resourceSubscriptions: ["asker://doc"] });
    const subWs = await modernWs.client.listen({ resourceSubscriptions: ["asker://doc"] });
    assert.deepEqual(sub.honoredFilter.resourceSubscriptions, ["asker://doc"]);
    // a burst for one URI is one notice; another URI reaches nobody here
    for (let i = 0; i < 50; i++) registry.resourceUpdated("asker://doc");
    registry.resourceUpdated("asker://other");
    for (const c of [subscribed, modern, modernWs]) await c.waitNotification("notifications/resources/updated", 1);
    await new Promise((r) => setTimeout(r, 200));
    for (const c of [subscribed, modern, modernWs]) {
      const got = c.notifications.filter((n) => n.method === "notifications/resources/updated");
      assert.deepEqual(got.map((n) => n.params.uri), ["asker://doc"], "one coalesced notice, for the subscribed URI only");
    }
    assert.equal(bystander.count("notifications/resources/updated"), 0);
    // unsubscribe stops them (2025)
    await subscribed.client.unsubscribeResource({ uri: "asker://doc" });
    registry.resourceUpdated("asker://doc");
    await modern.waitNotification("notifications/resources/updated", 2);
    assert.equal(subscribed.count("notifications/resources/updated"), 1);
    await sub.close();
    await subWs.close();
  } finally {
    for (const c of cs) await c.close().catch(() => undefined);
  }
});

test("the pool serves sequential 2026-07-28 requests with one server instance, and no caller leaks into the next", async () => {
  const created = pool.stats.created;
  for (let i = 0; i < 20; i++) assert.equal((await rawModern(url, "tools/list")).status, 200);
  assert.equal(pool.stats.created, created, "no new instance for sequential requests");
  assert.equal(pool.stats.leased, 0);
  const a = await rawModern(url, "tools/call", { name: "asker__plain", arguments: {} }, { meta: { "io.modelcontextprotocol/clientInfo": { name: "A", version: "1" } } });
  assert.equal(a.body.result.content[0].text, "plain");
  calls.length = 0;
  const noInfo = await rawModern(url, "tools/call", { name: "asker__plain", arguments: {} }, { meta: { "io.modelcontextprotocol/clientInfo": undefined } });
  assert.equal(noInfo.body.result.content[0].text, "plain");
  const seen = store.statelessClients();
  assert.ok(seen.some((s) => s.clientName === "A" && s.protocolVersion === MODERN_REVISION));
  assert.ok(seen.some((s) => s.clientName === undefined), "a request without clientInfo is not counted as the previous caller");
});
