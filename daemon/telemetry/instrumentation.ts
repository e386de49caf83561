/**
 * MCP spans and metrics, written against `@opentelemetry/api` only (the SDK is wired in
 * `telemetry/sdk.ts`): with no SDK registered every call here is a cheap no-op. Names and
 * attributes follow the OpenTelemetry MCP semantic conventions. Nothing here throws into
 * a request path: every entry point swallows its own failures.
 *
 * Cardinality: a metric keeps one series per distinct attribute set for the life of the
 * process, so no metric attribute may take a value a client chose freely. Tool and prompt
 * names count only when the registry knows them (else `_OTHER`), methods and error types
 * only from fixed lists, and resource URIs stay off metrics (template URIs are unbounded).
 * Spans keep the client's real values, truncated, because they live in bounded buffers.
 */
import { metrics, propagation, trace, SpanKind, SpanStatusCode, ROOT_CONTEXT, TraceFlags, type Attributes, type Context, type Span } from "@opentelemetry/api";
import type { WorkerSpan } from "../plugins/worker-protocol.ts";
import { DurationHistogram, type HistogramSeries } from "./duration-histogram.ts";
import type { SessionInfo, TransportKind } from "../session-store.ts";
import { clipString } from "../clip-string.ts";

/**
 * Who a request came from, as spans and metrics see it. `sessionId` only for 2025-era
 * sessions (and the connections of WebSocket/stdio, which are sessions at the transport
 * level): the MCP conventions forbid `mcp.session.id` on 2026-07-28 traffic, so a caller
 * speaking that revision passes none.
 */
export interface SpanCaller {
  transport: TransportKind;
  sessionId?: string;
  protocolVersion?: string;
}

/** Semantic-convention buckets for MCP durations, in seconds. */
export const DURATION_BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];

const tracer = trace.getTracer("mcp-patchbay");

// The metrics API has no proxy provider: a meter taken before the SDK is registered stays a
// no-op forever. So instruments are made on first use, and remade after the SDK starts.
function createInstruments() {
  const meter = metrics.getMeter("mcp-patchbay");
  return {
    // used only when an OTLP exporter wants what the in-process histogram cannot give (see setDurationSink)
    operationDuration: meter.createHistogram("mcp.server.operation.duration", {
      unit: "s",
      description: "Duration of MCP requests handled by the server",
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    }),
    sessionDuration: meter.createHistogram("mcp.server.session.duration", {
      unit: "s",
      description: "Duration of MCP sessions",
      advice: { explicitBucketBoundaries: [...DURATION_BUCKETS, 600, 1800, 3600, 14400, 86400] },
    }),
    openSessions: meter.createUpDownCounter("patchbay.sessions.open", { description: "Open MCP sessions by transport" }),
    reloads: meter.createCounter("patchbay.plugin.reloads", { description: "Plugin loads and reloads" }),
    reloadFailures: meter.createCounter("patchbay.plugin.reload_failures", { description: "Plugin loads or reloads that failed" }),
    workerRestarts: meter.createCounter("patchbay.plugin.worker_restarts", { description: "Plugin worker threads restarted after a crash or hang" }),
    meter,
  };
}
let instruments: ReturnType<typeof createInstruments> | undefined;
function I() {
  return (instruments ??= createInstruments());
}
/** Called once the SDK's meter provider is registered. */
export function resetInstruments(): void {
  instruments = undefined;
}

/** What metrics use in place of a value outside the known set (the semconv convention). */
export const OTHER = "_OTHER";
/** Longest string a span attribute or name keeps from client input. */
export const MAX_SPAN_STRING = 256;

/** Every method name of the MCP spec: anything else is `_OTHER` on metrics. */
const KNOWN_METHODS = new Set([
  "initialize", "ping", "logging/setLevel", "completion/complete", "server/discover", "subscriptions/listen",
  "tools/list", "tools/call", "prompts/list", "prompts/get",
  "resources/list", "resources/templates/list", "resources/read", "resources/subscribe", "resources/unsubscribe",
  "sampling/createMessage", "elicitation/create", "roots/list",
  "tasks/get", "tasks/list", "tasks/result", "tasks/cancel",
  "notifications/initialized", "notifications/cancelled", "notifications/progress", "notifications/message",
  "notifications/roots/list_changed", "notifications/tools/list_changed", "notifications/prompts/list_changed",
  "notifications/resources/list_changed", "notifications/resources/updated", "notifications/elicitation/complete",
  "notifications/tasks/status", "notifications/subscriptions/acknowledged",
]);

/**
 * `error.type` values metrics accept: Patchbay's own names, and JSON-RPC codes in the
 * reserved range (-32768..-32000, where every MCP and JSON-RPC error lives). Add a name here
 * when code starts reporting a new one; until then it is `_OTHER` on metrics (spans keep it).
 */
const KNOWN_ERROR_TYPES = new Set(["tool_error", "timeout", "cancelled", OTHER]);

export function boundedMethod(method: string): string {
  return KNOWN_METHODS.has(method) ? method : OTHER;
}

export function boundedErrorType(errorType: string): string {
  if (KNOWN_ERROR_TYPES.has(errorType)) return errorType;
  if (/^-3[0-9]{4}$/.test(errorType)) {
    const code = Number(errorType);
    if (code >= -32768 && code <= -32000) return errorType;
  }
  return OTHER;
}

/** Which tool and prompt names are real: given by the composition root from the registry. */
export interface KnownNames {
  tool(name: string): boolean;
  prompt(name: string): boolean;
}
// Until the registry is bound nothing is known, so an unbound daemon errs toward `_OTHER`
// (bounded) rather than toward a series per client-chosen name.
let known: KnownNames = { tool: () => false, prompt: () => false };
export function setKnownNames(k: KnownNames): void {
  known = k;
}

function clip(v: string): string {
  return clipString(v, MAX_SPAN_STRING);
}

/**
 * `mcp.server.operation.duration`, aggregated in-process and read by the SDK's metric
 * readers as a producer (see duration-histogram.ts); `telemetry/sdk.ts` attaches it to every
 * reader it makes. Until telemetry starts nothing is recorded.
 */
export const operationDurations = new DurationHistogram({ name: "mcp.server.operation.duration", unit: "s", description: "Duration of MCP requests handled by the server" }, DURATION_BUCKETS);
/**
 * Where request durations go: `producer` (the in-process histogram, the default), `instrument`
 * (the SDK's histogram instrument, for an OTLP exporter that asks for delta temporality or
 * another histogram aggregation, which a producer's cumulative explicit buckets cannot honour),
 * or `off` until telemetry starts.
 */
export type DurationSink = "producer" | "instrument" | "off";
let durationSink: DurationSink = "off";
/** Called when the SDK starts and stops. */
export function setDurationSink(sink: DurationSink): void {
  if (sink === "producer" && durationSink !== "producer") operationDurations.reset();
  durationSink = sink;
}

/** One attribute set's series, remembered by the values it was derived from. */
interface SeriesMemo {
  m: string;
  transport: string;
  version: string | undefined;
  tool: string | undefined;
  prompt: string | undefined;
  execute: boolean;
  plugin: string | undefined;
  error: string | undefined;
  series: HistogramSeries;
}
/**
 * The series a request's values led to before, by its bounded tool, prompt or method name:
 * finding one is a map lookup and a few comparisons, where building the histogram's string
 * key and hashing it was a third of what telemetry cost a call that is not traced. Every
 * value here comes from a bounded set (see metricSeries), so the memo is bounded too, and
 * capped besides: past the caps a request's series is looked up by its key as before. The
 * memo holds the histogram's series objects, so it is dropped when the histogram resets.
 */
let seriesMemo = new Map<string, SeriesMemo[]>();
let memoGeneration = -1;
const MEMO_NAMES = 2000;
const MEMO_PER_NAME = 64;

/**
 * The duration histogram's series for a request: its attributes are all from fixed or
 * registry-bounded sets, so the series are bounded like the values (and capped by the
 * histogram's overflow series).
 */
function metricSeries(method: string, attrs: Attributes, caller: SpanCaller, errorType: string | undefined): HistogramSeries {
  const m = boundedMethod(method);
  // The SDK negotiates (or, on 2026-07-28, validates) the version, but a date-shaped check
  // keeps a future bug from leaking a client's string into a series.
  const version = caller.protocolVersion && /^\d{4}-\d{2}-\d{2}$/.test(caller.protocolVersion) ? caller.protocolVersion : undefined;
  const t = attrs["gen_ai.tool.name"];
  const tool = typeof t === "string" ? (known.tool(t) ? t : OTHER) : undefined;
  const p = attrs["gen_ai.prompt.name"];
  const prompt = typeof p === "string" ? (known.prompt(p) ? p : OTHER) : undefined;
  const execute = attrs["gen_ai.operation.name"] === "execute_tool";
  // set by the session only for a name the registry resolved, so it is a loaded plugin's name
  const pl = attrs["patchbay.plugin.name"];
  const plugin = typeof pl === "string" ? pl : undefined;
  const error = errorType ? boundedErrorType(errorType) : undefined;
  const transport = caller.transport;
  const name = tool ?? prompt ?? m;
  if (memoGeneration !== operationDurations.generation) {
    seriesMemo = new Map();
    memoGeneration = operationDurations.generation;
  }
  let memos = seriesMemo.get(name);
  if (memos) {
    for (const e of memos) if (e.m === m && e.transport === transport && e.version === version && e.tool === tool && e.prompt === prompt && e.execute === execute && e.plugin === plugin && e.error === error) return e.series;
  }
  const key = `${m}\u0000${transport}\u0000${version}\u0000${tool}\u0000${prompt}\u0000${execute}\u0000${plugin}\u0000${error}`;
  const series = operationDurations.seriesFor(key, () => {
    const set: Attributes = { "mcp.method.name": m, ...networkAttributes(transport) };
    if (version) set["mcp.protocol.version"] = version;
    if (tool !== undefined) set["gen_ai.tool.name"] = tool;
    if (prompt !== undefined) set["gen_ai.prompt.name"] = prompt;
    if (execute) set["gen_ai.operation.name"] = "execute_tool";
    if (plugin !== undefined) set["patchbay.plugin.name"] = plugin;
    if (error) set["error.type"] = error;
    return set;
  });
  if (!memos && seriesMemo.size < MEMO_NAMES) seriesMemo.set(name, (memos = []));
  if (memos && memos.length < MEMO_PER_NAME) memos.push({ m, transport, version, tool, prompt, execute, plugin, error, series });
  return series;
}

const PIPE: Readonly<Attributes> = Object.freeze({ "network.transport": "pipe" });
const WEBSOCKET: Readonly<Attributes> = Object.freeze({ "network.transport": "tcp", "network.protocol.name": "websocket" });
const HTTP: Readonly<Attributes> = Object.freeze({ "network.transport": "tcp", "network.protocol.name": "http" });

/** The network attributes of a transport (one frozen object each: callers copy them). */
export function networkAttributes(transport: TransportKind): Readonly<Attributes> {
  return transport === "stdio" ? PIPE : transport === "websocket" ? WEBSOCKET : HTTP;
}

/**
 * Puts attributes on a span just started. The OpenTelemetry SDK checks every attribute value
 * with a fresh WeakSet (for cycles in nested values), twice per `startSpan` and once per
 * `setAttribute`: about an eighth of the daemon's allocations per call under load went
 * there. Our values are primitives (strings clipped here), which that check always passes,
 * so they go straight into a recording SDK span's attribute map; anything else, and any
 * span that is not the SDK's (no SDK registered, sampled out), takes the API's way, and so
 * does every span when the environment sets span attribute limits (which the SDK applies on
 * its way). Span processors' `onStart` sees the span before these attributes.
 */
const LIMIT_VARIABLES = ["OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT"];
const spanLimitsSet = LIMIT_VARIABLES.some((v) => process.env[v]);

function putAttributes(span: Span, attrs: Attributes): void {
  const target = (span as { attributes?: unknown }).attributes;
  if (spanLimitsSet || typeof target !== "object" || target === null || Object.isFrozen(target)) {
    span.setAttributes(attrs);
    return;
  }
  const map = target as Attributes;
  for (const k in attrs) {
    const v = attrs[k];
    const t = typeof v;
    if (t === "string" || t === "boolean" || (t === "number" && Number.isFinite(v))) map[k] = v;
    else if (v !== undefined) span.setAttribute(k, v);
  }
}

/**
 * Where every finished `tools/call` is counted for the dashboard's per-tool stats, sampled
 * into a trace or not: the stats must not depend on the trace sampler. Set by the SDK
 * wiring (sdk.ts) when telemetry is on.
 */
export interface CallSink {
  /** resultBytes: the tool result's size (context/result-size.ts), when it had one */
  toolCall(name: string, plugin: string | undefined, durationMs: number, error: boolean, at: number, resultBytes?: number): void;
}
let callSink: CallSink | undefined;
export function setCallSink(sink: CallSink | undefined): void {
  callSink = sink;
}

export interface RequestSpan {
  /** W3C traceparent of this request's span, for the plugin worker's child span. */
  traceparent?: string;
  setAttributes(a: Attributes): void;
  /** Records the plugin's own work, timed inside its worker, as a child span. */
  addWorkerSpan(ws: WorkerSpan | undefined): void;
  /** Records the size of a tool's result: `patchbay.result.size` on the span, and the dashboard's per-tool sizes. */
  setResultSize(bytes: number): void;
  /** Ends the span and records the duration metric; errorType marks a failure. */
  end(errorType?: string): void;
}

const getter = {
  keys: (carrier: Record<string, unknown>) => Object.keys(carrier),
  get: (carrier: Record<string, unknown>, key: string) => {
    const v = carrier[key];
    return typeof v === "string" ? v : undefined;
  },
};

export interface RequestStart {
  method: string;
  target?: string;
  attributes: Attributes;
  meta?: Record<string, unknown>;
  caller: SpanCaller;
  requestId?: string | number;
}

const NOOP: RequestSpan = { setAttributes() {}, addWorkerSpan() {}, setResultSize() {}, end() {} };

/**
 * Whether `_meta` carries anything the registered propagator reads (`traceparent`,
 * `tracestate`, `baggage` for the default ones): most requests carry none, and extracting
 * from them would only walk their keys.
 */
function carriesContext(meta: Record<string, unknown>): boolean {
  for (const f of propagation.fields()) if (f in meta) return true;
  return false;
}

/** One request's span; a class rather than closures, as one is made per request. */
class LiveRequestSpan implements RequestSpan {
  traceparent?: string;
  private readonly started = performance.now();
  private resultBytes?: number;

  constructor(
    private readonly req: RequestStart,
    private readonly span: Span,
    private readonly parent: Context,
  ) {
    const sc = span.spanContext();
    if (trace.isSpanContextValid(sc)) this.traceparent = `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags.toString(16)}`;
  }

  setAttributes(a: Attributes): void {
    this.span.setAttributes(a);
  }

  addWorkerSpan(ws: WorkerSpan | undefined): void {
    if (!ws || !this.span.isRecording()) return;
    try {
      // Threads have their own clocks: keep the worker's measured duration, but anchor it
      // to when the host received the result, so the child never sticks out of its parent.
      // performance.now()-relative numbers go through the SDK's own clock correction,
      // the same one its parent span used.
      const end = performance.now();
      const start = end - Math.max(0, ws.endTime - ws.startTime);
      // the worker's record arrived structured-cloned, so it is ours to extend (no copy per call)
      const attributes: Attributes = ws.attributes;
      attributes["patchbay.span.origin"] = "worker";
      const child = tracer.startSpan(ws.name, { kind: SpanKind.INTERNAL, startTime: start }, trace.setSpan(this.parent, this.span));
      putAttributes(child, attributes);
      if (!ws.ok) child.setStatus({ code: SpanStatusCode.ERROR });
      child.end(end);
    } catch {
      // telemetry is best-effort
    }
  }

  setResultSize(bytes: number): void {
    this.resultBytes = bytes;
    if (this.span.isRecording()) this.span.setAttribute("patchbay.result.size", bytes);
  }

  end(errorType?: string): void {
    try {
      const span = this.span;
      if (errorType) {
        span.setAttribute("error.type", clip(errorType));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
      const req = this.req;
      const ms = performance.now() - this.started;
      // from the unclipped request attributes: a clipped name must not match a real one
      if (durationSink === "producer") operationDurations.record(metricSeries(req.method, req.attributes, req.caller, errorType), ms / 1000);
      else if (durationSink === "instrument") I().operationDuration.record(ms / 1000, metricSeries(req.method, req.attributes, req.caller, errorType).attributes);
      const tool = req.attributes["gen_ai.tool.name"];
      if (callSink && req.method === "tools/call" && typeof tool === "string") {
        const plugin = req.attributes["patchbay.plugin.name"];
        callSink.toolCall(tool, typeof plugin === "string" ? plugin : undefined, ms, errorType !== undefined, Date.now(), this.resultBytes);
      }
    } catch {
      // telemetry is best-effort
    }
  }
}

/**
 * What the SDK wiring (sdk.ts) gives when Patchbay's own rate limit decides which new
 * requests are traced: whether one started now would be, and the tracer's id source.
 */
export interface RootSampling {
  wouldSample(): boolean;
  ids: { generateTraceId(): string; generateSpanId(): string };
}
let rootSampling: RootSampling | undefined;
export function setRootSampling(r: RootSampling | undefined): void {
  rootSampling = r;
}

/**
 * A request with no trace context that the rate limit leaves out gets a non-recording span
 * made here, with the ids the SDK would have given it (a traceparent flagged not sampled still
 * goes to upstreams), instead of one from the SDK: its span name, sampler chain and span
 * object were half of what telemetry cost such a request. What it yields is the same as the
 * SDK's (a non-recording span; processors see neither).
 */
function untracedRoot(parent: Context): Span | undefined {
  if (parent !== ROOT_CONTEXT || !rootSampling || rootSampling.wouldSample()) return undefined;
  return trace.wrapSpanContext({ traceId: rootSampling.ids.generateTraceId(), spanId: rootSampling.ids.generateSpanId(), traceFlags: TraceFlags.NONE });
}

export function startRequestSpan(req: RequestStart): RequestSpan {
  try {
    const parent = req.meta && carriesContext(req.meta) ? propagation.extract(ROOT_CONTEXT, req.meta, getter) : ROOT_CONTEXT;
    const span: Span = untracedRoot(parent) ?? tracer.startSpan(clip(req.target ? `${req.method} ${req.target}` : req.method), { kind: SpanKind.SERVER }, parent);
    // a call the sampler left out still counts in metrics and stats (see end()), but its
    // attributes would go nowhere
    if (span.isRecording()) {
      const net = networkAttributes(req.caller.transport);
      const attrs: Attributes = { "mcp.method.name": clip(req.method) };
      for (const k in net) attrs[k] = net[k];
      if (req.caller.sessionId !== undefined) attrs["mcp.session.id"] = req.caller.sessionId;
      // Names, URIs and ids come from the client and may be megabytes long: spans keep them,
      // clipped, so the dashboard's span buffer and OTLP batches stay small.
      for (const k in req.attributes) {
        const v = req.attributes[k];
        attrs[k] = typeof v === "string" ? clip(v) : v;
      }
      if (req.caller.protocolVersion) attrs["mcp.protocol.version"] = clip(req.caller.protocolVersion);
      if (req.requestId !== undefined) attrs["jsonrpc.request.id"] = clip(String(req.requestId));
      putAttributes(span, attrs);
    }
    return new LiveRequestSpan(req, span, parent);
  } catch {
    return NOOP;
  }
}

export function recordSessionOpened(s: SessionInfo): void {
  try {
    I().openSessions.add(1, { ...networkAttributes(s.transport), "patchbay.transport": s.transport });
  } catch {
    /* best-effort */
  }
}

export function recordSessionClosed(s: SessionInfo): void {
  try {
    I().openSessions.add(-1, { ...networkAttributes(s.transport), "patchbay.transport": s.transport });
    const attrs: Attributes = { ...networkAttributes(s.transport) };
    if (s.protocolVersion) attrs["mcp.protocol.version"] = s.protocolVersion;
    I().sessionDuration.record((Date.now() - s.startedAt) / 1000, attrs);
  } catch {
    /* best-effort */
  }
}

/** Reloads, compile errors and worker restarts, as short spans plus counters. */
export function recordPluginEvent(e: { plugin: string; file: string; ok: boolean; durationMs: number; error?: string; kind: string }): void {
  try {
    const attrs = { "patchbay.plugin.name": e.plugin, "patchbay.plugin.event": e.kind };
    if (e.kind === "restart") I().workerRestarts.add(1, attrs);
    else if (e.ok) I().reloads.add(1, attrs);
    else I().reloadFailures.add(1, attrs);
    // performance.now()-relative times go through the SDK's clock correction (see addWorkerSpan)
    const end = performance.now();
    const span = tracer.startSpan(`patchbay.plugin.${e.kind} ${e.plugin}`, { startTime: Math.max(0, end - e.durationMs), attributes: { ...attrs, "code.filepath": e.file } }, ROOT_CONTEXT);
    if (!e.ok) {
      span.addEvent("plugin.error", { "exception.message": e.error ?? "" });
      span.setStatus({ code: SpanStatusCode.ERROR, message: e.error });
      span.setAttribute("error.type", e.kind === "restart" ? "worker_restart_failed" : "plugin_load_error");
    }
    span.end(end);
  } catch {
    /* best-effort */
  }
}

/**
 * `patchbay.tools.listing.tokens`: the tokens of the tool listing each view's clients get now
 * (the search-mode listing for a view in search mode), by `patchbay.profile`.
 */
export function registerListingGauge(read: () => { view: string; listedTokens: number }[]): void {
  try {
    I().meter.createObservableGauge("patchbay.tools.listing.tokens", { description: "Estimated tokens (o200k) of the tools/list each profile's clients get" }).addCallback((r) => {
      for (const v of read()) r.observe(v.listedTokens, { "patchbay.profile": v.view });
    });
  } catch {
    /* best-effort */
  }
}

/** Observable gauges read from the live plugin state at collection time. */
export function registerPluginGauges(read: () => { loaded: number; heap: { plugin: string; bytes: number; group?: string }[] }): void {
  try {
    I().meter.createObservableGauge("patchbay.plugins.loaded", { description: "Plugins currently serving" }).addCallback((r) => {
      r.observe(read().loaded);
    });
    I().meter.createObservableGauge("patchbay.plugin.worker.heap", { unit: "By", description: "Heap used by each plugin worker" }).addCallback((r) => {
      // a worker group's members share one heap: each reports it, marked with the group, so a
      // sum over plugins can count it once
      for (const h of read().heap) r.observe(h.bytes, h.group === undefined ? { "patchbay.plugin.name": h.plugin } : { "patchbay.plugin.name": h.plugin, "patchbay.worker.group": h.group });
    });
  } catch {
    /* best-effort */
  }
}

