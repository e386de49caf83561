/**
 * One plugin inside a worker thread: it imports the plugin's bundle, answers calls one
 * message at a time, and records its own span for each call so the host can show plugin
 * time apart from host time. A call may ask its client questions (ctx.sample / ctx.elicit /
 * ctx.roots, see call-asks.ts); how they reach the client is the host's business. It knows
 * nothing of sessions or transports, nor of the thread it runs in: a thread of its own
 * talks to it over `parentPort`, a shared one (worker groups) over a port per plugin
 * (worker-entry.ts).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { pathToFileURL } from "node:url";
import { loadPluginShape, preloadSchemaLibraries, PluginShapeError, type ArgValidator, type LoadedPlugin } from "./plugin-shape.ts";
import { toCallToolResult, toGetPromptResult, toReadResourceResult, toolErrorResult } from "../results.ts";
import { CallAsks } from "./call-asks.ts";
import { matchUriTemplate } from "../uri-template.ts";
import type { CallRequest, ClientRequestMethod, HostToWorker, SerializedError, WorkerSpan, WorkerToHost } from "../worker-protocol.ts";
import type { CallContext, ClientRequestOptions, CreateMessageResult, ElicitResult, ListRootsResult, PluginContext, PluginLogger } from "../../api.ts";

/** Where a runtime's messages to the host go: the thread's parentPort, or its own MessagePort in a shared thread. */
export interface RuntimePort {
  postMessage(msg: WorkerToHost | WorkerToHost[]): void;
}

/** Runs a plugin's load when its turn comes. */
export type LoadTurn = (load: () => Promise<void>) => Promise<void>;

/** A plugin runtime: hand it the host's messages, as they come. */
export interface PluginRuntime {
  receive(msg: HostToWorker | HostToWorker[]): void;
  /** Reports an error nobody caught (an unhandled rejection) as this plugin's log. */
  report(message: string, err: unknown): void;
}

// Span ids come from one random block refilled every 512 spans: a randomBytes call per id
// was a tenth of this thread's time per call.
let idPool = Buffer.alloc(0);
let idOffset = 0;
function randomHex(bytes: number): string {
  if (idOffset + bytes > idPool.length) {
    idPool = randomBytes(8192);
    idOffset = 0;
  }
  const hex = idPool.toString("hex", idOffset, idOffset + bytes);
  idOffset += bytes;
  return hex;
}

function parseTraceparent(tp: string | undefined): { traceId: string; spanId: string; sampled: boolean } | undefined {
  const m = tp ? /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(tp) : null;
  return m ? { traceId: m[1], spanId: m[2], sampled: (parseInt(m[3], 16) & 1) === 1 } : undefined;
}

/** Loads in this thread so far: each load of a shared thread imports its bundle under a URL of its own. */
let loadSeq = 0;

function safeData(data: unknown): unknown {
  if (data === undefined) return undefined;
  try {
    return JSON.parse(JSON.stringify(data));
  } catch {
    return String(data);
  }
}

/**
 * A call's cancellation, made on first use: an AbortController costs about 2 µs, and most
 * handlers never look at `ctx.signal` and are never cancelled.
 */
class CallCancel {
  private controller?: AbortController;
  get signal(): AbortSignal {
    return (this.controller ??= new AbortController()).signal;
  }
  abort(reason: unknown): void {
    (this.controller ??= new AbortController()).abort(reason);
  }
}

class ValidationFailure extends Error {}

/**
 * The spec has servers give structured results that conform to a tool's output schema, and
 * clients that listed the tool reject a call whose result does not (a protocol error the
 * model never sees). So a successful result that does not conform becomes a tool error
 * naming the mismatch, as the SDK's own server does; error results are not checked.
 */
function checkedOutput(result: Record<string, unknown>, check: ArgValidator, tool: string): Record<string, unknown> {
  if (result.isError === true) return result;
  if (result.structuredContent === undefined) return toolErrorResult(`Output validation error: tool ${tool} has an output schema but its result has no structured content (return an object that matches the schema)`);
  const r = check(result.structuredContent);
  return r.ok ? result : toolErrorResult(`Output validation error: the result of tool ${tool} does not match its output schema: ${r.message}`);
}

/**
 * Serves one plugin over `port`. `preloaded`: the thread's imports of the modules plugins
 * most likely use, which the plugin's own import waits for. `shared`: other plugins run in
 * the same thread, so what the thread keeps running cannot be told apart per plugin and
 * parking is refused (the host does not park shared plugins). `loadTurn`: when this
 * plugin's load may run (a shared thread loads its plugins one at a time, so that each
 * load's time, counted from "load-started", is its own).
 */
export function createPluginRuntime(port: RuntimePort, preloaded: Promise<unknown>, shared = false, loadTurn: LoadTurn = (load) => load()): PluginRuntime {
  let plugin: LoadedPlugin | undefined;
  let sourceFile = "";
  let sourceDir = "";
  let baseCtx: PluginContext;
  /** Keys the plugin's setup added to its context, copied onto every call's context. */
  let setupKeys: string[] = [];
  const inflight = new Map<number, CallCancel>();
  /** the questions of calls that asked their client something, by call id */
  const asking = new Map<number, CallAsks>();
  // Calls that arrive while the plugin is still loading wait for it.
  let markLoaded: () => void;
  const loaded = new Promise<void>((r) => (markLoaded = r));
  let isLoaded = false;

  /** Neither loading (setup) nor answering a call: a notification now comes from work of the plugin's own. */
  function inBackground(): boolean {
    return isLoaded && inflight.size === 0;
  }

  /**
   * Results not yet posted. The results of calls that end in the same microtask drain (calls
   * answered by one timer or one I/O event) go back as one message, which wakes the main
   * thread once. A microtask, not setImmediate, so that a plugin's loop in a later callback
   * cannot hold back an answer it already gave.
   */
  let results: Extract<WorkerToHost, { type: "result" }>[] = [];

  function flushResults() {
    const batch = results;
    if (batch.length === 0) return;
    results = [];
    try {
      port.postMessage(batch.length === 1 ? batch[0] : batch);
    } catch {
      for (const reply of batch) {
        try {
          port.postMessage(reply);
        } catch (err) {
          // A value that cannot be cloned across threads (a function, a class instance) must still answer.
          port.postMessage({ type: "result", id: reply.id, ok: false, error: { message: `result could not be sent: ${(err as Error).message}` }, span: reply.span } satisfies WorkerToHost);
        }
      }
    }
  }

  function postResult(reply: Extract<WorkerToHost, { type: "result" }>) {
    if (results.push(reply) === 1) queueMicrotask(flushResults);
  }

  /** Anything but a result goes at once, after the results queued before it. */
  function post(msg: WorkerToHost) {
    flushResults();
    port.postMessage(msg);
  }

  /** Finds the first stack frame inside the plugin's own sources (source maps make it the .ts file). */
  function locate(err: unknown): SerializedError["location"] {
    const stack = err instanceof Error ? err.stack ?? "" : "";
    for (const line of stack.split("\n")) {
      const m = /\(?((?:file:\/\/)?\/[^():]+):(\d+):(\d+)\)?\s*$/.exec(line);
      if (!m) continue;
      const file = m[1].replace(/^file:\/\//, "");
      if (file.startsWith(sourceDir) && !file.includes("/node_modules/")) return { file, line: Number(m[2]), column: Number(m[3]) };
    }
    return undefined;
  }

  function serialize(err: unknown, extra: Partial<SerializedError> = {}): SerializedError {
    if (err instanceof Error) {
      return { message: err.message, name: err.name, code: (err as { code?: string }).code, stack: err.stack, location: locate(err), ...extra };
    }
    return { message: typeof err === "string" ? err : JSON.stringify(err) ?? String(err), ...extra };
  }

  function makeLogger(): PluginLogger {
    const at = (level: "debug" | "info" | "warn" | "error") => (message: string, data?: unknown) => post({ type: "log", level, message: String(message), data: safeData(data) });
    return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  }

  function load(msg: Extract<HostToWorker, { type: "load" }>): Promise<void> {
    return loadTurn(() => loadNow(msg));
  }

  async function loadNow(msg: Extract<HostToWorker, { type: "load" }>) {
    post({ type: "load-started" });
    sourceFile = msg.file;
    sourceDir = dirname(msg.file);
    countOwnResources();
    try {
      mkdirSync(msg.dataDir, { recursive: true });
    } catch {
      // the plugin will see the failure when it writes; loading must not fail for it
    }
    try {
      await preloaded;
      // A shared thread may have imported this bundle before (a load that failed and is
      // tried again, an edit undone): a fresh URL evaluates it afresh, as a thread of its own would.
      const url = pathToFileURL(msg.bundlePath).href;
      const mod = await import(shared ? `${url}?load=${++loadSeq}` : url);
      const def = mod.default ?? mod.plugin;
      await preloadSchemaLibraries(def);
      plugin = loadPluginShape(def, msg.defaultName);
      baseCtx = {
        pluginName: plugin.manifest.name,
        dataDir: msg.dataDir,
        log: makeLogger(),
        resourcesChanged: () => post({ type: "resources-changed", background: inBackground() }),
        resourceUpdated: (uri: string) => {
          if (typeof uri !== "string" || uri.length === 0) throw new TypeError("ctx.resourceUpdated(uri): uri must be a non-empty string");
          post({ type: "resource-updated", uri, background: inBackground() });
        },
      };
      const own = new Set(Object.keys(baseCtx));
      if (plugin.setup) await plugin.setup(baseCtx);
      setupKeys = Object.keys(baseCtx).filter((k) => !own.has(k));
      post({ type: "loaded", manifest: plugin.manifest, keepAlive: plugin.keepAlive });
      isLoaded = true;
      markLoaded();
    } catch (err) {
      try {
        if (err instanceof PluginShapeError) post({ type: "load-error", error: { message: `${sourceFile}: ${err.message}`, name: "PluginShapeError", location: { file: sourceFile, line: 1 } } });
        else post({ type: "load-error", error: serialize(err) });
      } catch {
        // what it threw cannot be described or sent (a BigInt, a cycle, a function field)
        post({ type: "load-error", error: { message: `${sourceFile}: loading threw a value that cannot be shown (${typeof err})` } });
      }
    }
  }

  /** The call's questions, opened on its first ask (most calls never ask). */
  function asksOf(req: CallRequest, signal: AbortSignal): CallAsks {
    let asks = asking.get(req.id);
    if (!asks) {
      asks = new CallAsks(req.answers, signal, (requests) => post({ type: "client-requests", id: req.id, requests }));
      // an ask made after the call answered (from a timer the handler left behind) goes nowhere
      if (inflight.has(req.id)) asking.set(req.id, asks);
      else asks.end();
    }
    return asks;
  }

  function callContext(req: CallRequest, cancel: CallCancel): CallContext {
    const ask = (method: ClientRequestMethod, params: unknown, opts: ClientRequestOptions | undefined) => asksOf(req, cancel.signal).ask(method, params, opts);
    // Fields one by one, not `...baseCtx`: V8 took about 5 µs per call for that spread.
    const ctx: CallContext = {
      pluginName: baseCtx.pluginName,
      dataDir: baseCtx.dataDir,
      log: baseCtx.log,
      resourcesChanged: baseCtx.resourcesChanged,
      resourceUpdated: baseCtx.resourceUpdated,
      get signal() {
        return cancel.signal;
      },
      session: req.session,
      progress: (progress, total, message) => post({ type: "progress", id: req.id, progress, total, message }),
      sendLog: (level, data) => post({ type: "client-log", id: req.id, level, data: safeData(data) }),
      sample: (params, opts) => ask("sampling/createMessage", params, opts) as Promise<CreateMessageResult>,
      elicit: (params, opts) => ask("elicitation/create", params, opts) as Promise<ElicitResult>,
      roots: (opts) => ask("roots/list", undefined, opts) as Promise<ListRootsResult>,
    };
    // what the plugin's setup(ctx) put on the context (a client, a cache) reaches its handlers too
    for (const k of setupKeys) if (!(k in ctx)) (ctx as unknown as Record<string, unknown>)[k] = (baseCtx as unknown as Record<string, unknown>)[k];
    return ctx;
  }

  async function dispatch(req: CallRequest, ctx: CallContext): Promise<unknown> {
    const p = plugin!;
    switch (req.kind) {
      case "tool": {
        const tool = p.tools.get(req.target);
        if (!tool) throw new Error(`unknown tool ${req.target}`);
        const v = tool.validate(req.args);
        if (!v.ok) throw new ValidationFailure(`Invalid arguments for tool ${req.target}: ${v.message}`);
        let result: Record<string, unknown>;
        try {
          result = toCallToolResult(await tool.handler(v.value, ctx), tool.hasOutput);
        } catch (err) {
          // A throwing tool is a tool-level error the model can read, not a protocol error.
          return toolErrorResult(err instanceof Error ? err.message : String(err));
        }
        return tool.checkOutput ? checkedOutput(result, tool.checkOutput, req.target) : result;
      }
      case "resource": {
        const r = p.resources.get(req.target);
        if (!r) throw new Error(`unknown resource ${req.target}`);
        return toReadResourceResult(await r.read(req.target, ctx), req.target, r.info.mimeType);
      }
      case "template": {
        const t = p.templates.get(req.target);
        if (!t || !req.uri) throw new Error(`unknown resource template ${req.target}`);
        const vars = (matchUriTemplate(t.template, req.uri) ?? {}) as Record<string, string>;
        return toReadResourceResult(await t.read(req.uri, vars, ctx), req.uri, t.info.mimeType);
      }
      case "list-template": {
        const t = p.templates.get(req.target);
        if (!t?.list) return [];
        const listed = await t.list(baseCtx);
        if (!Array.isArray(listed)) throw new Error(`resourceTemplates["${req.target}"].list must return an array`);
        return listed.map((r) => ({ mimeType: t.info.mimeType, ...r }));
      }
      case "prompt": {
        const pr = p.prompts.get(req.target);
        if (!pr) throw new Error(`unknown prompt ${req.target}`);
        const v = pr.validate(req.args);
        if (!v.ok) throw new ValidationFailure(`Invalid arguments for prompt ${req.target}: ${v.message}`);
        return toGetPromptResult(await pr.render(v.value, ctx), pr.info.description);
      }
      case "complete": {
        const { refType, argName, value } = req.args as { refType: "prompt" | "template"; argName: string; value: string };
        const owner = refType === "prompt" ? p.prompts.get(req.target) : p.templates.get(req.target);
        const fn = owner?.complete[argName];
        if (!fn) return [];
        const values = await fn(value, baseCtx);
        return Array.isArray(values) ? values.map(String) : [];
      }
    }
  }

  async function call(req: CallRequest) {
    const cancel = new CallCancel();
    inflight.set(req.id, cancel);
    const parent = parseTraceparent(req.traceparent);
    const start = performance.timeOrigin + performance.now();
    let ok = true;
    let reply: Extract<WorkerToHost, { type: "result" }>;
    try {
      const value = await dispatch(req, callContext(req, cancel));
      if (req.kind === "tool" && (value as { isError?: boolean }).isError) ok = false;
      reply = { type: "result", id: req.id, ok: true, value };
    } catch (err) {
      ok = false;
      reply = { type: "result", id: req.id, ok: false, error: serialize(err, err instanceof ValidationFailure ? { validation: true } : {}) };
    } finally {
      inflight.delete(req.id);
      asking.get(req.id)?.end();
      asking.delete(req.id);
    }
    // only a call whose host span records (telemetry on, sampled) has a use for the child span
    if (parent?.sampled) {
      const span: WorkerSpan = {
        name: `plugin ${req.kind} ${req.target}`,
        traceId: parent.traceId,
        spanId: randomHex(8),
        parentSpanId: parent.spanId,
        startTime: start,
        endTime: performance.timeOrigin + performance.now(),
        ok,
        attributes: { "patchbay.plugin.name": baseCtx?.pluginName ?? "", "patchbay.call.kind": req.kind },
      };
      reply.span = span;
    }
    postResult(reply);
  }

  /** Resources the thread held before the plugin was imported (its message port), counted at load. */
  const ownResources = new Map<string, number>();
  function countOwnResources() {
    for (const k of process.getActiveResourcesInfo()) ownResources.set(k, (ownResources.get(k) ?? 0) + 1);
  }

  /**
   * What the plugin keeps running between calls: referenced handles (timers, watchers,
   * sockets, servers, child processes, signal listeners). Requests in flight (an fs or DNS
   * operation) finish on their own and do not count; an unref()'d handle is invisible here.
   */
  function backgroundWork(): string[] {
    if (shared) return ["a shared worker thread"];
    const own = new Map(ownResources);
    const kinds = process.getActiveResourcesInfo().filter((k) => {
      const n = own.get(k) ?? 0;
      if (n > 0) {
        own.set(k, n - 1);
        return false;
      }
      return !/Req(Wrap|Callback)?$/.test(k) && k !== "Immediate";
    });
    return [...new Set(kinds)];
  }

  async function runTeardown() {
    try {
      await plugin?.teardown?.();
    } catch (err) {
      post({ type: "log", level: "warn", message: "teardown threw", data: serialize(err) });
    }
  }

  /**
   * The host sends the calls of one turn of its event loop as one array. Each of them is
   * handled as a task of its own, as if it had come alone: the microtasks of one (a quick
   * call answering) run before the next starts (one that may loop forever), and a message
   * that came later waits for the batch before it.
   */
  const inbox: HostToWorker[] = [];
  // one immediate per message: those queued together run in one check phase, with the
  // microtasks of each run before the next
  const handleNext = () => handle(inbox.shift()!);
  function enqueue(msg: HostToWorker) {
    inbox.push(msg);
    setImmediate(handleNext);
  }

  function handle(msg: HostToWorker) {
    switch (msg.type) {
      case "load":
        void load(msg);
        break;
      case "call":
        void loaded.then(() => call(msg));
        break;
      case "cancel":
        inflight.get(msg.id)?.abort(msg.reason ?? "cancelled");
        break;
      case "client-responses":
        asking.get(msg.id)?.receive(msg.responses);
        break;
      case "ping":
        post({ type: "pong", id: msg.id, heapUsed: process.memoryUsage().heapUsed });
        break;
      case "park": {
        const background = inflight.size > 0 ? ["calls in flight"] : backgroundWork();
        if (inflight.size > 0 || (background.length > 0 && !msg.force)) {
          post({ type: "park-answer", ok: false, background });
          break;
        }
        void runTeardown().then(() => post({ type: "park-answer", ok: true, background: [] }));
        break;
      }
      case "teardown":
        void runTeardown().then(() => post({ type: "torn-down" }));
        break;
    }
  }

  return {
    receive(msg) {
      if (!Array.isArray(msg)) {
        if (inbox.length > 0) enqueue(msg);
        else handle(msg);
        return;
      }
      let i = 0;
      if (inbox.length === 0) handle(msg[i++]);
      for (; i < msg.length; i++) enqueue(msg[i]);
    },
    report(message, err) {
      post({ type: "log", level: "error", message, data: serialize(err) });
    },
  };
}
