/**
 * The in-process span processor that feeds the dashboard: recent spans grouped into traces,
 * and per-tool stats (calls, errors, p50/p95/p99 over a recent window, a per-second latency
 * series). Everything lives in fixed-size ring buffers, so memory is bounded whatever the
 * call rate. Work done per span is a few array writes; serialization happens only when the
 * dashboard asks or a live subscriber is connected.
 *
 * Bounded by what the operator loads, never by what clients send: a tool gets its own stats
 * window only while the registry knows its name (see `bindKnownTools`), calls to any other
 * name share one `(unknown)` window, and a tool's window is dropped when it leaves the
 * registry. String attributes are clipped before they are kept.
 */
import type { Context } from "@opentelemetry/api";
import type { ReadableSpan, Span, SpanProcessor } from "@opentelemetry/sdk-trace";
import { clipString } from "../clip-string.ts";
import { compareCodePoints } from "../code-point-order.ts";

export interface SpanRecord {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  /** epoch ms */
  start: number;
  durationMs: number;
  error: boolean;
  origin: "host" | "worker" | "plugin-event";
  attributes: Record<string, unknown>;
  events?: { name: string; attributes?: Record<string, unknown> }[];
}

export interface ToolStats {
  tool: string;
  plugin?: string;
  calls: number;
  errors: number;
  errorRate: number;
  p50: number;
  p95: number;
  p99: number;
  lastCallAt: number;
  /** result sizes in bytes over the same window (calls that returned a result) */
  resultBytesP50: number;
  resultBytesP99: number;
}

export interface SeriesPoint {
  /** epoch seconds */
  t: number;
  calls: number;
  p95: number;
  max: number;
}

/** The one stats window for calls to names the registry does not know (cannot clash: exposed names are `[a-zA-Z0-9_-]`). */
export const UNKNOWN_TOOL = "(unknown)";
/** Longest string attribute a kept span record holds (plugin error text is the long case). */
const MAX_ATTRIBUTE_CHARS = 4096;

const WINDOW_SAMPLES = 2048;
const WINDOW_MS = 5 * 60_000;
const SERIES_SECONDS = 300;
const MAX_TRACES = 300;

function hrToMs(hr: [number, number]): number {
  return hr[0] * 1000 + hr[1] / 1e6;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

class ToolWindow {
  calls = 0;
  errors = 0;
  lastCallAt = 0;
  plugin?: string;
  private durations = new Float64Array(WINDOW_SAMPLES);
  private times = new Float64Array(WINDOW_SAMPLES);
  /** NaN: that call had no result (an error) */
  private sizes = new Float64Array(WINDOW_SAMPLES);
  private n = 0;
  private next = 0;
  /** per-second buckets: [epochSecond, calls, max, samples…] kept small */
  private buckets = new Map<number, number[]>();

  add(ms: number, at: number, error: boolean, bytes?: number) {
    this.calls++;
    if (error) this.errors++;
    this.lastCallAt = at;
    this.sizes[this.next] = bytes ?? NaN;
    this.durations[this.next] = ms;
    this.times[this.next] = at;
    this.next = (this.next + 1) % WINDOW_SAMPLES;
    this.n = Math.min(this.n + 1, WINDOW_SAMPLES);
    const sec = Math.floor(at / 1000);
    let b = this.buckets.get(sec);
    if (!b) {
      b = [];
      this.buckets.set(sec, b);
      // drop buckets older than the series window
      for (const k of this.buckets.keys()) {
        if (k < sec - SERIES_SECONDS) this.buckets.delete(k);
        else break;
      }
    }
    if (b.length < 256) b.push(ms);
  }

  recent(now: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.n; i++) if (now - this.times[i] <= WINDOW_MS) out.push(this.durations[i]);
    return out.sort((a, b) => a - b);
  }

  recentSizes(now: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.n; i++) if (now - this.times[i] <= WINDOW_MS && !Number.isNaN(this.sizes[i])) out.push(this.sizes[i]);
    return out.sort((a, b) => a - b);
  }

  series(): SeriesPoint[] {
    return [...this.buckets.entries()].map(([t, samples]) => {
      const sorted = [...samples].sort((a, b) => a - b);
      return { t, calls: samples.length, p95: quantile(sorted, 0.95), max: sorted[sorted.length - 1] ?? 0 };
    });
  }
}

/** The attributes with long strings clipped; the span's own object (read-only once ended) when nothing needs clipping, which is nearly always. */
function clipAttributes(attrs: Record<string, unknown>): Record<string, unknown> {
  let long = false;
  for (const k in attrs) {
    const v = attrs[k];
    if (typeof v === "string" && v.length > MAX_ATTRIBUTE_CHARS) {
      long = true;
      break;
    }
  }
  if (!long) return attrs;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(attrs)) out[k] = typeof v === "string" ? clipString(v, MAX_ATTRIBUTE_CHARS) : v;
  return out;
}

export type StoreListener = (spans: SpanRecord[]) => void;

export class DashboardStore implements SpanProcessor {
  private traces = new Map<string, SpanRecord[]>();
  private tools = new Map<string, ToolWindow>();
  private listeners = new Set<StoreListener>();
  private pending: SpanRecord[] = [];
  private flushTimer?: NodeJS.Timeout;
  // Nothing is known until the registry is bound: everything counts as unknown (bounded).
  private isKnownTool: (name: string) => boolean = () => false;
  totalSpans = 0;

  /**
   * Ties per-tool state to the registry: `isKnown` decides whether a called name gets its
   * own window; call `retainKnownTools` whenever the tool list changes to drop the windows
   * of tools that are gone.
   */
  bindKnownTools(isKnown: (name: string) => boolean): void {
    this.isKnownTool = isKnown;
    this.retainKnownTools();
  }

  retainKnownTools(): void {
    try {
      for (const name of this.tools.keys()) if (name !== UNKNOWN_TOOL && !this.isKnownTool(name)) this.tools.delete(name);
    } catch {
      // a dashboard problem must never reach the registry's listeners
    }
  }

  onStart(_span: Span, _ctx: Context): void {}

  onEnd(span: ReadableSpan): void {
    try {
      const sc = span.spanContext();
      const attrs = span.attributes;
      const origin = attrs["patchbay.span.origin"] === "worker" ? "worker" : attrs["patchbay.plugin.event"] ? "plugin-event" : "host";
      const rec: SpanRecord = {
        traceId: sc.traceId,
        spanId: sc.spanId,
        parentSpanId: span.parentSpanContext?.spanId,
        name: span.name,
        kind: span.kind,
        start: hrToMs(span.startTime as [number, number]),
        durationMs: hrToMs(span.duration as [number, number]),
        error: span.status.code === 2,
        origin,
        attributes: clipAttributes(attrs),
        events: span.events.length ? span.events.map((e) => ({ name: e.name, attributes: e.attributes && clipAttributes(e.attributes) })) : undefined,
      };
      // Kept only in its trace: a ring of the last 4,000 span records beside the traces was
      // read by nothing and kept each record alive for seconds under load, long enough to be
      // copied into the old generation (the collector's work grew with the call rate).
      this.totalSpans++;
      let t = this.traces.get(rec.traceId);
      if (!t) {
        t = [];
        this.traces.set(rec.traceId, t);
        if (this.traces.size > MAX_TRACES) this.traces.delete(this.traces.keys().next().value!);
      }
      if (t.length < 64) t.push(rec);
      if (this.listeners.size > 0) {
        if (this.pending.length < 500) this.pending.push(rec);
        this.flushTimer ??= setTimeout(() => this.flush(), 250);
      }
    } catch {
      // a dashboard problem must never reach a request
    }
  }

  /**
   * Counts one finished tools/call in its tool's window (fed for every call by the
   * instrumentation, whether or not the call's trace was sampled).
   */
  recordToolCall(tool: string, plugin: string | undefined, durationMs: number, error: boolean, at: number, resultBytes?: number): void {
    try {
      const known = this.isKnownTool(tool);
      const name = known ? tool : UNKNOWN_TOOL;
      let w = this.tools.get(name);
      if (!w) {
        w = new ToolWindow();
        this.tools.set(name, w);
      }
      if (known && plugin !== undefined) w.plugin = plugin;
      w.add(durationMs, at, error, resultBytes);
    } catch {
      // a dashboard problem must never reach a request
    }
  }

  private flush() {
    this.flushTimer = undefined;
    const batch = this.pending.splice(0);
    for (const l of this.listeners) {
      try {
        l(batch);
      } catch {
        // a broken subscriber is dropped by its own close handler
      }
    }
  }

  subscribe(l: StoreListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  toolStats(now = Date.now()): ToolStats[] {
    return [...this.tools.entries()]
      .map(([tool, w]) => {
        const r = w.recent(now);
        const sizes = w.recentSizes(now);
        return { tool, plugin: w.plugin, calls: w.calls, errors: w.errors, errorRate: w.calls ? w.errors / w.calls : 0, p50: quantile(r, 0.5), p95: quantile(r, 0.95), p99: quantile(r, 0.99), lastCallAt: w.lastCallAt, resultBytesP50: quantile(sizes, 0.5), resultBytesP99: quantile(sizes, 0.99) };
      })
      .sort((a, b) => compareCodePoints(a.tool, b.tool));
  }

  series(tool?: string): SeriesPoint[] {
    if (tool) return this.tools.get(tool)?.series() ?? [];
    const merged = new Map<number, SeriesPoint>();
    for (const w of this.tools.values()) {
      for (const p of w.series()) {
        const m = merged.get(p.t);
        if (!m) merged.set(p.t, { ...p });
        else {
          m.calls += p.calls;
          m.p95 = Math.max(m.p95, p.p95);
          m.max = Math.max(m.max, p.max);
        }
      }
    }
    return [...merged.values()].sort((a, b) => a.t - b.t);
  }

  recentTraces(limit = 50): { traceId: string; root: SpanRecord; spans: SpanRecord[] }[] {
    const out: { traceId: string; root: SpanRecord; spans: SpanRecord[] }[] = [];
    for (const [traceId, spans] of [...this.traces.entries()].reverse()) {
      const root = spans.find((s) => s.origin === "host" && s.kind === 1) ?? spans.find((s) => !s.parentSpanId) ?? spans[0];
      out.push({ traceId, root, spans });
      if (out.length >= limit) break;
    }
    return out;
  }

  trace(traceId: string): SpanRecord[] | undefined {
    return this.traces.get(traceId);
  }

  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.listeners.clear();
  }
}
