/**
 * Fuzzing plugins: generated plugin-shaped objects (plain `.mjs` files default-exporting
 * them: names, tools with JSON Schemas and handlers that return odd values, throw, hang,
 * loop, blow the heap or exit; resources, templates, prompts, setup/teardown; junk where
 * objects belong; faults at import) written into the watched folder of a real daemon.
 *
 * Invariants, after every case (and shrink step):
 * - the daemon process is alive and /healthz answers 200;
 * - the plugin settles within the bound as `loaded`, or as `error` with a message;
 * - when loaded, tools/list, resources/list, resources/templates/list and prompts/list
 *   answer, every tool call answers within the bound with a result (a failing, hanging or
 *   crashing handler is an `isError` result, never a JSON-RPC error or silence), every
 *   resource read and prompt get answers; every reply is well-formed JSON-RPC;
 * - the base plugin keeps serving (`base__echo` works) whatever the generated one did;
 * - after the file is deleted the plugin is gone, the loaded-plugin count and the daemon's
 *   thread count (plugin workers are threads) return to where they were, and no session
 *   is left.
 * At the end: /healthz 200, clean stderr (no uncaught error, unhandled rejection or Node
 * warning from the daemon itself; plugin errors are logged, which is fine).
 *
 * `npm test`: fixed seed, few cases (each is a real load/unload); `npm run fuzz`: FUZZ_RUNS/10
 * cases with a random seed it prints (replay with FUZZ_SEED=…).
 */
import { rmSync } from "node:fs";
import fc from "fast-check";
import { HANG_BOUND_MS, RpcSocket, Violations, clip, sleep, trace } from "./helpers/fuzz-harness.ts";
import { FuzzSuite } from "./helpers/fuzz-suite.ts";
import { arbJson, arbWeirdString } from "./helpers/fuzz-arbitraries.ts";
import { isPlainObject, shapeProblems } from "./helpers/fuzz-oracle.ts";

// long enough that a call or restart on a starved machine (load 9 on 2 cores) does not miss it; only the looping handlers do
const CALL_TIMEOUT_MS = 4_000;
/** the bound on anything that runs a plugin handler (which may itself time out once or twice) */
const SLOW_BOUND_MS = HANG_BOUND_MS + CALL_TIMEOUT_MS * 2;
const suite = new FuzzSuite("plugins", { env: { PATCHBAY_CALL_TIMEOUT_MS: String(CALL_TIMEOUT_MS), PATCHBAY_WORKER_HEAP_MB: "64" } });
const { d, plugins } = suite;

// ---- generating plugin source ---------------------------------------------------------------

/** A piece of JavaScript placed verbatim in the generated source (a function, mostly). */
class Code {
  constructor(readonly src: string) {}
  toJSON() {
    return `<code ${this.src}>`;
  }
}

const HANDLERS = [
  `() => "ok"`,
  `async (a) => ({ echo: a })`,
  `(a) => JSON.stringify(a) ?? "none"`,
  `() => { throw new Error("fuzz boom") }`,
  `async () => { throw "a string" }`,
  `() => undefined`,
  `() => null`,
  `() => 42`,
  `() => ({ content: "not an array" })`,
  `() => ({ content: [{ type: "text", text: "x" }], isError: true })`,
  `() => ({ content: [{ type: "image", data: 5 }] })`,
  `() => ({ contents: [{ uri: 5 }] })`,
  `() => ({ messages: "nope" })`,
  `() => "x".repeat(300000)`,
  `async () => { await new Promise((r) => setTimeout(r, 30)); return "late"; }`,
  `() => { const o = {}; o.self = o; return o; }`,
  `() => 10n`,
  `() => Symbol("s")`,
  `() => new Promise(() => {})`,
  `(a, ctx) => { ctx.progress(1, 2, "half"); return "p"; }`,
  `(a, ctx) => { ctx.sendLog("info", { x: 1 }); return "l"; }`,
  `(a, ctx) => { for (let i = 0; i < 200; i++) ctx.resourcesChanged(); return "rc"; }`,
  `() => { setTimeout(() => { throw new Error("fuzz late throw") }, 0); return "later"; }`,
  `() => { Promise.reject(new Error("fuzz late rejection")); return "x"; }`,
  `() => ({ toJSON() { throw new Error("no json") } })`,
  `(a, ctx) => (ctx.signal.aborted ? "aborted" : "fine")`,
  `() => [1, 2, 3]`,
  `() => new Date(0)`,
];
/** Rare, slow faults: a synchronous loop (stuck worker), heap exhaustion, process.exit. */
const SLOW_HANDLERS = [`() => { for (;;) {} }`, `() => { const a = []; for (;;) a.push(new Array(1e6).fill(1)); }`, `() => process.exit(3)`];

/** Mostly `good`, now and then `bad` (so most generated plugins load and their handlers run). */
const mostly = (good: fc.Arbitrary<unknown>, bad: fc.Arbitrary<unknown> = arbJson, odds = 40): fc.Arbitrary<unknown> => fc.oneof({ weight: odds, arbitrary: good }, { weight: 1, arbitrary: bad });
/** Present with probability 1/(1+absentOdds)… of the time. */
const maybe = (a: fc.Arbitrary<unknown>, presentOdds = 1, absentOdds = 1): fc.Arbitrary<unknown> => fc.oneof({ weight: presentOdds, arbitrary: a }, { weight: absentOdds, arbitrary: fc.constant(undefined) });
/** An object without the members generated as undefined. */
const shape = (fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Record<string, unknown>> =>
  fc.record(fields).map((o) => Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)));

const arbFn: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 80, arbitrary: fc.constantFrom(...HANDLERS).map((s) => new Code(s)) },
  { weight: 2, arbitrary: fc.constantFrom(...SLOW_HANDLERS).map((s) => new Code(s)) },
  { weight: 1, arbitrary: arbJson },
);

const arbSchema: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: fc.constant({ type: "object", properties: { s: { type: "string" } } }) },
  { weight: 3, arbitrary: fc.constantFrom<unknown>({}, { type: "object", required: ["x"] }, { type: "object", properties: { n: { type: "integer", minimum: 0 } }, additionalProperties: false }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>({ type: "string" }, { type: "object", properties: { x: { type: "nonsense" } } }, { $ref: "#/definitions/none" }, 5, "s", [], null) },
);

const arbEntryName = fc.oneof({ weight: 20, arbitrary: fc.constantFrom("t", "echo", "do_it", "with space", "dash-ed", "a".repeat(70), "ünï") }, { weight: 1, arbitrary: arbWeirdString });
const section = (entry: fc.Arbitrary<unknown>, keys: fc.Arbitrary<string> = arbEntryName) => maybe(mostly(fc.dictionary(keys, entry, { minKeys: 1, maxKeys: 3 }), arbJson, 15), 2, 1);

const arbTool = mostly(shape({ description: maybe(mostly(fc.string({ maxLength: 20 }))), input: maybe(arbSchema, 2, 1), output: maybe(arbSchema, 1, 6), annotations: maybe(mostly(fc.constant({ readOnlyHint: true })), 1, 6), handler: arbFn }));
const arbUri = fc.oneof({ weight: 20, arbitrary: fc.constantFrom("fz://r/one", "fz://r/two", "https://example.com/x", "fz:") }, { weight: 1, arbitrary: arbWeirdString });
const arbTemplate = fc.oneof({ weight: 20, arbitrary: fc.constantFrom("fz://t/{id}", "fz://t/{id}/{+rest}", "fz://{a}{b}", "fz://t/{id*}") }, { weight: 1, arbitrary: fc.constantFrom("{", "fz://t/{", "}", "", "fz://t/{id}{id}") }, { weight: 1, arbitrary: arbWeirdString });
const arbResource = mostly(shape({ description: maybe(fc.string({ maxLength: 10 })), mimeType: maybe(mostly(fc.constant("text/plain"))), read: arbFn }));
const arbTemplateEntry = mostly(shape({ description: maybe(fc.string({ maxLength: 10 })), read: arbFn, list: maybe(arbFn), complete: maybe(mostly(shape({ id: arbFn }))) }));
const arbPromptArgs = mostly(fc.array(shape({ name: mostly(fc.constantFrom("who", "x")), required: maybe(fc.boolean()) }), { maxLength: 3 }));
const arbPrompt = mostly(shape({ description: maybe(fc.string({ maxLength: 10 })), arguments: maybe(arbPromptArgs, 2, 1), render: arbFn }));

type Top = "none" | "throw" | "exit" | "loop" | "syntax" | "no-default" | "default-fn" | "await" | "missing-import" | "console";
const arbTop: fc.Arbitrary<Top> = fc.oneof({ weight: 20, arbitrary: fc.constant<Top>("none") }, { weight: 2, arbitrary: fc.constantFrom<Top>("throw", "syntax", "no-default", "default-fn", "await", "missing-import", "console") }, { weight: 1, arbitrary: fc.constantFrom<Top>("exit", "loop") });

interface PluginCase {
  top: Top;
  def: Record<string, unknown>;
}

const arbPluginCase: fc.Arbitrary<PluginCase> = fc.record({
  top: arbTop,
  def: shape({
    name: mostly(fc.constant("fz"), fc.constantFrom<unknown>("base", "bad name!", "", "x".repeat(60), 5, null), 8),
    version: maybe(mostly(fc.constant("1.0.0"))),
    description: maybe(mostly(fc.string({ maxLength: 20 }))),
    tools: section(arbTool),
    resources: section(arbResource, arbUri),
    resourceTemplates: section(arbTemplateEntry, arbTemplate),
    prompts: section(arbPrompt),
    setup: maybe(arbFn, 1, 4),
    teardown: maybe(arbFn, 1, 4),
    bogus: maybe(arbJson, 1, 20),
  }),
});

/** JavaScript source for a value (Code verbatim, everything else as JSON). */
function toSource(v: unknown): string {
  if (v instanceof Code) return v.src;
  if (Array.isArray(v)) return `[${v.map(toSource).join(", ")}]`;
  if (isPlainObject(v)) return `{ ${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${toSource(x)}`).join(", ")} }`;
  if (v === undefined) return "undefined";
  return JSON.stringify(v);
}

function pluginSource(c: PluginCase): string {
  const body = `export default ${toSource(c.def)};\n`;
  switch (c.top) {
    case "none": return body;
    case "throw": return `throw new Error("fuzz import failure");\n${body}`;
    case "exit": return `process.exit(9);\n${body}`;
    case "loop": return `for (;;) {}\n${body}`;
    case "syntax": return `${body}\nexport default {`;
    case "no-default": return `export const plugin = ${toSource(c.def)};\n`;
    case "default-fn": return `export default () => (${toSource(c.def)});\n`;
    case "await": return `await new Promise((r) => setTimeout(r, 20));\n${body}`;
    case "missing-import": return `import "patchbay-fuzz-no-such-package";\n${body}`;
    case "console": return `console.log("fuzz console line"); console.error("fuzz stderr line");\n${body}`;
  }
}

// ---- the property ---------------------------------------------------------------------------

let fileCounter = 0;

async function pluginState(file: string): Promise<any | undefined> {
  const h = await d.health();
  return (h.json?.plugins ?? []).find((p: { file: string }) => p.file === file);
}

async function waitForState(what: string, check: () => Promise<boolean>, boundMs = SLOW_BOUND_MS): Promise<boolean> {
  const deadline = Date.now() + boundMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return true;
    await sleep(40);
  }
  trace(`gave up waiting for ${what}`);
  return check().catch(() => false);
}

function replyProblem(reply: Record<string, unknown> | undefined, what: string, v: Violations): boolean {
  if (!reply) {
    v.add("hang", `${what}: no reply within ${HANG_BOUND_MS} ms`);
    return true;
  }
  for (const p of shapeProblems(reply)) v.add("shape", `${what}: ${p}: ${clip(reply)}`);
  return false;
}

async function exercise(rpc: RpcSocket, v: Violations, src: string): Promise<void> {
  const where = (s: string) => `${s} (plugin: ${clip(src, 700)})`;
  const tools = await rpc.request("tools/list");
  if (replyProblem(tools, where("tools/list"), v)) return;
  const list = ((tools!.result as any)?.tools ?? []) as { name: string }[];
  for (const t of list.filter((x) => !x.name.startsWith("base__"))) {
    for (const args of [{}, { s: "x" }]) {
      const r = await rpc.request("tools/call", { name: t.name, arguments: args }, SLOW_BOUND_MS);
      if (replyProblem(r, where(`tools/call ${t.name}`), v)) continue;
      // unknown tool (-32602) can happen if the plugin was restarted without it; nothing else may be an error
      if (r!.error && (r!.error as any).code !== -32602) v.add("plugin-call", where(`tools/call ${t.name} ${JSON.stringify(args)} answered a JSON-RPC error instead of an isError result: ${clip(r)}`));
      if (r!.result && !Array.isArray((r!.result as any).content)) v.add("plugin-call", where(`tools/call ${t.name}: result without a content array: ${clip(r)}`));
    }
  }
  const resources = await rpc.request("resources/list", undefined, SLOW_BOUND_MS);
  if (!replyProblem(resources, where("resources/list"), v)) {
    for (const res of ((resources!.result as any)?.resources ?? []).slice(0, 4) as { uri: string }[]) {
      replyProblem(await rpc.request("resources/read", { uri: res.uri }, SLOW_BOUND_MS), where(`resources/read ${res.uri}`), v);
    }
  }
  replyProblem(await rpc.request("resources/templates/list"), where("resources/templates/list"), v);
  const prompts = await rpc.request("prompts/list");
  if (!replyProblem(prompts, where("prompts/list"), v)) {
    for (const p of ((prompts!.result as any)?.prompts ?? []).filter((x: { name: string }) => !x.name.startsWith("base__")) as { name: string }[]) {
      replyProblem(await rpc.request("prompts/get", { name: p.name, arguments: { who: "w", x: "x" } }, SLOW_BOUND_MS), where(`prompts/get ${p.name}`), v);
    }
  }
}

/** plugins the property saw load, and refuse with an error (for its closing diagnostic) */
let loaded = 0;
let failed = 0;

suite.property("fuzz: plugin-shaped objects in the watched folder", {
  ciRuns: 25,
  longScale: 0.1,
  arb: arbPluginCase,
  run: async (c, cases) => {
    const v = new Violations();
    const before = await d.health();
    const sessionsBefore = before.json.sessions.open as number;
    const loadedBefore = before.json.counts.loaded as number;
    const threadsBefore = d.figures().threads;
    const src = pluginSource(c);
    const file = plugins.file(`fz-${++fileCounter}.mjs`, src);
    trace(`case ${cases}: ${clip(src, 300)}`);
    let rpc: RpcSocket | undefined;
    try {
      const settled = await waitForState("load", async () => {
        const s = await pluginState(file);
        return !!s && (s.status === "loaded" || (s.status === "error" && typeof s.lastError?.message === "string"));
      });
      const state = await pluginState(file);
      if (!settled) v.add("plugin-load", `the plugin did not settle as loaded or error within the bound: ${clip(state)} (plugin: ${clip(src, 700)})`);
      else if (state?.status === "loaded") loaded++;
      else failed++;
      trace(`  → ${state?.status}: ${clip(state?.lastError?.message, 200)}`);
      rpc = await RpcSocket.open(d.port);
      if (replyProblem(await rpc.initialize(), "initialize", v)) return v.assertNone("plugin case");
      if (state?.status === "loaded") await exercise(rpc, v, src);
      const echo = await rpc.request("tools/call", { name: "base__echo", arguments: { s: "still here" } });
      if (!echo || !isPlainObject(echo.result) || echo.result.isError) v.add("base-plugin", `base__echo stopped working after plugin ${clip(src, 700)}: ${clip(echo)}`);
    } finally {
      await rpc?.close();
      rmSync(file, { force: true });
    }
    if (!(await waitForState("unload", async () => (await pluginState(file)) === undefined))) v.add("plugin-unload", `the plugin is still listed after its file was deleted: ${clip(await pluginState(file))}`);
    if (!(await d.checkAlive())) {
      v.add("crash", `${d.deathReport()}\n(plugin: ${clip(src, 700)})`);
      return v.assertNone("plugin case");
    }
    const h = await d.health();
    if (h.status !== 200) v.add("healthz", `/healthz answered ${h.status ?? h.error}`);
    if (h.json?.counts?.loaded !== loadedBefore) v.add("worker-leak", `${h.json?.counts?.loaded} plugins loaded after the case, ${loadedBefore} before`);
    const sessionsAfter = await d.settleSessions(sessionsBefore);
    if (sessionsAfter !== sessionsBefore) v.add("session-leak", `${sessionsAfter} sessions after the case, ${sessionsBefore} before`);
    // worker threads retire asynchronously (drain, then terminate)
    const threadsOk = await waitForState("threads", async () => d.figures().threads <= threadsBefore, HANG_BOUND_MS);
    if (!threadsOk) v.add("worker-leak", `${d.figures().threads} threads after the plugin was removed, ${threadsBefore} before (plugin: ${clip(src, 700)})`);
    v.assertNone("plugin case");
  },
  examples: [
    { top: "none", def: { name: "fz", tools: { t: { handler: new Code(`() => { for (;;) {} }`) } } } },
    { top: "exit", def: { name: "fz" } },
  ],
  summary: () => `: ${loaded} plugins loaded, ${failed} refused with an error`,
});

suite.finalTest("after fuzzing plugins: alive, healthy, base plugin serving, clean stderr", "end of plugin fuzzing");
