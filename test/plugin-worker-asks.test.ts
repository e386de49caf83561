/**
 * The worker side of "plugins ask the client" and of ctx.resourceUpdated, driven through
 * PluginWorker with a real worker thread and no daemon: questions asked together leave in
 * one batch (onClientRequest sees them within one tick), keys default to r0, r1, … or are the
 * plugin's own, answers brought along in CallRequest.answers are replayed without asking,
 * refusals and cancellation reject the plugin's await, and resource-updated reaches the
 * host as an event.
 *
 * The thread runs daemon/plugins/thread/worker-entry.ts from source (tsx registered inside it),
 * so these need no build and do not race other tests rebuilding dist/.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { pino } from "pino";
import { PluginWorker } from "../daemon/plugins/host/plugin-worker.ts";
import type { CallOptions } from "../daemon/plugins/host/plugin-host.ts";
import type { WorkerPool } from "../daemon/plugins/host/worker-pool.ts";
import type { ClientRequest } from "../daemon/plugins/worker-protocol.ts";
import { CallCancelledError, CallTimeoutError } from "../daemon/errors.ts";
import { TempDir, waitFor } from "./helpers/env.ts";

const dir = new TempDir("patchbay-worker-asks-");
const ENTRY = new URL("../daemon/plugins/thread/worker-entry.ts", import.meta.url).href;
const BOOT = `import { register } from ${JSON.stringify(import.meta.resolve("tsx/esm/api"))}; register(); await import(${JSON.stringify(ENTRY)});`;
const sourcePool = { take: async () => ({ worker: new Worker(new URL(`data:text/javascript,${encodeURIComponent(BOOT)}`), { stdout: true, stderr: true }), release: () => undefined }) } as unknown as WorkerPool;

/** Every elicitation form the spec knows: defaults, enums, titled enums, legacy enumNames, multi-selects. */
const FORM = {
  message: "Tell me",
  requestedSchema: {
    type: "object",
    properties: {
      name: { type: "string", default: "Ada", minLength: 1 },
      age: { type: "integer", default: 36 },
      color: { type: "string", enum: ["red", "green"], default: "red" },
      size: { type: "string", oneOf: [{ const: "s", title: "Small" }, { const: "l", title: "Large" }] },
      legacy: { type: "string", enum: ["a", "b"], enumNames: ["A", "B"] },
      tags: { type: "array", items: { type: "string", enum: ["x", "y"] }, default: ["x"] },
      titledTags: { type: "array", items: { anyOf: [{ const: "x", title: "Ex" }] } },
    },
    required: ["name"],
  },
};
const URL_ASK = { mode: "url", message: "Sign in", url: "https://example.com/auth?s=1", elicitationId: "el-1" };
const SAMPLE = { messages: [{ role: "user", content: { type: "text", text: "hi" } }], maxTokens: 7, systemPrompt: "be brief" };

const PLUGIN = `
import { writeFileSync } from "node:fs";
const FORM = ${JSON.stringify(FORM)};
const URL_ASK = ${JSON.stringify(URL_ASK)};
const SAMPLE = ${JSON.stringify(SAMPLE)};
const describe = (err) => ({ name: err.name, message: err.message, code: err.code });
export default {
  name: "asks",
  tools: {
    together: { handler: async (_a, ctx) => JSON.stringify(await Promise.all([ctx.elicit(FORM), ctx.sample(SAMPLE, { key: "greeting" }), ctx.roots(), ctx.elicit(URL_ASK)])) },
    rounds: { handler: async (_a, ctx) => {
      const one = await ctx.elicit(FORM);
      const two = await ctx.roots();
      return JSON.stringify([one, two]);
    } },
    refused: { handler: async (_a, ctx) => {
      try { await ctx.sample(SAMPLE); return "answered"; } catch (err) { return JSON.stringify(describe(err)); }
    } },
    misuse: { handler: async (_a, ctx) => {
      const out = [];
      for (const f of [() => ctx.elicit("not an object"), () => ctx.roots({ key: "" }), () => ctx.roots({ key: "k" }), () => ctx.roots({ key: "k" })]) {
        try { out.push(await f()); } catch (err) { out.push(describe(err)); }
      }
      return JSON.stringify(out);
    } },
    unclonable: { handler: async (_a, ctx) => {
      const r = await Promise.allSettled([ctx.elicit({ ...FORM, hook: () => 1 }), ctx.roots()]);
      return JSON.stringify(r.map((x) => x.status === "fulfilled" ? x.value : describe(x.reason)));
    } },
    wait: { handler: async (_a, ctx) => {
      try { await ctx.elicit(FORM); writeFileSync(ctx.dataDir + "/wait.json", "answered"); }
      catch (err) { writeFileSync(ctx.dataDir + "/wait.json", JSON.stringify({ ...describe(err), aborted: ctx.signal.aborted })); }
      return "done";
    } },
    touch: { handler: (args, ctx) => { ctx.resourceUpdated(args.uri); return "touched"; } },
    badTouch: { handler: (_a, ctx) => { try { ctx.resourceUpdated(42); return "no"; } catch (err) { return err.name + ": " + err.message; } } },
  },
  prompts: { ask: { render: async (_a, ctx) => "roots: " + (await ctx.roots()).roots.length } },
  resources: { "asks://doc": { read: async (uri, ctx) => "doc for " + (await ctx.elicit(FORM, { key: "who" })).content.name } },
  setup: (ctx) => { setTimeout(() => ctx.resourceUpdated("asks://from-setup"), 10); },
};
`;

let w: PluginWorker;
let updates: string[] = [];

before(async () => {
  dir.file("asks.mjs", PLUGIN);
  w = new PluginWorker({ file: dir.join("asks.mjs"), bundlePath: dir.join("asks.mjs"), defaultName: "asks", dataDir: dir.join("data"), heapMb: 64, callTimeoutMs: 10_000, logger: pino({ level: "silent" }), pool: sourcePool });
  w.on("resource-updated", (uri) => updates.push(uri));
  await w.start();
});
after(async () => {
  await w?.stop(200);
  dir.cleanup();
});

/** An onClientRequest that answers from `answer` and records every question with the batch it came in. */
function recorder(answer: (req: ClientRequest) => unknown = (req) => ({ answered: req.key })) {
  const seen: { req: ClientRequest; batch: number }[] = [];
  let batch = 0;
  let open = false;
  const onClientRequest: CallOptions["onClientRequest"] = async (req) => {
    // questions asked within one tick share a batch number
    if (!open) {
      open = true;
      batch++;
      queueMicrotask(() => (open = false));
    }
    seen.push({ req, batch });
    return answer(req);
  };
  return { seen, onClientRequest };
}

const text = (value: unknown) => ((value as { content: { text: string }[] }).content[0].text);
const call = async (target: string, opts: CallOptions = {}, extra: { answers?: Record<string, unknown>; args?: Record<string, unknown> } = {}) =>
  (await w.call({ kind: "tool", target, args: extra.args ?? {}, answers: extra.answers }, opts)).value;

test("questions asked together reach onClientRequest in one tick, keyed r<n> or by opts.key, params unchanged", async () => {
  const r = recorder();
  const out = JSON.parse(text(await call("together", { onClientRequest: r.onClientRequest })));
  assert.deepEqual(
    r.seen.map((s) => s.req),
    [
      { key: "r0", method: "elicitation/create", params: FORM },
      { key: "greeting", method: "sampling/createMessage", params: SAMPLE },
      { key: "r2", method: "roots/list" },
      { key: "r3", method: "elicitation/create", params: URL_ASK },
    ],
  );
  assert.deepEqual(new Set(r.seen.map((s) => s.batch)), new Set([1]), "one batch");
  assert.deepEqual(out, [{ answered: "r0" }, { answered: "greeting" }, { answered: "r2" }, { answered: "r3" }]);
});

test("a question asked after an answer is a new batch with the next key", async () => {
  const r = recorder();
  const out = JSON.parse(text(await call("rounds", { onClientRequest: r.onClientRequest })));
  assert.deepEqual(r.seen.map((s) => [s.req.key, s.batch]), [["r0", 1], ["r1", 2]]);
  assert.deepEqual(out, [{ answered: "r0" }, { answered: "r1" }]);
});

test("answers brought along are replayed by key without asking; only new keys are asked", async () => {
  const r = recorder();
  const answers = { r0: { action: "accept", content: { name: "Grace" } }, greeting: { role: "assistant", content: { type: "text", text: "hello" }, model: "m" } };
  const out = JSON.parse(text(await call("together", { onClientRequest: r.onClientRequest }, { answers })));
  assert.deepEqual(r.seen.map((s) => s.req.key), ["r2", "r3"]);
  assert.deepEqual(out, [answers.r0, answers.greeting, { answered: "r2" }, { answered: "r3" }]);

  // every answer there: the handler never asks (the 2026-07-28 final round)
  const none = recorder();
  const all = { r0: { action: "decline" }, r1: { roots: [{ uri: "file:///w" }] } };
  assert.deepEqual(JSON.parse(text(await call("rounds", { onClientRequest: none.onClientRequest }, { answers: all }))), [all.r0, all.r1]);
  assert.equal(none.seen.length, 0);
});

test("a refused question rejects the plugin's await with its message, name and code", async () => {
  const refused = async () => {
    throw Object.assign(new Error("the client did not declare sampling"), { name: "MissingCapability", code: -32021 });
  };
  assert.deepEqual(JSON.parse(text(await call("refused", { onClientRequest: refused }))), { name: "MissingCapability", message: "the client did not declare sampling", code: -32021 });
  // no onClientRequest at all
  assert.deepEqual(JSON.parse(text(await call("refused"))), { name: "ClientRequestError", message: "this client cannot answer requests from plugins", code: "PB_ERR_CLIENT_REQUEST_REFUSED" });
  // onClientRequest throwing synchronously is a refusal too
  const throws = () => {
    throw new Error("sync refusal");
  };
  assert.equal(JSON.parse(text(await call("refused", { onClientRequest: throws }))).message, "sync refusal");
});

test("misuse rejects in the plugin: params not an object, a bad key, a key used twice", async () => {
  const r = recorder();
  const out = JSON.parse(text(await call("misuse", { onClientRequest: r.onClientRequest })));
  assert.equal(out[0].name, "TypeError");
  assert.match(out[0].message, /^ctx\.elicit\(params\): params must be an object/);
  assert.equal(out[1].name, "TypeError");
  assert.match(out[1].message, /^ctx\.roots: opts\.key must be a string/);
  assert.deepEqual(out[2], { answered: "k" });
  assert.match(out[3].message, /^ctx\.roots: the key "k" was already used in this call/);
  assert.deepEqual(r.seen.map((s) => s.req.key), ["k"]);
});

test("a question whose params cannot be cloned fails alone; the rest of its batch is asked", async () => {
  const r = recorder();
  const out = JSON.parse(text(await call("unclonable", { onClientRequest: r.onClientRequest })));
  assert.equal(out[0].name, "TypeError");
  assert.match(out[0].message, /^ctx\.elicit\(params\): params could not be sent to the host/);
  assert.deepEqual(out[1], { answered: "r1" });
  assert.deepEqual(r.seen.map((s) => s.req.key), ["r1"]);
});

test("cancellation and the call timeout reject a question still waiting", async () => {
  const marker = dir.join("data", "wait.json");
  const never = () => new Promise<never>(() => undefined);
  const ac = new AbortController();
  const cancelled = w.call({ kind: "tool", target: "wait", args: {} }, { signal: ac.signal, onClientRequest: () => (setImmediate(() => ac.abort()), never()) });
  await assert.rejects(cancelled, CallCancelledError);
  const seen = await waitFor("the plugin's rejected await", () => (existsSync(marker) ? JSON.parse(readFileSync(marker, "utf8")) : undefined), 30_000);
  assert.equal(seen.name, "AbortError");
  assert.equal(seen.aborted, true);
  assert.match(seen.message, /^ctx\.elicit: the call was cancelled before the client answered \(cancelled by client\)/);

  const timedOut = w.call({ kind: "tool", target: "wait", args: {} }, { timeoutMs: 200, onClientRequest: never });
  await assert.rejects(timedOut, CallTimeoutError);
  await waitFor("the timeout's rejected await", () => (existsSync(marker) && /\(timeout\)/.test(readFileSync(marker, "utf8")) ? true : undefined), 30_000);
});

test("prompt renderers and resource readers can ask too", async () => {
  const r = recorder((req) => (req.method === "roots/list" ? { roots: [{ uri: "file:///a" }, { uri: "file:///b" }] } : { action: "accept", content: { name: "Ada" } }));
  const prompt = (await w.call({ kind: "prompt", target: "ask", args: {} }, { onClientRequest: r.onClientRequest })).value as { messages: { content: { text: string } }[] };
  assert.equal(prompt.messages[0].content.text, "roots: 2");
  const res = (await w.call({ kind: "resource", target: "asks://doc" }, { onClientRequest: r.onClientRequest })).value as { contents: { text: string }[] };
  assert.equal(res.contents[0].text, "doc for Ada");
  assert.deepEqual(r.seen.map((s) => s.req.key), ["r0", "who"]);
});

test("ctx.resourceUpdated(uri) reaches the host as a resource-updated event, from setup and from handlers", async () => {
  await waitFor("the update sent from setup", () => (updates.includes("asks://from-setup") ? true : undefined), 30_000);
  updates = [];
  assert.equal(text(await call("touch", {}, { args: { uri: "asks://doc" } })), "touched");
  await waitFor("the update", () => (updates.length > 0 ? true : undefined), 30_000);
  assert.deepEqual(updates, ["asks://doc"]);
  assert.equal(text(await call("badTouch")), "TypeError: ctx.resourceUpdated(uri): uri must be a non-empty string");
});
