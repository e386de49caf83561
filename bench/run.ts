/**
 * `npm run bench` — Patchbay against its baselines, in one run on one machine.
 *
 *   npm run bench                 full run (about 6–10 minutes)
 *   npm run bench -- --quick      shorter rows and fewer reloads (under two minutes)
 *   npm run bench -- --smoke      a tiny workload for the test suite (seconds; numbers meaningless)
 *   options: --sections capacity,latency,first-answer,telemetry,memory,install,startup,search   --out DIR (default bench/results)
 *
 * Every server runs in its own child process; the load clients run here. Every figure sits
 * next to a baseline measured in the same run, as a ratio. The Markdown report goes to
 * stdout (progress to stderr), and the report plus all raw figures to
 * bench/results/<date>-<mode>.json (and .md).
 *
 * Sections:
 *  capacity   autocannon (16 connections, a unique JSON-RPC id per request, answers checked)
 *             against Patchbay (2025-era session, stateless 2026-07-28), the bare SDK v1
 *             sessionful server, the SDK v2 `createMcpHandler` (both eras), a raw node:http
 *             JSON-RPC echo (the ceiling) and supergateway; then a `ws` client with 16 in
 *             flight against Patchbay /ws and a raw `ws` echo.
 *  latency    the SDK client, sequential calls (p50/p99) and 16-way concurrent calls/s, on
 *             every Patchbay transport and on the bare SDK over stdio (v1, v2) and HTTP.
 *  first-answer  spawn → initialize answered, and → the first tools/list holding the example
 *             plugins' tools, as Claude Desktop starts a stdio server: stdio --standalone,
 *             attached with no daemon (the bridge starts one) and with one running; the
 *             bare SDK v1 stdio server for context.
 *  telemetry  Patchbay Streamable HTTP capacity with telemetry on (default) and off.
 *  memory     idle RSS with 1/20/100 example-size plugins and the cost per plugin; 1,000
 *             idle sessions; RSS growth over 1,000 reloads; save → list_changed; tools/list
 *             of 1,000 tools from 50 plugins.
 *  install    from an empty npm cache: `npx -y -p <tarball> patchbay stdio` to the first
 *             tools/list (beside npx of server-everything), installed size and package
 *             count (beside the bare SDK), idle RSS of the installed daemon with the example
 *             plugins (beside the bare SDK server); see bench/lib/install.ts.
 *  startup    start → listening and start → all loaded with 100 and 500 example-size
 *             plugins (quick: 20 and 100), on an empty home and again on the same home.
 *  search     recall@1/@5 of patchbay__search_tools over real servers' tools and labelled
 *             tasks, full vs search-mode listing tokens, search and index-build time at
 *             1,000 tools; see bench/lib/search-eval.ts.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { buildBaseline, snapshotDist, removeSnapshot, baselineCommand, CLI, ROOT, Temp, rssOf, threadsOf, sleep, startBaseline, startPatchbay, startSupergateway, waitLoaded, waitStartupDone, type Server } from "./lib/proc.ts";
import { httpLoad, wsLoad, initializeSession, legacyCall, modernCall, probe, summarize, type HttpShape, type LoadResult } from "./lib/load.ts";
import { httpClient, sseClient, stdioClient, wsClient, sequential, concurrent, type BenchClient } from "./lib/sdk.ts";
import { workerRoundTrip } from "./lib/worker-hop.ts";
import { canMeasureThreads, servingProcess, threadCpuPerCall } from "./lib/thread-cpu.ts";
import { PATCHBAY_ECHO, writeEchoPlugin, writeExamplePlugins, writeWidePlugins, examplePlugin } from "./lib/plugins.ts";
import { install } from "./lib/install.ts";
import { machine, gitInfo, num, ms, ratio, x, mib, table, BASELINE_PATTERNS } from "./lib/report.ts";
import { firstAnswer, type FirstAnswer } from "./lib/first-answer.ts";
import { searchEval } from "./lib/search-eval.ts";
import { readFileSync } from "node:fs";
import { stopPids } from "../test/helpers/daemon.ts";

type Mode = "full" | "quick" | "smoke";
const SECTIONS = ["capacity", "latency", "first-answer", "telemetry", "memory", "install", "startup", "search"] as const;
type Section = (typeof SECTIONS)[number];

interface Profile {
  /** seconds per autocannon / ws row, and the discarded warm-up before it */
  loadSeconds: number;
  warmSeconds: number;
  /** capacity rows to run (all when undefined) */
  capacityRows?: string[];
  latencyRows?: string[];
  seqCalls: number;
  /** warm-up before each latency row (JIT on both sides, connections) */
  latencyWarmSeconds: number;
  concSeconds: number;
  /** telemetry on/off pairs; measured in alternating order */
  telemetryPairs: number;
  plugins: number[];
  sessions: number;
  reloads: number;
  listChanged: number;
  wide: { plugins: number; toolsEach: number; calls: number };
  /** calls relayed through a Streamable HTTP upstream for the relay's RSS growth (after 500 to warm up) */
  relayCalls: number;
  settleMs: number;
  /** spawns per first-answer row */
  firstAnswers: number;
  /** folder sizes for start → listening and start → all loaded, cold and with the compile cache */
  startupPlugins: number[];
}

const PROFILES: Record<Mode, Profile> = {
  full: { loadSeconds: 10, warmSeconds: 2, seqCalls: 2000, latencyWarmSeconds: 2, concSeconds: 5, telemetryPairs: 4, plugins: [1, 20, 100], sessions: 1000, reloads: 1000, listChanged: 50, wide: { plugins: 50, toolsEach: 20, calls: 200 }, relayCalls: 20_000, settleMs: 2000, firstAnswers: 7, startupPlugins: [100, 500] },
  quick: {
    loadSeconds: 3,
    warmSeconds: 0.5,
    seqCalls: 300,
    latencyWarmSeconds: 0.5,
    // the v2 HTTP row is context, not a baseline any ratio uses
    latencyRows: ["sdk-v1-stdio", "sdk-v2-stdio", "sdk-v1-http", "patchbay-stdio-standalone", "patchbay-stdio-attached", "patchbay-http", "patchbay-sse", "patchbay-ws", "patchbay-http-upstream-stdio", "patchbay-stdio-upstream-stdio"],
    concSeconds: 1,
    // two pairs keep the quick run under two minutes; the full run has four
    telemetryPairs: 2,
    plugins: [1, 20, 100],
    sessions: 1000,
    reloads: 40,
    listChanged: 50,
    wide: { plugins: 50, toolsEach: 20, calls: 50 },
    relayCalls: 2_000,
    settleMs: 500,
    firstAnswers: 3,
    startupPlugins: [20, 100],
  },
  smoke: {
    loadSeconds: 1,
    warmSeconds: 0.2,
    capacityRows: ["patchbay-2025-session", "patchbay-2026-stateless", "raw-http", "patchbay-ws"],
    latencyRows: ["sdk-v1-http", "patchbay-http"],
    seqCalls: 30,
    latencyWarmSeconds: 0,
    concSeconds: 0.3,
    telemetryPairs: 1,
    plugins: [1, 2],
    sessions: 10,
    reloads: 3,
    listChanged: 3,
    wide: { plugins: 2, toolsEach: 5, calls: 5 },
    relayCalls: 20,
    settleMs: 200,
    firstAnswers: 1,
    startupPlugins: [3],
  },
};

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    smoke: { type: "boolean", default: false },
    out: { type: "string" },
    sections: { type: "string" },
  },
});
const mode: Mode = values.smoke ? "smoke" : values.quick ? "quick" : "full";
const P = PROFILES[mode];
/** The smoke run skips telemetry: it only has to prove the harness still works. */
const defaultSections: readonly Section[] = mode === "smoke" ? ["capacity", "latency", "first-answer", "memory", "startup", "search"] : SECTIONS;
// (install packs the checkout and downloads from the npm registry: not in the smoke run)
const selected = new Set<Section>(values.sections ? (values.sections.split(",").map((s) => s.trim()) as Section[]) : defaultSections);
for (const s of selected) if (!SECTIONS.includes(s)) throw new Error(`unknown section "${s}"; known: ${SECTIONS.join(", ")}`);
const outDir = values.out ?? join(ROOT, "bench", "results");

const t0 = performance.now();
const progress = (s: string) => process.stderr.write(`[bench +${((performance.now() - t0) / 1000).toFixed(1)}s] ${s}\n`);
const md: string[] = [];
const emit = (s = "") => {
  md.push(s);
  process.stdout.write(`${s}\n`);
};

/** Everything started here, so an error or Ctrl-C still stops it (each by its own pid). */
const live = new Set<{ stop(): Promise<void> }>();
async function using<T extends { stop(): Promise<void> }, R>(start: Promise<T>, fn: (s: T) => Promise<R>): Promise<R> {
  const s = await start;
  live.add(s);
  try {
    return await fn(s);
  } finally {
    live.delete(s);
    const t = performance.now();
    await s.stop();
    const took = performance.now() - t;
    if (took > 1000) progress(`(stopping a server took ${(took / 1000).toFixed(1)} s)`);
  }
}
const temps = new Set<Temp>();
function temp(prefix: string) {
  const t = new Temp(prefix);
  temps.add(t);
  return t;
}
async function cleanup() {
  await Promise.allSettled([...live].map((s) => s.stop()));
  live.clear();
  for (const t of temps) t.cleanup();
  temps.clear();
  removeSnapshot();
}
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.once(sig, () => {
    progress(`${sig}: stopping servers`);
    void cleanup().then(() => process.exit(130));
  });

function errorText(err: unknown) {
  return ((err as Error)?.message ?? String(err)).replace(/\s*\n\s*/g, " ⏎ ").slice(0, 600);
}

// ---------------------------------------------------------------- capacity

interface CapacityRow extends Partial<LoadResult> {
  id: string;
  name: string;
  patchbay: boolean;
  probe?: { ok: boolean; status: number; detail: string };
  error?: string;
  vsSdkV1?: number | null;
  vsRaw?: number | null;
  vsSupergateway?: number | null;
}

function wantCapacity(id: string) {
  return !P.capacityRows || P.capacityRows.includes(id);
}

async function measureHttp(rows: CapacityRow[], id: string, name: string, patchbay: boolean, makeShape: () => Promise<HttpShape>) {
  if (!wantCapacity(id)) return;
  progress(`capacity: ${name}`);
  try {
    const shape = await makeShape();
    const p = await probe(shape);
    if (P.warmSeconds > 0) await httpLoad(shape, { seconds: P.warmSeconds });
    const r = await httpLoad(shape, { seconds: P.loadSeconds });
    rows.push({ id, name, patchbay, probe: p, ...r });
  } catch (err) {
    rows.push({ id, name, patchbay, error: errorText(err) });
  }
}

async function measureWs(rows: CapacityRow[], id: string, name: string, patchbay: boolean, url: string, tool: string) {
  if (!wantCapacity(id)) return;
  progress(`capacity: ${name}`);
  try {
    if (P.warmSeconds > 0) await wsLoad(url, tool, { seconds: P.warmSeconds });
    rows.push({ id, name, patchbay, ...(await wsLoad(url, tool, { seconds: P.loadSeconds })) });
  } catch (err) {
    rows.push({ id, name, patchbay, error: errorText(err) });
  }
}

async function sessionShape(url: string, tool: string) {
  return legacyCall(url, tool, await initializeSession(url));
}

async function capacity() {
  const http: CapacityRow[] = [];
  const ws: CapacityRow[] = [];
  const plugins = temp("patchbay-bench-echo-");
  writeEchoPlugin(plugins.path);
  const needPatchbay = ["patchbay-2025-session", "patchbay-2026-stateless", "patchbay-ws"].some(wantCapacity);
  if (needPatchbay)
    await using(startPatchbay(plugins.path), async (d) => {
      await waitLoaded(d, 1);
      const mcp = `${d.url}/mcp`;
      await measureHttp(http, "patchbay-2025-session", "Patchbay, Streamable HTTP, 2025-11-25 session", true, () => sessionShape(mcp, PATCHBAY_ECHO));
      await measureHttp(http, "patchbay-2026-stateless", "Patchbay, stateless 2026-07-28 requests", true, async () => modernCall(mcp, PATCHBAY_ECHO));
      await measureWs(ws, "patchbay-ws", "Patchbay, WebSocket /ws (one connection)", true, `${d.url.replace(/^http/, "ws")}/ws`, PATCHBAY_ECHO);
    });
  if (wantCapacity("sdk-v1-session"))
    await using(startBaseline("sdk-v1-http"), (s) => measureHttp(http, "sdk-v1-session", "bare SDK v1 McpServer + StreamableHTTPServerTransport, one session, parsed body (the SDK examples' express app)", false, () => sessionShape(s.url, "echo")));
  if (wantCapacity("sdk-v1-node"))
    await using(startBaseline("sdk-v1-http-node"), (s) => measureHttp(http, "sdk-v1-node", "bare SDK v1, the same sessions on node:http, body parsed by the server: handleRequest(req, res, parsed)", false, () => sessionShape(s.url, "echo")));
  if (wantCapacity("sdk-v1-unparsed"))
    await using(startBaseline("sdk-v1-http-unparsed"), (s) => measureHttp(http, "sdk-v1-unparsed", "v1, unparsed body (old baseline): the same server on node:http, handleRequest(req, res)", false, () => sessionShape(s.url, "echo")));
  if (wantCapacity("sdk-v2-modern") || wantCapacity("sdk-v2-legacy"))
    await using(startBaseline("sdk-v2-http"), async (s) => {
      await measureHttp(http, "sdk-v2-modern", "bare SDK v2 createMcpHandler, stateless 2026-07-28, parsed body (express.json())", false, async () => modernCall(s.url, "echo"));
      await measureHttp(http, "sdk-v2-legacy", "bare SDK v2 createMcpHandler, 2025-era stateless fallback, parsed body (express.json())", false, () => sessionShape(s.url, "echo"));
    });
  if (wantCapacity("sdk-v2-modern-unparsed"))
    await using(startBaseline("sdk-v2-http-unparsed"), (s) => measureHttp(http, "sdk-v2-modern-unparsed", "v2, unparsed body: createMcpHandler on node:http, handler(req, res), stateless 2026-07-28", false, async () => modernCall(s.url, "echo")));
  if (wantCapacity("raw-http")) await using(startBaseline("raw-http"), (s) => measureHttp(http, "raw-http", "raw node:http JSON-RPC echo (ceiling)", false, () => sessionShape(s.url, "echo")));
  if (wantCapacity("supergateway"))
    await using(startSupergateway(), (s) => measureHttp(http, "supergateway", "supergateway 4, stateful Streamable HTTP → bare SDK v1 stdio", false, () => sessionShape(s.url, "echo")));
  if (wantCapacity("raw-ws")) await using(startBaseline("raw-ws"), (s) => measureWs(ws, "raw-ws", "raw ws JSON-RPC echo (ceiling)", false, s.url, "echo"));

  const by = (rows: CapacityRow[], id: string) => rows.find((r) => r.id === id && !r.error)?.okPerSec;
  // the SDK at its best in this run: the fastest of its v1 server patterns
  const v1Rows = ["sdk-v1-session", "sdk-v1-node", "sdk-v1-unparsed"].map((id) => ({ id, ok: by(http, id) })).filter((r) => r.ok !== undefined);
  const v1Best = v1Rows.sort((a, b) => b.ok! - a.ok!)[0];
  const v1 = v1Best?.ok;
  const raw = by(http, "raw-http");
  const sg = by(http, "supergateway");
  for (const r of http) Object.assign(r, { vsSdkV1: ratio(r.okPerSec, v1), vsRaw: ratio(r.okPerSec, raw), vsSupergateway: ratio(r.okPerSec, sg) });
  const rawWs = by(ws, "raw-ws");
  for (const r of ws) Object.assign(r, { vsRaw: ratio(r.okPerSec, rawWs), vsSdkV1: ratio(r.okPerSec, v1) });

  emit(`## Server capacity: autocannon, 16 connections, ${P.loadSeconds} s per row after ${P.warmSeconds} s warm-up`);
  emit();
  emit("Echo tool, a unique JSON-RPC id on every request; *ok/s* counts 2xx answers carrying a JSON-RPC result. Ratios are ok/s against the same-run baselines. autocannon's latencies have 1 ms resolution.");
  emit();
  emit(`*× SDK v1* is against the fastest of the bare SDK v1 rows in this run (${v1Best ? `here: ${http.find((r) => r.id === v1Best.id)?.name}` : "none measured"}): the examples' express app with the parsed body, the same sessions on node:http with the body parsed by the server, and the unparsed-body row earlier reports used as their only baseline.`);
  emit();
  const capCells = (r: CapacityRow) =>
    r.error
      ? [`${r.patchbay ? "**" : ""}${r.name}${r.patchbay ? "**" : ""}`, "failed", "–", "–", "–", "–", "–", "–", "–", "–", "–"]
      : [`${r.patchbay ? "**" : ""}${r.name}${r.patchbay ? "**" : ""}`, num(r.okPerSec), num(r.p50), num(r.p99), num(r.errors), num(r.timeouts), num(r.non2xx), num(r.rpcErrors), x(r.vsSdkV1), x(r.vsRaw), x(r.vsSupergateway)];
  emit(table(["system", "ok/s", "p50 ms", "p99 ms", "errors", "timeouts", "non-2xx", "JSON-RPC errors", "× SDK v1", "× raw node:http", "× supergateway"], http.map(capCells)));
  const notes = http.filter((r) => r.error || (r.probe && !r.probe.ok) || r.non2xx || r.rpcErrors || r.errors || r.timeouts);
  if (notes.length) {
    emit();
    for (const r of notes) emit(`- ${r.name}: ${r.error ? `failed: ${r.error}` : `first answer: ${r.probe?.detail ?? "?"}${r.sample ? `; first failed answer under load: ${r.sample}` : ""}`}`);
  }
  emit();
  emit(`### WebSocket capacity: one connection, 16 requests in flight, ${P.loadSeconds} s`);
  emit();
  emit(
    table(
      ["system", "ok/s", "p50 ms", "p99 ms", "errors", "unanswered", "JSON-RPC errors", "× raw ws", "× SDK v1 HTTP"],
      ws.map((r) => (r.error ? [r.name, "failed", "–", "–", "–", "–", "–", "–", "–"] : [`${r.patchbay ? "**" : ""}${r.name}${r.patchbay ? "**" : ""}`, num(r.okPerSec), ms(r.p50), ms(r.p99), num(r.errors), num(r.timeouts), num(r.rpcErrors), x(r.vsRaw), x(r.vsSdkV1)])),
    ),
  );
  for (const r of ws.filter((r) => r.error || r.rpcErrors)) emit(`- ${r.name}: ${r.error ?? r.sample}`);
  emit();
  return { http, websocket: ws };
}

// ---------------------------------------------------------------- latency

interface LatencyRow {
  id: string;
  name: string;
  patchbay: boolean;
  seqPerSec?: number;
  p50?: number;
  p99?: number;
  conc16PerSec?: number;
  error?: string;
  /** baseline id → { seq, conc16 } ratios */
  ratios?: Record<string, { seq: number | null; conc16: number | null }>;
}

async function latency() {
  const rows: LatencyRow[] = [];
  const want = (id: string) => !P.latencyRows || P.latencyRows.includes(id);
  const measure = async (id: string, name: string, patchbay: boolean, open: () => Promise<BenchClient>, tool: string) => {
    if (!want(id)) return;
    progress(`latency: ${name}`);
    let c: BenchClient | undefined;
    try {
      c = await open();
      const s = await sequential(c.client, tool, P.seqCalls, P.latencyWarmSeconds);
      const conc16PerSec = await concurrent(c.client, tool, P.concSeconds, 16);
      rows.push({ id, name, patchbay, seqPerSec: s.perSec, p50: s.p50, p99: s.p99, conc16PerSec });
    } catch (err) {
      rows.push({ id, name, patchbay, error: errorText(err) });
    } finally {
      await c?.close().catch(() => undefined);
    }
  };
  const stdioBase = (kind: "sdk-v1-stdio" | "sdk-v2-stdio") => () => {
    const { command, args } = baselineCommand(kind);
    return stdioClient(command, args);
  };
  await measure("sdk-v1-stdio", "bare SDK v1 McpServer, stdio", false, stdioBase("sdk-v1-stdio"), "echo");
  await measure("sdk-v2-stdio", "bare SDK v2 McpServer (serveStdio), stdio", false, stdioBase("sdk-v2-stdio"), "echo");
  if (want("sdk-v1-http")) await using(startBaseline("sdk-v1-http"), (s) => measure("sdk-v1-http", "bare SDK v1 McpServer, Streamable HTTP session, parsed body (express)", false, () => httpClient(s.url), "echo"));
  if (want("sdk-v2-http")) await using(startBaseline("sdk-v2-http"), (s) => measure("sdk-v2-http", "bare SDK v2 createMcpHandler, 2025-era fallback, parsed body (express)", false, () => httpClient(s.url), "echo"));

  const plugins = temp("patchbay-bench-echo-");
  writeEchoPlugin(plugins.path);
  const standaloneHome = temp("patchbay-bench-home-");
  const env = { PATCHBAY_LOG_LEVEL: "warn" };
  await measure("patchbay-stdio-standalone", "Patchbay stdio --standalone", true, () => stdioClient(process.execPath, [CLI, "stdio", "--standalone", "--plugins", plugins.path], { ...env, PATCHBAY_HOME: standaloneHome.path }), PATCHBAY_ECHO);
  // Upstream MCP servers (NAME.mcp.json): the same bare SDK v1 servers as the baseline rows,
  // relayed by Patchbay — against those rows the figure is the relay's added cost.
  const stdioUp = baselineCommand("sdk-v1-stdio");
  writeFileSync(join(plugins.path, "base.mcp.json"), JSON.stringify({ command: stdioUp.command, args: stdioUp.args }));
  const httpUp = want("patchbay-http-upstream-http") ? await startBaseline("sdk-v1-http") : undefined;
  if (httpUp) writeFileSync(join(plugins.path, "hbase.mcp.json"), JSON.stringify({ url: httpUp.url }));
  if (["patchbay-stdio-attached", "patchbay-http", "patchbay-sse", "patchbay-ws", "patchbay-http-upstream-stdio", "patchbay-stdio-upstream-stdio", "patchbay-http-upstream-http"].some(want))
    await using(startPatchbay(plugins.path), async (d) => {
      await waitLoaded(d, httpUp ? 3 : 2);
      await measure("patchbay-stdio-attached", "Patchbay stdio attached (bridge → daemon /ws)", true, () => stdioClient(process.execPath, [CLI, "stdio"], { ...env, PATCHBAY_HOME: d.home }), PATCHBAY_ECHO);
      await measure("patchbay-http", "Patchbay Streamable HTTP", true, () => httpClient(`${d.url}/mcp`), PATCHBAY_ECHO);
      await measure("patchbay-sse", "Patchbay legacy SSE", true, () => sseClient(`${d.url}/sse`), PATCHBAY_ECHO);
      await measure("patchbay-ws", "Patchbay WebSocket", true, () => wsClient(`${d.url.replace(/^http/, "ws")}/ws`), PATCHBAY_ECHO);
      await measure("patchbay-http-upstream-stdio", "Patchbay Streamable HTTP → stdio upstream (bare SDK v1)", true, () => httpClient(`${d.url}/mcp`), "base__echo");
      await measure("patchbay-stdio-upstream-stdio", "Patchbay stdio attached → stdio upstream (bare SDK v1)", true, () => stdioClient(process.execPath, [CLI, "stdio"], { ...env, PATCHBAY_HOME: d.home }), "base__echo");
      if (httpUp) await measure("patchbay-http-upstream-http", "Patchbay Streamable HTTP → HTTP upstream (bare SDK v1)", true, () => httpClient(`${d.url}/mcp`), "hbase__echo");
    });
  await httpUp?.stop();

  const base = (id: string) => rows.find((r) => r.id === id && !r.error);
  const against: Record<string, string[]> = {
    "patchbay-stdio-standalone": ["sdk-v1-stdio", "sdk-v2-stdio"],
    "patchbay-stdio-attached": ["sdk-v1-stdio", "sdk-v2-stdio"],
    "patchbay-http": ["sdk-v1-http"],
    "patchbay-sse": ["sdk-v1-http"],
    "patchbay-ws": ["sdk-v1-http", "sdk-v1-stdio"],
    // the upstream directly, then Patchbay's own transport to a code plugin: the gap between the two is the relay leg
    "patchbay-http-upstream-stdio": ["sdk-v1-stdio", "patchbay-http"],
    "patchbay-stdio-upstream-stdio": ["sdk-v1-stdio", "patchbay-stdio-attached"],
    "patchbay-http-upstream-http": ["sdk-v1-http", "patchbay-http"],
  };
  const label: Record<string, string> = { "sdk-v1-stdio": "v1 stdio", "sdk-v2-stdio": "v2 stdio", "sdk-v1-http": "v1 HTTP", "patchbay-http": "Patchbay HTTP → code plugin", "patchbay-stdio-attached": "Patchbay stdio → code plugin" };
  for (const r of rows) {
    r.ratios = {};
    for (const b of against[r.id] ?? []) r.ratios[b] = { seq: ratio(r.seqPerSec, base(b)?.seqPerSec), conc16: ratio(r.conc16PerSec, base(b)?.conc16PerSec) };
  }
  const ratioCell = (r: LatencyRow, k: "seq" | "conc16") =>
    Object.entries(r.ratios ?? {})
      .map(([b, v]) => `${x(v[k])} ${label[b]}`)
      .join(" · ") || "–";

  emit(`## Per-call latency: the SDK v1 client, ${num(P.seqCalls)} sequential calls, then 16 concurrent callers for ${P.concSeconds} s`);
  emit();
  emit("Each stdio row against the bare SDK over stdio (v1 and v2), each HTTP row against the bare SDK v1 over Streamable HTTP; WebSocket also against v1 stdio. The upstream rows call that same bare SDK v1 server through Patchbay (a `NAME.mcp.json` upstream): against the server called directly, and against Patchbay's own transport to a code plugin.");
  emit();
  emit(
    table(
      ["transport", "sequential calls/s", "p50 ms", "p99 ms", "16-way calls/s", "sequential ×", "16-way ×"],
      rows.map((r) =>
        r.error
          ? [r.name, `failed: ${r.error}`, "–", "–", "–", "–", "–"]
          : [`${r.patchbay ? "**" : ""}${r.name}${r.patchbay ? "**" : ""}`, num(r.seqPerSec), ms(r.p50), ms(r.p99), num(r.conc16PerSec), r.patchbay ? ratioCell(r, "seq") : "baseline", r.patchbay ? ratioCell(r, "conc16") : "baseline"],
      ),
    ),
  );
  emit();
  // why the stdio rows cannot reach the bare server: the thread hop alone, next to it
  const hop = await workerRoundTrip(P.seqCalls);
  const bareStdio = base("sdk-v1-stdio");
  emit(
    `The worker hop alone (a bare \`worker_threads\` message round trip, sequential, ${num(P.seqCalls)} of them): p50 ${ms(hop.p50)} ms, p99 ${ms(hop.p99)} ms, ${num(hop.perSec)}/s` +
      (bareStdio?.p50 !== undefined ? `; the bare SDK v1 stdio call's whole p50 is ${ms(bareStdio.p50)} ms, so one hop per call puts an isolated plugin's stdio ceiling near ${x(ratio(1 / (bareStdio.p50 + hop.p50), 1 / bareStdio.p50))} of it before any other work.` : "."),
  );
  emit();
  const hopWays = { atomicsWait: await workerRoundTrip(P.seqCalls, "atomics-wait"), spin: await workerRoundTrip(P.seqCalls, "spin") };
  emit(
    `The same round trip over shared memory: with the thread asleep in \`Atomics.wait\`, p50 ${us(hopWays.atomicsWait.p50)} µs; with both threads spinning, p50 ${us(hopWays.spin.p50)} µs. ` +
      "Waking a sleeping thread is what the hop costs, whatever carries the message; only a thread that spins, keeping a core busy, avoids it.",
  );
  emit();
  const accounts = await whereTheTimeGoes();
  return { rows, workerHop: hop, hopWays, threadCpu: accounts };
}

const us = (msValue: number | undefined) => (msValue === undefined ? "–" : (msValue * 1000).toFixed(msValue < 0.001 ? 2 : 0));

/**
 * A sequential stdio call, taken apart: for the bare SDK v1 server and for Patchbay
 * standalone, the wall time per call and the CPU time per call of the client and of each
 * thread of the server (kernel time included). Linux only (/proc).
 */
async function whereTheTimeGoes() {
  if (!canMeasureThreads()) {
    emit("(Per-thread CPU accounting needs Linux's /proc; skipped here.)");
    emit();
    return [];
  }
  // the echo plugin alone: the latency section's folder also holds upstream servers by now
  const pluginsPath = temp("patchbay-bench-echo-").path;
  writeEchoPlugin(pluginsPath);
  const standaloneHome = temp("patchbay-bench-home-").path;
  const systems = [
    { name: "bare SDK v1 McpServer, stdio", tool: "echo", open: () => { const b = baselineCommand("sdk-v1-stdio"); return stdioClient(b.command, b.args); } },
    { name: "Patchbay stdio --standalone", tool: PATCHBAY_ECHO, open: () => stdioClient(process.execPath, [CLI, "stdio", "--standalone", "--plugins", pluginsPath], { PATCHBAY_LOG_LEVEL: "warn", PATCHBAY_HOME: standaloneHome }) },
  ];
  const out: { name: string; wallUs: number; clientUs: number; mainUs: number; busiestOtherUs: number; restUs: number }[] = [];
  for (const sys of systems) {
    progress(`latency: per-thread CPU, ${sys.name}`);
    const c = await sys.open();
    try {
      await sequential(c.client, sys.tool, Math.min(P.seqCalls, 200), P.latencyWarmSeconds);
      const pid = servingProcess((c.client.transport as { pid?: number | null } | undefined)?.pid ?? 0);
      let wallUs = 0;
      let clientUs = 0;
      const cpu = await threadCpuPerCall(pid, P.seqCalls, async () => {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        for (let i = 0; i < P.seqCalls; i++) await c.client.callTool({ name: sys.tool, arguments: { text: `hello ${i}` } });
        wallUs = ((performance.now() - t0) * 1000) / P.seqCalls;
        const used = process.cpuUsage(c0);
        clientUs = (used.user + used.system) / P.seqCalls;
      });
      out.push({ name: sys.name, wallUs, clientUs, ...cpu });
    } finally {
      await c.close().catch(() => undefined);
    }
  }
  emit(`### Where a sequential stdio call's time goes (µs per call, ${num(P.seqCalls)} calls; CPU time from /proc, kernel time included)`);
  emit();
  const f = (v: number) => v.toFixed(1);
  emit(table(["server", "wall per call", "client (this process)", "server main thread", "busiest other thread (Patchbay: the plugin's)", "all other threads"], out.map((r) => [r.name, f(r.wallUs), f(r.clientUs), f(r.mainUs), f(r.busiestOtherUs), f(r.restUs)])));
  emit();
  return out;
}

// ---------------------------------------------------------------- telemetry

async function telemetry() {
  const plugins = temp("patchbay-bench-echo-");
  writeEchoPlugin(plugins.path);
  // Both daemons run side by side and the pairs are loaded in alternating order, each pair
  // giving one on ÷ off ratio: on a machine whose load drifts (shared CI, other jobs), a
  // pair's two rows see nearly the same conditions, which consecutive daemons do not.
  const runs: { telemetry: boolean; pair: number; result?: LoadResult; error?: string }[] = [];
  const ratios: number[] = [];
  try {
    await using(startPatchbay(plugins.path, { PATCHBAY_TELEMETRY: "true" }), (on) =>
      using(startPatchbay(plugins.path, { PATCHBAY_TELEMETRY: "false" }), async (off) => {
        await Promise.all([waitLoaded(on, 1), waitLoaded(off, 1)]);
        const shapes = new Map<boolean, HttpShape>([
          [true, await sessionShape(`${on.url}/mcp`, PATCHBAY_ECHO)],
          [false, await sessionShape(`${off.url}/mcp`, PATCHBAY_ECHO)],
        ]);
        if (P.warmSeconds > 0) for (const shape of shapes.values()) await httpLoad(shape, { seconds: P.warmSeconds });
        for (let pair = 0; pair < P.telemetryPairs; pair++) {
          const got = new Map<boolean, number>();
          for (const t of pair % 2 === 0 ? [true, false] : [false, true]) {
            progress(`telemetry: pair ${pair + 1}, ${t ? "on" : "off"}`);
            const result = await httpLoad(shapes.get(t)!, { seconds: P.loadSeconds });
            runs.push({ telemetry: t, pair, result });
            got.set(t, result.okPerSec);
          }
          const r = ratio(got.get(true), got.get(false));
          if (r !== null) ratios.push(r);
        }
      }),
    );
  } catch (err) {
    runs.push({ telemetry: true, pair: -1, error: errorText(err) });
  }
  const mean = (on: boolean) => {
    const xs = runs.filter((r) => r.telemetry === on && r.result).map((r) => r.result!.okPerSec);
    return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
  };
  const on = mean(true);
  const off = mean(false);
  const sorted = [...ratios].sort((a, b) => a - b);
  const r = sorted.length ? sorted[Math.floor(sorted.length / 2)] : null;
  emit(`## Telemetry: Patchbay Streamable HTTP capacity (2025 session, autocannon as above), telemetry on (default) vs off (PATCHBAY_TELEMETRY=false)`);
  emit();
  emit(`${P.telemetryPairs} pair(s) of ${P.loadSeconds} s rows against two daemons running side by side, in alternating order; mean ok/s, and the median of the pairs' on ÷ off ratios.`);
  emit();
  emit(table(["telemetry on ok/s", "telemetry off ok/s", "on ÷ off (median of pairs)", "overhead"], [[num(on), num(off), x(r), r === null ? "–" : `${((1 - r) * 100).toFixed(1)} %`]]));
  for (const e of runs.filter((r) => r.error)) emit(`- telemetry failed: ${e.error}`);
  const bad = runs.filter((r) => r.result && (r.result.non2xx || r.result.errors || r.result.rpcErrors || r.result.timeouts));
  for (const b of bad) emit(`- telemetry ${b.telemetry ? "on" : "off"}: ${b.result!.non2xx} non-2xx, ${b.result!.errors} errors, ${b.result!.rpcErrors} JSON-RPC errors, ${b.result!.timeouts} timeouts`);
  emit();
  return { runs: runs.map((r) => ({ telemetry: r.telemetry, pair: r.pair, error: r.error, ...r.result })), onOkPerSec: on, offOkPerSec: off, pairRatios: ratios, ratio: r };
}

// ---------------------------------------------------------------- memory

/** Median of three VmRSS samples 100 ms apart. */
async function rss(pid: number) {
  const xs: number[] = [];
  for (let i = 0; i < 3; i++) {
    if (i) await sleep(100);
    xs.push(rssOf(pid));
  }
  return xs.sort((a, b) => a - b)[1];
}

/** `n` 2025-era sessions opened over raw HTTP, 16 at a time. */
async function openSessions(url: string, n: number) {
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < n) {
        next++;
        try {
          await initializeSession(url);
        } catch (err) {
          failed++;
          firstError ??= errorText(err);
        }
      }
    }),
  );
  return { opened: n - failed, failed, firstError };
}

/** One call to each of the example plugins p0…p(n-1), in turn, from one SDK client: each call's ms. */
async function callEachPlugin(url: string, n: number): Promise<number[]> {
  const c = await httpClient(`${url}/mcp`);
  const ms: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await c.client.callTool({ name: `p${i}__add`, arguments: { numbers: [1, 2] } });
      ms.push(performance.now() - t0);
    }
  } finally {
    await c.close().catch(() => undefined);
  }
  return ms;
}

/** Reloads before the RSS growth over reloads is measured from. */
const WARM_RELOADS = 20;

async function memory() {
  const out: {
    baseline?: Record<string, unknown>;
    idle: Record<string, unknown>;
    marginalPerPlugin?: number | null;
    coldStart?: Record<string, unknown>;
    allRunning?: Record<string, unknown>;
    workerGroup?: Record<string, unknown>;
    sessions?: Record<string, unknown>;
    reloads?: Record<string, unknown>;
    listChanged?: Record<string, unknown>;
    toolsList?: Record<string, unknown>;
    relay?: Record<string, unknown>;
  } = { idle: {} };
  const rows: (string | number)[][] = [];
  const note: string[] = [];

  // the bare SDK v1 HTTP server: idle, and with the same number of idle sessions
  progress("memory: bare SDK v1 idle and sessions");
  let sdkIdle: number | null = null;
  let sdkSessions: number | null = null;
  try {
    await using(startBaseline("sdk-v1-http"), async (s) => {
      await sleep(P.settleMs);
      sdkIdle = await rss(s.pid);
      const o = await openSessions(s.url, P.sessions);
      await sleep(P.settleMs);
      sdkSessions = (await rss(s.pid)) - sdkIdle;
      out.baseline = { system: "sdk-v1-http", idleRss: sdkIdle, sessions: o, sessionsRssDelta: sdkSessions };
    });
  } catch (err) {
    out.baseline = { system: "sdk-v1-http", error: errorText(err) };
  }

  // Patchbay idle with N example-size plugins (the smallest N also holds the idle sessions)
  const idle: Record<number, number> = {};
  const coldRows: (string | number)[][] = [];
  let sessionsDelta: number | null = null;
  for (const n of P.plugins) {
    progress(`memory: Patchbay idle with ${n} plugins`);
    const dir = temp(`patchbay-bench-plugins${n}-`);
    writeExamplePlugins(dir.path, n);
    try {
      // Room for the idle sessions: one transport may hold only a share (75 %) of the table.
      await using(startPatchbay(dir.path, { PATCHBAY_MAX_SESSIONS: String(P.sessions * 2 + 100) }), async (d) => {
        const t0 = performance.now();
        await waitLoaded(d, n);
        const loadMs = performance.now() - t0;
        await sleep(P.settleMs);
        idle[n] = await rss(d.pid);
        out.idle[n] = { plugins: n, tools: n * 5, rss: idle[n], threads: threadsOf(d.pid), loadedAfterListeningMs: Math.round(loadMs) };
        if (n === P.plugins[P.plugins.length - 1]) {
          // Idle plugins are parked (no worker thread): the first call to each starts its
          // worker again from the warm pool; the second call is the warm figure beside it.
          progress(`memory: first call to each of ${n} parked plugins`);
          const c = await httpClient(`${d.url}/mcp`);
          try {
            const parked = ((await (await fetch(`${d.url}/healthz`)).json()) as { plugins?: { worker?: string }[] }).plugins?.filter((p) => p.worker === "parked").length;
            const first: number[] = [];
            const second: number[] = [];
            // each plugin twice in a row: the start, then a call to the running plugin (the
            // default limit of running plugins parks the least recently used ones meanwhile)
            for (let i = 0; i < n; i++) {
              for (const lat of [first, second]) {
                const t0 = performance.now();
                await c.client.callTool({ name: `p${i}__add`, arguments: { numbers: [1, 2] } });
                lat.push(performance.now() - t0);
              }
            }
            const cold = summarize(first);
            const warm = summarize(second);
            await sleep(P.settleMs);
            const health = (await (await fetch(`${d.url}/healthz`)).json()) as { plugins?: { worker?: string }[] };
            const runningAfter = health.plugins?.filter((p) => p.worker === "running").length;
            out.coldStart = { plugins: n, parkedBefore: parked, first: cold, second: warm, rssAfterAllCalled: await rss(d.pid), runningAfter, threadsAfterAllCalled: threadsOf(d.pid) };
            coldRows.push([`first call to a parked plugin (starts its worker), p50 / p99 of ${n}`, `${ms(cold.p50)} / ${ms(cold.p99)} ms`, `second call: ${ms(warm.p50)} / ${ms(warm.p99)} ms`, "–", ""]);
            coldRows.push([`RSS after calling all ${n} plugins, ${runningAfter} left running (maxRunningPlugins: 32, the default)`, mib(out.coldStart.rssAfterAllCalled as number), `idle (parked): ${mib(idle[n])}`, x(ratio(out.coldStart.rssAfterAllCalled as number, idle[n])), ""]);
          } finally {
            await c.close().catch(() => undefined);
          }
        }
        if (n === P.plugins[0]) {
          progress(`memory: ${P.sessions} idle sessions`);
          const o = await openSessions(`${d.url}/mcp`, P.sessions);
          await sleep(P.settleMs);
          const h = (await (await fetch(`${d.url}/healthz`)).json()) as { sessions?: { open?: number } };
          sessionsDelta = (await rss(d.pid)) - idle[n];
          out.sessions = { requested: P.sessions, ...o, openPerHealthz: h.sessions?.open, rssDelta: sessionsDelta, baselineRssDelta: sdkSessions };
          if (o.failed) note.push(`${o.failed} of ${P.sessions} sessions failed to open: ${o.firstError}`);
        }
      });
    } catch (err) {
      out.idle[n] = { plugins: n, error: errorText(err) };
      note.push(`idle with ${n} plugins failed: ${errorText(err)}`);
    }
  }
  // the same plugins with no limit on running ones: every thread up at once
  const most = P.plugins[P.plugins.length - 1];
  progress(`memory: all ${most} plugins running (no limit)`);
  const allDir = temp(`patchbay-bench-plugins-all${most}-`);
  writeExamplePlugins(allDir.path, most);
  try {
    await using(startPatchbay(allDir.path, { PATCHBAY_MAX_RUNNING_PLUGINS: "0" }), async (d) => {
      await waitLoaded(d, most);
      await callEachPlugin(d.url, most);
      await sleep(P.settleMs);
      const all = await rss(d.pid);
      out.allRunning = { plugins: most, rss: all, threads: threadsOf(d.pid) };
      coldRows.push([`RSS with all ${most} plugins running (maxRunningPlugins: 0, no limit)`, mib(all), `idle (parked): ${mib(idle[most])}`, x(ratio(all, idle[most])), ""]);
    });
  } catch (err) {
    note.push(`all ${most} plugins running failed: ${errorText(err)}`);
  }
  // the same plugins all in one worker group (config workerGroups): one shared thread
  progress(`memory: all ${most} plugins in one worker group`);
  const groupConfig = temp("patchbay-bench-group-config-");
  const groupConfigFile = join(groupConfig.path, "patchbay.json");
  writeFileSync(groupConfigFile, JSON.stringify({ workerGroups: { all: ["*"] } }));
  try {
    await using(startPatchbay(allDir.path, {}, ["--config", groupConfigFile]), async (d) => {
      await waitLoaded(d, most);
      const calls = await callEachPlugin(d.url, most);
      await sleep(P.settleMs);
      const grouped = await rss(d.pid);
      const first = summarize(calls);
      out.workerGroup = { plugins: most, rss: grouped, threads: threadsOf(d.pid), firstCall: first };
      const allRss = out.allRunning?.rss as number | undefined;
      coldRows.push([`RSS with all ${most} plugins running in one worker group (workerGroups: one shared thread)`, mib(grouped), `a thread each, no limit: ${mib(allRss ?? null)}`, x(ratio(grouped, allRss ?? null)), ""]);
      coldRows.push([`first call to each plugin of the group, p50 / p99 of ${most} (never parked)`, `${ms(first.p50)} / ${ms(first.p99)} ms`, "–", "–", ""]);
    });
  } catch (err) {
    note.push(`all ${most} plugins in one worker group failed: ${errorText(err)}`);
  }
  const lo = P.plugins[0];
  const hi = P.plugins[P.plugins.length - 1];
  const marginal = idle[lo] !== undefined && idle[hi] !== undefined ? (idle[hi] - idle[lo]) / (hi - lo) : null;
  out.marginalPerPlugin = marginal;
  for (const n of P.plugins) rows.push([`idle RSS, ${n} example-size plugin${n === 1 ? "" : "s"} (5 tools each)`, mib(idle[n]), `bare SDK v1 HTTP server idle: ${mib(sdkIdle)}`, x(ratio(idle[n], sdkIdle)), n === 100 ? "< 400 MB" : ""]);
  rows.push([`marginal idle RSS per plugin, (RSS${hi} − RSS${lo}) / ${hi - lo}`, mib(marginal, 1), "–", "–", "≤ 3 MB"]);
  rows.push(...coldRows);
  rows.push([`${num(P.sessions)} open idle sessions (2025-era initialize over raw HTTP), RSS over idle`, mib(sessionsDelta), `bare SDK v1, same sessions: ${mib(sdkSessions)}`, x(ratio(sessionsDelta, sdkSessions)), P.sessions === 1000 ? "≤ 100 MB" : ""]);

  // reloads: rewrite one plugin file, wait for tools/list_changed each time (after a warm-up,
  // so what is measured is growth per reload, not the first reloads' one-time allocations)
  progress(`memory: ${P.reloads} reloads`);
  const rdir = temp("patchbay-bench-reload-");
  const file = join(rdir.path, "reload.ts");
  writeFileSync(file, examplePlugin("reload", "initial"));
  try {
    await using(startPatchbay(rdir.path), async (d) => {
      await waitLoaded(d, 1);
      const c = await httpClient(`${d.url}/mcp`);
      try {
        const reload = async (salt: string) => {
          const n = c.count("notifications/tools/list_changed");
          const t0 = performance.now();
          writeFileSync(file, examplePlugin("reload", salt));
          await c.waitFor("notifications/tools/list_changed", n + 1, 5_000);
          return performance.now() - t0;
        };
        for (let i = 0; i < Math.min(WARM_RELOADS, P.reloads); i++) await reload(`warm${i}`);
        await sleep(P.settleMs * 2);
        const before = await rss(d.pid);
        const lat: number[] = [];
        const misses: string[] = [];
        const t0 = performance.now();
        let done = 0;
        for (; done < P.reloads && misses.length < 3; done++) {
          try {
            lat.push(await reload(String(done)));
          } catch (err) {
            // Say what the daemon thinks of the plugin, then go on: the next save reloads it again.
            const h = (await (await fetch(`${d.url}/healthz`)).json().catch(() => ({}))) as { plugins?: { name: string; status: string; lastError?: unknown }[] };
            const p = h.plugins?.find((x) => x.name === "reload");
            misses.push(`reload #${done + 1}: ${errorText(err)}; /healthz says ${p ? `${p.status}${p.lastError ? ` (${JSON.stringify(p.lastError).slice(0, 200)})` : ""}` : "no such plugin"}`);
          }
        }
        for (const m of misses) note.push(m);
        if (misses.length >= 3) note.push(`reloads stopped after ${done} saves: 3 saves without tools/list_changed`);
        const seconds = (performance.now() - t0) / 1000;
        await sleep(P.settleMs * 2);
        const after = await rss(d.pid);
        const first = summarize(lat.slice(0, P.listChanged));
        out.reloads = { requested: P.reloads, done, missed: misses, seconds, rssBefore: before, rssAfter: after, growth: after - before, latencyAll: summarize(lat) };
        out.listChanged = { ...first, unit: "ms" };
        rows.push([`RSS growth over ${num(done)} saves of one plugin, after ${WARM_RELOADS} to warm up${misses.length ? ` (${misses.length} without list_changed)` : ""}`, mib(after - before, 1), `before: ${mib(before)}, after: ${mib(after)}`, "–", P.reloads >= 1000 ? "< 20 MB" : "< 20 MB per 1,000"]);
        rows.push([`file save → tools/list_changed at an SDK client, p50 / p99 of ${first.n}`, `${ms(first.p50)} / ${ms(first.p99)} ms`, "–", "–", "< 100 / < 200 ms"]);
      } finally {
        await c.close().catch(() => undefined);
      }
    });
  } catch (err) {
    note.push(`reloads failed: ${errorText(err)}`);
    out.reloads = { error: errorText(err) };
  }

  // relaying to a Streamable HTTP upstream (daemon A → daemon B's echo), 4 callers at a time:
  // RSS growth of A, and the MaxListenersExceededWarning lines it printed (issue 21, item 8:
  // 12,000 relayed calls used to leave 5,316 of them, RSS 132 → 287 MB and rising)
  progress(`memory: ${P.relayCalls} relayed calls`);
  const upDir = temp("patchbay-bench-relay-up-");
  const relayDir = temp("patchbay-bench-relay-");
  writeEchoPlugin(upDir.path);
  try {
    await using(startPatchbay(upDir.path), async (b) => {
      await waitLoaded(b, 1);
      writeFileSync(join(relayDir.path, "far.mcp.json"), JSON.stringify({ url: `${b.url}/mcp` }));
      await using(startPatchbay(relayDir.path), async (a) => {
        await waitLoaded(a, 1);
        const c = await httpClient(`${a.url}/mcp`);
        try {
          const tool = `far__${PATCHBAY_ECHO}`;
          const run = async (n: number) => {
            let next = 0;
            const caller = async () => {
              while (next < n) await c.client.callTool({ name: tool, arguments: { text: `relay ${next++}` } });
            };
            await Promise.all([caller(), caller(), caller(), caller()]);
          };
          await run(Math.min(500, P.relayCalls));
          await sleep(P.settleMs);
          const before = await rss(a.pid);
          const t0 = performance.now();
          const mid: number[] = [];
          for (let done = 0; done < P.relayCalls; ) {
            const n = Math.min(Math.ceil(P.relayCalls / 4), P.relayCalls - done);
            await run(n);
            done += n;
            mid.push(await rss(a.pid));
          }
          const seconds = (performance.now() - t0) / 1000;
          await sleep(P.settleMs * 2);
          const after = await rss(a.pid);
          const warnings = (a.output().match(/MaxListenersExceededWarning/g) ?? []).length;
          out.relay = { calls: P.relayCalls, seconds, rssBefore: before, rssAfter: after, growth: after - before, rssByQuarter: mid, maxListenersWarnings: warnings };
          rows.push([
            `RSS growth over ${num(P.relayCalls)} calls relayed to a Streamable HTTP upstream (another daemon), 4 at a time, after ${num(Math.min(500, P.relayCalls))} to warm up; MaxListenersExceededWarning lines`,
            `${mib(after - before, 1)}; ${warnings} warnings`,
            `before: ${mib(before)}, by quarter: ${mid.map((m) => mib(m)).join(", ")}, after: ${mib(after)} (${num(Math.round(P.relayCalls / seconds))} calls/s)`,
            "–",
            "flat after the first quarter; 0 warnings",
          ]);
        } finally {
          await c.close().catch(() => undefined);
        }
      });
    });
  } catch (err) {
    note.push(`relay soak failed: ${errorText(err)}`);
    out.relay = { error: errorText(err) };
  }

  // tools/list with many tools, one page, timed at the client
  const total = P.wide.plugins * P.wide.toolsEach;
  progress(`memory: tools/list of ${total} tools`);
  const listTimes = async (c: BenchClient) => {
    for (let i = 0; i < Math.min(10, P.wide.calls); i++) await c.client.listTools();
    const lat: number[] = [];
    let count = 0;
    for (let i = 0; i < P.wide.calls; i++) {
      const t0 = performance.now();
      const r = await c.client.listTools();
      lat.push(performance.now() - t0);
      count = r.tools.length;
      if (r.nextCursor) throw new Error(`tools/list was paginated (${count} tools in the first page)`);
    }
    return { ...summarize(lat), tools: count };
  };
  let pbList: { p50: number; p99: number; tools: number } | undefined;
  let sdkList: { p50: number; p99: number; tools: number } | undefined;
  const wdir = temp("patchbay-bench-wide-");
  writeWidePlugins(wdir.path, P.wide.plugins, P.wide.toolsEach);
  try {
    await using(startPatchbay(wdir.path, { PATCHBAY_PAGE_SIZE: String(Math.max(total, 1)) }), async (d) => {
      await waitLoaded(d, P.wide.plugins);
      const c = await httpClient(`${d.url}/mcp`);
      try {
        pbList = await listTimes(c);
      } finally {
        await c.close().catch(() => undefined);
      }
    });
  } catch (err) {
    note.push(`Patchbay tools/list failed: ${errorText(err)}`);
  }
  try {
    await using(startBaseline("sdk-v1-http", { tools: total }), async (s) => {
      const c = await httpClient(s.url);
      try {
        sdkList = await listTimes(c);
      } finally {
        await c.close().catch(() => undefined);
      }
    });
  } catch (err) {
    note.push(`bare SDK tools/list failed: ${errorText(err)}`);
  }
  out.toolsList = { patchbay: pbList, baseline: sdkList, ratio: ratio(pbList?.p50, sdkList?.p50), plugins: P.wide.plugins, toolsEach: P.wide.toolsEach, pageSize: total, calls: P.wide.calls };
  rows.push([
    `tools/list of ${num(total)} tools from ${P.wide.plugins} plugins, one page (PATCHBAY_PAGE_SIZE=${total}), p50 / p99 at the client`,
    pbList ? `${ms(pbList.p50)} / ${ms(pbList.p99)} ms (${num(pbList.tools)} tools)` : "failed",
    sdkList ? `bare SDK v1, ${num(sdkList.tools)} tools: ${ms(sdkList.p50)} / ${ms(sdkList.p99)} ms` : "failed",
    x(ratio(pbList?.p50, sdkList?.p50)),
    "< 5 ms in the daemon",
  ]);

  emit("## Memory and reloads");
  emit();
  emit("RSS is VmRSS of the daemon process (plugin workers are threads in it), median of three samples after a settle time. Ratios here are Patchbay ÷ baseline (lower is better).");
  emit();
  emit(table(["figure", "Patchbay", "same-run baseline", "ratio", "target (issue 10)"], rows));
  for (const n of note) emit(`- ${n}`);
  emit();
  return out;
}

// ---------------------------------------------------------------- first answer

/**
 * What a user waits for when Claude Desktop starts Patchbay: from spawning `patchbay stdio`
 * to `initialize` answered, and to the first `tools/list` that holds the example plugins'
 * tools (the repository's plugins/ folder). Every spawn is a new process, as Claude starts
 * one per launch; the median and the slowest of P.firstAnswers.
 */
async function firstAnswers() {
  const examples = join(ROOT, "plugins");
  const tool = "tasks__create_task";
  const env = { PATCHBAY_LOG_LEVEL: "warn", PATCHBAY_PORT: "0" };
  const rows: { id: string; name: string; runs: FirstAnswer[]; error?: string }[] = [];
  const run = async (id: string, name: string, once: (i: number) => Promise<FirstAnswer>) => {
    progress(`first answer: ${name}`);
    const runs: FirstAnswer[] = [];
    try {
      for (let i = 0; i < P.firstAnswers; i++) runs.push(await once(i));
      rows.push({ id, name, runs });
    } catch (err) {
      rows.push({ id, name, runs, error: errorText(err) });
    }
  };
  const base = baselineCommand("sdk-v1-stdio");
  await run("sdk-v1-stdio", "bare SDK v1 McpServer, stdio (one echo tool)", () => firstAnswer(base.command, base.args, {}, "echo"));
  await run("patchbay-stdio-standalone", "Patchbay stdio --standalone", () => firstAnswer(process.execPath, [CLI, "stdio", "--standalone", "--plugins", examples], { ...env, PATCHBAY_HOME: temp("patchbay-bench-fa-").path }, tool));
  // cold: a new home each time, so the bridge starts the daemon; warm: that daemon running
  const homes: string[] = [];
  const daemonPids = () => homes.flatMap((h) => {
    try {
      return [JSON.parse(readFileSync(join(h, "daemon.json"), "utf8")).pid as number];
    } catch {
      return [];
    }
  });
  try {
    await run("patchbay-stdio-attached-cold", "Patchbay stdio attached, no daemon running (the bridge starts it)", async () => {
      // the previous run's daemon stops first: only one starts at a time, as on a desktop
      await stopPids(daemonPids());
      const home = temp("patchbay-bench-fa-").path;
      homes.push(home);
      return firstAnswer(process.execPath, [CLI, "stdio", "--plugins", examples], { ...env, PATCHBAY_HOME: home }, tool);
    });
    const warmHome = homes.at(-1);
    if (warmHome) await run("patchbay-stdio-attached-warm", "Patchbay stdio attached, daemon running", () => firstAnswer(process.execPath, [CLI, "stdio", "--plugins", examples], { ...env, PATCHBAY_HOME: warmHome }, tool));
  } finally {
    await stopPids(daemonPids());
  }
  const med = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)];
  emit(`## Time to the first answer over stdio: spawn → initialize, spawn → first tools/list with the example plugins (median / slowest of ${P.firstAnswers})`);
  emit();
  emit("The SDK v1 client's StdioClientTransport, as Claude Desktop starts a server. `--standalone` answers initialize before its plugins load and holds tools/list until they have; `lists` > 1 means the tools came with a later list. The bare SDK row serves one echo tool, no plugins: it is the floor of spawning Node with the SDK. CPU is user + system time of the spawned process and its descendants (Linux /proc), which a busy machine changes far less than wall time; the cold attached row's includes the daemon the bridge starts (its child, though detached), the warm row's only the bridge.");
  emit();
  emit(
    table(
      ["row", "initialize", "first tools/list with the tools", "CPU used by then (initialize / tools/list)", "lists"],
      rows.map((r) => {
        if (r.error && r.runs.length === 0) return [r.name, `failed: ${r.error}`, "–", "–", "–"];
        const wall = (k: "initializeMs" | "toolsListMs") => `${ms(med(r.runs.map((f) => f[k])))} / ${ms(Math.max(...r.runs.map((f) => f[k])))} ms`;
        const cpu = (k: "initializeCpuMs" | "toolsListCpuMs") => {
          const v = r.runs.map((f) => f[k]).filter((n): n is number => n !== undefined);
          return v.length ? ms(med(v)) : "–";
        };
        return [r.name, wall("initializeMs"), wall("toolsListMs"), `${cpu("initializeCpuMs")} / ${cpu("toolsListCpuMs")} ms`, String(Math.max(...r.runs.map((f) => f.lists)))];
      }),
    ),
  );
  emit();
  return rows;
}

// ---------------------------------------------------------------- start-up

/**
 * How soon a daemon listens, and how soon it has loaded its folder, with N example-size
 * plugins: first on an empty home (every plugin compiled), then started again on the same
 * home (the compile cache in $PATCHBAY_HOME/cache). Times are from spawning
 * `patchbay start` (Node's own start included) to the URL on its stdout, and to /healthz
 * reporting every plugin loaded (polled every 20 ms).
 */
async function startup() {
  const out: Record<string, unknown>[] = [];
  const rows: (string | number)[][] = [];
  const note: string[] = [];
  for (const n of P.startupPlugins) {
    const dir = temp(`patchbay-bench-startup${n}-`);
    writeExamplePlugins(dir.path, n);
    const home = temp(`patchbay-bench-startup-home${n}-`);
    const figures: Record<string, { listenMs: number; loadedMs: number; loaded?: number; errors?: number }> = {};
    for (const kind of ["cold", "cached"] as const) {
      progress(`startup: ${n} plugins, ${kind === "cold" ? "empty home" : "compile cache from the run before"}`);
      try {
        const t0 = performance.now();
        await using(startPatchbay(dir.path, {}, [], { home: home.path }), async (d) => {
          const listenMs = performance.now() - t0;
          const h = await waitStartupDone(d);
          const loadedMs = performance.now() - t0;
          figures[kind] = { listenMs, loadedMs, loaded: h.counts?.loaded, errors: h.counts?.errors };
          out.push({ plugins: n, kind, listenMs: Math.round(listenMs), loadedMs: Math.round(loadedMs), daemonLoadMs: h.startup?.ms, loaded: h.counts?.loaded, errors: h.counts?.errors });
          if (h.counts?.loaded !== n) note.push(`${n} plugins, ${kind}: ${h.counts?.loaded} loaded, ${h.counts?.errors} with errors`);
        });
      } catch (err) {
        note.push(`${n} plugins, ${kind}: ${errorText(err)}`);
        out.push({ plugins: n, kind, error: errorText(err) });
      }
    }
    const c = figures.cold;
    const w = figures.cached;
    rows.push([`${n} example-size plugins (5 tools each)`, c ? `${num(c.listenMs)} ms` : "failed", c ? `${num(c.loadedMs / 1000, 1)} s` : "failed", w ? `${num(w.listenMs)} ms` : "failed", w ? `${num(w.loadedMs / 1000, 1)} s` : "failed", "listening < 1 s"]);
  }
  emit("## Start-up");
  emit();
  emit("From spawning `patchbay start` (Node's own start included) to the URL on its stdout (listening), and to `/healthz` reporting every plugin loaded. Cold: an empty `$PATCHBAY_HOME`; cached: started again on the same home, so the compile cache in `$PATCHBAY_HOME/cache` holds every bundle.");
  emit();
  emit(table(["plugins", "start → listening (cold)", "start → all loaded (cold)", "start → listening (cached)", "start → all loaded (cached)", "target (issue 21)"], rows));
  for (const line of note) emit(`- ${line}`);
  emit();
  return out;
}

// ---------------------------------------------------------------- main

async function main() {
  const started = performance.now();
  const date = new Date();
  buildBaseline();
  const cli = await snapshotDist();
  progress(`Patchbay: ${cli} (a copy of dist/ taken now, removed at the end)`);
  const m = machine();
  const git = gitInfo();
  const reduced =
    mode === "full"
      ? []
      : [
          `${P.loadSeconds} s per capacity and WebSocket row (full: ${PROFILES.full.loadSeconds} s) after ${P.warmSeconds} s warm-up (full: ${PROFILES.full.warmSeconds} s)`,
          `${P.seqCalls} sequential calls and ${P.concSeconds} s of 16-way calls per latency row (full: ${PROFILES.full.seqCalls} and ${PROFILES.full.concSeconds} s)`,
          `${P.telemetryPairs} telemetry on/off pairs (full: ${PROFILES.full.telemetryPairs})`,
          `RSS growth over ${P.reloads} reloads (full: ${PROFILES.full.reloads})`,
          `tools/list timed over ${P.wide.calls} calls (full: ${PROFILES.full.wide.calls})`,
          `start-up with ${P.startupPlugins.join(" and ")} plugins (full: ${PROFILES.full.startupPlugins.join(" and ")})`,
          ...(mode === "quick" ? ["no latency row for the SDK v2 createMcpHandler over HTTP (context only)"] : []),
          ...(mode === "smoke" ? [`plugins ${P.plugins.join("/")}, ${P.sessions} sessions, ${P.wide.plugins * P.wide.toolsEach} tools listed, only some rows: numbers are meaningless`] : []),
        ];
  emit(`# Patchbay bench — ${mode} run`);
  emit();
  emit(`${date.toISOString()} · commit ${git.short}${git.dirty ? " (with uncommitted changes)" : ""} · Node ${m.node} · ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB · ${m.platform}`);
  if (reduced.length) {
    emit();
    emit(`Reduced in this ${mode} run: ${reduced.join("; ")}.`);
  }
  emit();
  emit("Bare SDK baselines, each written the way its SDK's documentation writes a server:");
  emit();
  for (const [kind, pattern] of Object.entries(BASELINE_PATTERNS)) emit(`- \`${kind}\`: ${pattern}`);
  emit();

  const result: Record<string, unknown> = { mode, date: date.toISOString(), machine: m, git, patchbayCli: cli, settings: P, reduced, sections: [...selected], baselines: BASELINE_PATTERNS };
  const failures: { section: string; error: string }[] = [];
  const runners: Record<Section, () => Promise<unknown>> = { capacity, latency, "first-answer": firstAnswers, telemetry, memory, install: () => install({ progress, emit, temp, settleMs: P.settleMs }), startup, search: () => searchEval({ smoke: mode === "smoke", progress, emit, temp, using }) };
  const sectionSeconds: Record<string, number> = {};
  for (const s of SECTIONS) {
    if (!selected.has(s)) continue;
    const t0 = performance.now();
    try {
      result[s] = await runners[s]();
      sectionSeconds[s] = Math.round((performance.now() - t0) / 100) / 10;
      progress(`${s} took ${sectionSeconds[s]} s`);
    } catch (err) {
      failures.push({ section: s, error: errorText(err) });
      emit(`## ${s}: failed — ${errorText(err)}`);
      emit();
      result[s] = { error: errorText(err) };
    }
  }
  result.failures = failures;
  result.sectionSeconds = sectionSeconds;
  result.seconds = Math.round((performance.now() - started) / 100) / 10;
  const loadEnd = loadavg().map((v) => Math.round(v * 100) / 100);
  (result.machine as Record<string, unknown>).loadAvgAtEnd = loadEnd;
  // Only the start says whether other work was running: by the end, the load average is
  // mostly the bench's own (its daemons, load generator and 100 plugin threads).
  const busy = m.loadAvgAtStart[0] > m.cores * 0.5;
  emit(`_${mode} run took ${result.seconds} s; load average (1 min) ${m.loadAvgAtStart[0]} at the start, ${loadEnd[0]} at the end (the bench's own load)${busy ? ` — **the machine was busy with other work when the run began (${m.cores} cores): figures are unreliable**` : ""}._`);
  result.markdown = md.join("\n");
  mkdirSync(outDir, { recursive: true });
  const stamp = date.toISOString().replace(/[:]/g, "-").replace(/\..+/, "");
  const base = join(outDir, `${stamp}-${mode}`);
  writeFileSync(`${base}.json`, JSON.stringify(result, null, 2) + "\n");
  writeFileSync(`${base}.md`, md.join("\n") + "\n");
  progress(`wrote ${base}.json and .md`);
}

main()
  .catch((err) => {
    process.stderr.write(`bench failed: ${(err as Error)?.stack ?? err}\n`);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
