/**
 * The Patchbay dashboard: reads `/api/overview`, then follows the live feed
 * (`/api/events`, Server-Sent Events; each `overview` event holds only the overview's
 * top-level keys that changed, so it is merged into what we have). Memory in the browser is bounded: fixed-length lists
 * for traces and log lines, and the chart's series is replaced, not appended. Rendering is
 * throttled to a few frames a second however fast events arrive.
 */
import uPlot from "uplot";

interface Tool { name: string; plugin: string; unknown?: boolean; calls: number; errors: number; errorRate: number; p50: number; p95: number; p99: number; tokens?: number; resultBytesP50?: number; resultBytesP99?: number; resultTokensP50?: number; resultTokensP99?: number }
/** one view (the default view or a profile): how it exposes tools and what its listings cost */
interface ViewCost { view: string; expose: string; effective: string; threshold: number; tools: number; allTokens: number; searchTokens: number; listedTokens: number }
interface ContextCost { encoding: string; exact: boolean; totals: { tools: number; toolTokens: number; promptTokens: number; templateTokens: number; definitionTokens: number }; plugins: { plugin: string; tools: number; tokens: number }[]; topTools: { name: string; plugin: string; tokens: number }[]; views: ViewCost[] }
interface Plugin { name: string; file: string; relFile: string; status: string; version: number; pluginVersion?: string; lastReloadAt?: string; lastError?: { message: string; location?: { file: string; line: number; column?: number } }; shadowedBy?: string; restarts: number; heapBytes: number; upstream?: Upstream; worker?: "running" | "parked"; keptAliveBy?: string; workerGroup?: string }
/** a `NAME.mcp.json` plugin's connection: heapBytes is then the child's resident memory */
interface Upstream { transport: string; state: string; pid?: number; restarts: number; lastExit?: string; nextRetryAt?: string }
interface Session { id: string; transport: string; bridged: boolean; profile?: string; clientName?: string; protocolVersion?: string; calls: number; errors: number; startedAt: string }
interface StatelessClient { transport: string; clientName?: string; protocolVersion: string; calls: number; errors: number; lastActivityAt: string }
/** the plugins folder: "ok", or missing / unreadable / not a folder (with why, and since when) */
interface PluginsFolder { state: string; reason?: string; since: string }
/** the first load after start, and how many plugins still load */
interface Startup { done: boolean; loading: number; ms?: number }
interface Overview { version: string; pluginsDir: string; pluginsFolder?: PluginsFolder; startup?: Startup; uptimeSeconds: number; telemetry: { enabled: boolean; otlp?: { endpoint: string } }; plugins: Plugin[]; tools: Tool[]; sessions: Session[]; statelessClients?: StatelessClient[]; conflicts: string[]; context?: ContextCost }
interface SpanRec { traceId: string; spanId: string; parentSpanId?: string; name: string; start: number; durationMs: number; error: boolean; origin: string; attributes: Record<string, unknown> }
interface Trace { traceId: string; root: SpanRec; spans: SpanRec[] }
interface LogLine { time: number; level: string; msg: string; plugin?: string; stderr?: boolean }

const MAX_TRACES = 60;
const MAX_LOG = 200;

const state = {
  overview: undefined as Overview | undefined,
  traces: [] as Trace[],
  log: [] as LogLine[],
  selectedTool: undefined as string | undefined,
  selectedTrace: undefined as string | undefined,
  selectedSpan: undefined as string | undefined,
  dirty: true,
};

const $ = <T extends HTMLElement>(sel: string) => document.querySelector(sel) as T;

/** Replaces an element's HTML only when it changed: DOM work, not string work, is what costs. */
const lastHtml = new Map<string, string>();
function setHtml(sel: string, html: string) {
  if (lastHtml.get(sel) === html) return;
  lastHtml.set(sel, html);
  $(sel).innerHTML = html;
}

function esc(s: unknown): string {
  return String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}
function ms(v: number): string {
  if (!v) return "–";
  return v < 1 ? `${(v * 1000).toFixed(0)} µs` : v < 1000 ? `${v.toFixed(v < 10 ? 2 : 1)} ms` : `${(v / 1000).toFixed(2)} s`;
}
function ago(iso?: string | number): string {
  if (!iso) return "–";
  const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}
function tokens(n: number | undefined): string {
  if (!n) return "–";
  return n >= 10_000 ? `${(n / 1000).toFixed(n >= 100_000 ? 0 : 1)}k` : n.toLocaleString("en-US");
}
function size(b: number | undefined): string {
  if (!b) return "–";
  return b < 1024 ? `${b} B` : b < 1024 * 1024 ? `${(b / 1024).toFixed(1)} KB` : `${(b / 1024 / 1024).toFixed(1)} MB`;
}
function bytes(n: number): string {
  return n ? `${(n / 1024 / 1024).toFixed(1)} MB` : "–";
}

function renderHeader(o: Overview) {
  $("#version").textContent = `v${o.version} · up ${Math.floor(o.uptimeSeconds / 60)}m · ${o.pluginsDir}${o.telemetry.otlp ? ` · OTLP → ${o.telemetry.otlp.endpoint}` : ""}`;
  const loaded = o.plugins.filter((p) => p.status === "loaded").length;
  const errs = o.plugins.filter((p) => p.lastError).length;
  const tools = o.tools.filter((t) => !t.unknown).length;
  const folder = o.pluginsFolder && o.pluginsFolder.state !== "ok" ? `<span class="bad folder-state" title="since ${esc(o.pluginsFolder.since)}">plugins folder ${esc(o.pluginsFolder.state)}: ${esc(o.pluginsFolder.reason ?? "")}</span>` : "";
  const loading = o.startup?.loading ? `<span class="warn loading-count"><b>${o.startup.loading}</b> still loading</span>` : "";
  setHtml("#counts", `${folder}<span><b>${loaded}</b>/${o.plugins.length} plugins</span>${loading}<span><b>${tools}</b> tools</span><span><b>${o.sessions.length}</b> sessions</span>${errs ? `<span class="bad"><b>${errs}</b> plugin errors</span>` : ""}`);
}

function renderTools(o: Overview) {
  const rows = o.tools.map((t) => `<tr data-tool="${esc(t.name)}" class="${t.name === state.selectedTool ? "selected" : ""}${t.unknown ? " unknown" : ""}">
    <td class="name${t.unknown ? " muted" : ""}" ${t.unknown ? `title="calls to tool names that are not loaded"` : ""}>${esc(t.name)}</td><td class="muted">${esc(t.plugin || "–")}</td>
    <td class="num calls">${t.calls}</td><td class="num errors ${t.errors ? "bad" : ""}">${t.errors}</td>
    <td class="num rate">${t.calls ? (t.errorRate * 100).toFixed(1) + "%" : "–"}</td>
    <td class="num p50">${ms(t.p50)}</td><td class="num p95">${ms(t.p95)}</td><td class="num p99">${ms(t.p99)}</td>
    <td class="num tokens">${tokens(t.tokens)}</td>
    <td class="num result-size">${t.resultBytesP99 ? `${size(t.resultBytesP50)} / ${size(t.resultBytesP99)}` : "–"}</td>
    <td class="num result-tokens muted">${t.resultBytesP99 ? `${tokens(t.resultTokensP50)} / ${tokens(t.resultTokensP99)}` : "–"}</td></tr>`);
  setHtml("#tools-table tbody", rows.join("") || `<tr><td colspan="11" class="muted">No tools loaded.</td></tr>`);
}

function renderContext(o: Overview) {
  const c = o.context;
  if (!c) return;
  const t = c.totals;
  const n = (v: number) => (v ? tokens(v) : "0");
  setHtml("#context-summary", `<span><b>${n(t.toolTokens)}</b> tokens of tools</span><span><b>${n(t.promptTokens)}</b> of prompts</span><span><b>${n(t.templateTokens)}</b> of resource templates</span><span class="muted">${c.exact ? "counted" : "counting… (estimated at bytes/4 meanwhile)"}</span>`);
  setHtml("#context-views tbody", c.views
    .map((v) => {
      const saves = v.allTokens > 0 ? Math.max(0, 1 - v.searchTokens / v.allTokens) : 0;
      const how = v.expose === "auto" ? `auto → ${v.effective} <span class="muted">(threshold ${tokens(v.threshold)})</span>` : esc(v.effective);
      return `<tr data-view="${esc(v.view)}"><td>${esc(v.view)}</td><td class="expose"><span class="pill ${v.effective === "search" ? "ok" : ""}">${how}</span></td><td class="num">${v.tools}</td><td class="num all-tokens">${tokens(v.allTokens)}</td><td class="num search-tokens">${tokens(v.searchTokens)}</td><td class="num listed-tokens"><b>${tokens(v.listedTokens)}</b></td><td class="num saves">${v.allTokens > v.searchTokens ? `${(saves * 100).toFixed(0)} %` : "–"}</td></tr>`;
    })
    .join(""));
  setHtml("#context-plugins tbody", c.plugins.slice(0, 8).map((p) => `<tr><td>${esc(p.plugin)}</td><td class="num">${p.tools}</td><td class="num">${tokens(p.tokens)}</td></tr>`).join("") || `<tr><td colspan="3" class="muted">No tools loaded.</td></tr>`);
  setHtml("#context-tools tbody", c.topTools.slice(0, 8).map((x) => `<tr><td>${esc(x.name)}</td><td class="num">${tokens(x.tokens)}</td></tr>`).join("") || `<tr><td colspan="2" class="muted">No tools loaded.</td></tr>`);
}

function upstreamLine(u: Upstream) {
  const cls = u.state === "connected" ? "ok" : u.state === "stopped" ? "bad" : "warn";
  const retry = u.state === "restarting" && u.nextRetryAt ? `, next try ${new Date(u.nextRetryAt).toLocaleTimeString()}` : "";
  return `<br><span class="upstream muted" title="${esc(u.lastExit ?? "")}">upstream ${esc(u.transport)}${u.pid ? ` · pid ${u.pid}` : ""} · <span class="pill ${cls} upstream-state">${esc(u.state)}${esc(retry)}</span></span>`;
}

/** A parked plugin has no thread, so no heap to show: say so, rather than a dash that reads as "unknown". */
function memoryCell(p: Plugin) {
  if (!p.upstream && p.worker === "parked") return `<span class="muted" title="idle: no worker thread until its next call">parked</span>`;
  // a worker group's members share one thread, and so one heap
  if (p.workerGroup) return `<span title="the heap of worker group ${esc(p.workerGroup)}'s thread, shared by its plugins">${bytes(p.heapBytes)} <span class="muted">group ${esc(p.workerGroup)}</span></span>`;
  const kept = p.keptAliveBy ? ` title="kept running: ${esc(p.keptAliveBy)}"` : "";
  return `<span${kept}>${bytes(p.heapBytes)}</span>`;
}

function renderPlugins(o: Overview) {
  const rows = o.plugins.map((p) => {
    // loading: not yet served, not a failure; skipped: a FIFO or other non-file named like a plugin
    const cls = p.status === "loaded" ? (p.lastError ? "warn" : "ok") : p.status === "loading" || p.status === "skipped" ? "warn" : "bad";
    const loc = p.lastError?.location ? `${p.lastError.location.file}:${p.lastError.location.line}${p.lastError.location.column ? `:${p.lastError.location.column}` : ""}` : "";
    const err = p.lastError ? `<tr class="plugin-error" data-plugin="${esc(p.name)}"><td colspan="6" class="error">${esc(loc && !p.lastError.message.includes(loc) ? `${loc}\n` : "")}${esc(p.lastError.message)}${p.status === "loaded" && (!p.upstream || p.upstream.state === "connected") ? "\n(the last good version keeps serving)" : ""}</td></tr>` : "";
    return `<tr data-plugin="${esc(p.name)}" title="${esc(p.file)}"><td>${esc(p.name)} <span class="muted file">${esc(p.relFile)}</span>${p.shadowedBy ? ` <span class="pill warn" title="${esc(p.shadowedBy)}">shadowed</span>` : ""}${p.upstream ? upstreamLine(p.upstream) : ""}</td>
      <td><span class="pill ${cls} status">${esc(p.status)}${p.lastError && p.status === "loaded" ? " (error)" : ""}</span></td>
      <td class="num">${p.version}${p.pluginVersion ? ` <span class="muted">(${esc(p.pluginVersion)})</span>` : ""}</td><td>${ago(p.lastReloadAt)}</td>
      <td class="num memory">${memoryCell(p)}</td><td class="num">${p.restarts}</td></tr>${err}`;
  });
  const empty = o.pluginsFolder && o.pluginsFolder.state !== "ok" ? `${o.pluginsFolder.reason ?? `The plugins folder is ${o.pluginsFolder.state}.`} Its plugins load again when it is back.` : "No plugins in the folder.";
  setHtml("#plugins-table tbody", rows.join("") || `<tr><td colspan="6" class="muted">${esc(empty)}</td></tr>`);
  setHtml("#conflicts", o.conflicts.map((c) => `<li>${esc(c)}</li>`).join(""));
}

function renderSessions(o: Overview) {
  const by: Record<string, number> = {};
  for (const s of o.sessions) {
    const k = s.bridged ? "stdio (bridge)" : s.transport;
    by[k] = (by[k] ?? 0) + 1;
  }
  // 2026-07-28 clients over HTTP have no session: shown by name and era, "seen" instead of "since"
  const stateless = o.statelessClients ?? [];
  if (stateless.length) by["stateless clients (recent)"] = stateless.length;
  setHtml("#sessions-summary", Object.entries(by).map(([k, v]) => `<span><b>${v}</b> ${esc(k)}</span>`).join("") || `<span>No open sessions.</span>`);
  setHtml("#sessions-table tbody", o.sessions
    .map((s) => `<tr data-session="${esc(s.id)}"><td>${esc(s.bridged ? "stdio (bridge)" : s.transport)}</td><td>${esc(s.clientName ?? (s.protocolVersion ? "(unnamed)" : "(not initialized)"))}${s.profile ? ` <span class="muted" title="profile">[${esc(s.profile)}]</span>` : ""}</td><td class="muted">${esc(s.protocolVersion ?? "")}</td><td class="num">${s.calls}</td><td class="num">${s.errors}</td><td>${ago(s.startedAt)}</td></tr>`)
    .concat(stateless.map((c) => `<tr class="stateless"><td>${esc(c.transport)} (stateless)</td><td>${esc(c.clientName ?? "(unnamed)")}</td><td class="muted">${esc(c.protocolVersion)}</td><td class="num">${c.calls}</td><td class="num">${c.errors}</td><td>seen ${ago(c.lastActivityAt)}</td></tr>`))
    .join(""));
}

function hostAndPlugin(t: Trace): { host: number; plugin: number } {
  const total = t.root.durationMs;
  const plugin = t.spans.filter((s) => s.origin === "worker").reduce((a, s) => a + s.durationMs, 0);
  return { host: Math.max(0, total - plugin), plugin };
}

function renderTraces() {
  setHtml("#traces-list", state.traces
    .map((t) => {
      const { host, plugin } = hostAndPlugin(t);
      const total = Math.max(host + plugin, 0.0001);
      return `<li data-trace="${t.traceId}" class="${t.traceId === state.selectedTrace ? "selected" : ""}"><span class="${t.root.error ? "bad" : ""}">${esc(t.root.name)}</span><span class="muted">${ms(t.root.durationMs)}</span>
        <span class="bar"><span class="host" style="width:${(host / total) * 100}%"></span><span class="plugin" style="width:${(plugin / total) * 100}%"></span></span></li>`;
    })
    .join("") || `<li class="muted">No traces yet: call a tool.</li>`);
  const t = state.traces.find((x) => x.traceId === state.selectedTrace);
  if (!t) return;
  const start = Math.min(...t.spans.map((s) => s.start));
  const end = Math.max(...t.spans.map((s) => s.start + s.durationMs));
  const span = Math.max(end - start, 0.001);
  const { host, plugin } = hostAndPlugin(t);
  const rows = [...t.spans]
    .sort((a, b) => a.start - b.start)
    .map((s) => `<div class="wf-row" data-span="${s.spanId}"><span title="${esc(s.name)}">${s.parentSpanId && t.spans.some((p) => p.spanId === s.parentSpanId) ? "└ " : ""}${esc(s.name)}</span>
      <span class="wf-track"><span class="wf-span ${s.origin === "worker" ? "worker" : ""} ${s.error ? "error" : ""}" style="left:${((s.start - start) / span) * 100}%;width:${(s.durationMs / span) * 100}%"></span></span>
      <span class="muted">${ms(s.durationMs)}</span></div>`)
    .join("");
  const sel = t.spans.find((s) => s.spanId === state.selectedSpan) ?? t.root;
  const attrs = Object.entries(sel.attributes).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join("");
  setHtml("#waterfall", `<div class="legend">trace ${t.traceId.slice(0, 16)}… <i style="background:var(--accent)"></i>host ${ms(host)} <i style="background:var(--plugin)"></i>plugin ${ms(plugin)}</div>${rows}
    <table class="attrs"><caption class="muted">${esc(sel.name)}</caption>${attrs}</table>`);
}

function renderLog() {
  // follow the tail unless the reader scrolled up to read something
  const el = $("#log");
  const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
  setHtml("#log", state.log
    .slice(-MAX_LOG)
    .map((l) => `<span class="${esc(l.level)}">${new Date(l.time).toLocaleTimeString()} ${esc(l.level.padEnd(5))} ${l.plugin ? `[${esc(l.plugin)}] ` : ""}${esc(l.msg)}</span>`)
    .join("\n"));
  if (atBottom) el.scrollTop = el.scrollHeight;
}

let chart: uPlot | undefined;
function chartOptions(width: number): uPlot.Options {
  const css = getComputedStyle(document.documentElement);
  const axis = { stroke: css.getPropertyValue("--muted").trim(), grid: { stroke: css.getPropertyValue("--line").trim() }, ticks: { stroke: css.getPropertyValue("--line").trim() } };
  return {
    width,
    height: 220,
    series: [{}, { label: "p95 (ms)", stroke: css.getPropertyValue("--accent").trim(), width: 2 }, { label: "max (ms)", stroke: css.getPropertyValue("--plugin").trim(), width: 1, dash: [4, 4] }, { label: "calls/s", stroke: css.getPropertyValue("--ok").trim(), width: 1, scale: "calls" }],
    axes: [
      { ...axis, space: 90, values: (_u: uPlot, splits: number[]) => splits.map((t) => new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })) },
      { ...axis, label: "ms" }, { ...axis, scale: "calls", side: 1, grid: { show: false } }],
    // a fixed window, so a few points do not stretch across the whole chart
    scales: { x: { time: true, range: () => [Date.now() / 1000 - 300, Date.now() / 1000] } },
  };
}
async function refreshChart() {
  try {
    const q = state.selectedTool ? `?tool=${encodeURIComponent(state.selectedTool)}` : "";
    const points: { t: number; calls: number; p95: number; max: number }[] = await (await fetch(`/api/series${q}`)).json();
    const data: uPlot.AlignedData = [points.map((p) => p.t), points.map((p) => p.p95), points.map((p) => p.max), points.map((p) => p.calls)];
    const el = $("#chart");
    if (!chart) chart = new uPlot(chartOptions(el.clientWidth || 600), data, el);
    else chart.setData(data);
    $("#chart-title").textContent = state.selectedTool ?? "all tools";
  } catch {
    // the next tick retries
  }
}

function render() {
  if (!state.dirty) return;
  state.dirty = false;
  const o = state.overview;
  if (o) {
    renderHeader(o);
    renderTools(o);
    renderContext(o);
    renderPlugins(o);
    renderSessions(o);
  }
  renderTraces();
  renderLog();
}
setInterval(() => requestAnimationFrame(render), 250);
setInterval(refreshChart, 2_000);

function addSpans(spans: SpanRec[]) {
  for (const s of spans) {
    let t = state.traces.find((x) => x.traceId === s.traceId);
    if (!t) {
      t = { traceId: s.traceId, root: s, spans: [] };
      state.traces.unshift(t);
    }
    if (t.spans.length < 64) t.spans.push(s);
    if (s.origin === "host" && !t.spans.some((x) => x.spanId === s.parentSpanId)) t.root = s;
  }
  state.traces.length = Math.min(state.traces.length, MAX_TRACES);
  state.dirty = true;
}

function connect() {
  const es = new EventSource("/api/events");
  es.addEventListener("open", () => {
    $("#live").textContent = "live";
    $("#live").className = "pill ok";
  });
  es.addEventListener("error", () => {
    $("#live").textContent = "reconnecting…";
    $("#live").className = "pill warn";
    // EventSource retries a dropped stream by itself, but gives up for good on a refusal
    // (e.g. 503 when the daemon has too many live streams): try again later ourselves.
    if (es.readyState === EventSource.CLOSED) setTimeout(connect, 5_000);
  });
  es.addEventListener("overview", (e) => {
    // the first event on a stream (also after a reconnect) holds every key; later ones only changes
    state.overview = { ...state.overview, ...JSON.parse((e as MessageEvent).data) } as Overview;
    state.dirty = true;
  });
  es.addEventListener("spans", (e) => addSpans(JSON.parse((e as MessageEvent).data)));
  es.addEventListener("log", (e) => {
    const line = JSON.parse((e as MessageEvent).data) as LogLine;
    state.log.push(line);
    // an upstream's stderr keeps to a third of the list, as in the daemon's tail (log-tail.ts):
    // a flooding server must not push out everything else while the page is open
    if (line.stderr && state.log.filter((l) => l.stderr).length > MAX_LOG / 3) state.log.splice(state.log.findIndex((l) => l.stderr), 1);
    if (state.log.length > MAX_LOG) state.log.splice(0, state.log.length - MAX_LOG);
    state.dirty = true;
  });
}

document.addEventListener("click", (e) => {
  const el = e.target as HTMLElement;
  const tool = el.closest<HTMLElement>("[data-tool]");
  if (tool) {
    state.selectedTool = state.selectedTool === tool.dataset.tool ? undefined : tool.dataset.tool;
    state.dirty = true;
    void refreshChart();
  }
  const trace = el.closest<HTMLElement>("[data-trace]");
  if (trace) {
    state.selectedTrace = trace.dataset.trace;
    state.selectedSpan = undefined;
    state.dirty = true;
  }
  const span = el.closest<HTMLElement>("[data-span]");
  if (span) {
    state.selectedSpan = span.dataset.span;
    state.dirty = true;
  }
});
window.addEventListener("resize", () => chart?.setSize({ width: $("#chart").clientWidth, height: 220 }));
// uPlot takes its colours at creation: rebuild the chart when the colour scheme flips.
matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
  chart?.destroy();
  chart = undefined;
  void refreshChart();
});

async function start() {
  try {
    const [overview, traces, logs] = await Promise.all([fetch("/api/overview"), fetch("/api/traces"), fetch("/api/logs")].map((p) => p.then((r) => r.json())));
    state.overview = overview;
    state.traces = traces;
    state.log = logs;
    state.dirty = true;
  } catch {
    // the live feed fills in
  }
  render();
  void refreshChart();
  connect();
}
void start();
