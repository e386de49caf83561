/**
 * `npm run bench`: measurements, not tests. Every number is printed next to a baseline
 * measured in the same run on the same machine, so ratios stay meaningful on a noisy box.
 *
 *  1. hot reload: write a plugin file → a connected client receives tools/list_changed (20 runs)
 *  2. idle RSS of the daemon with the example plugins loaded
 *  3. sequential calls/s and p50 per transport (same client loop), vs the bare SDK server
 *  4. Streamable HTTP throughput, sequential and 16-way concurrent, telemetry on vs off
 */
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { cpSync } from "node:fs";
import { TempDir, EXAMPLE_PLUGINS, ROOT } from "../test/helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "../test/helpers/daemon.ts";
import { httpClient, wsClient, sseClient, stdioClient, type RecordingClient } from "../test/helpers/clients.ts";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { chromium } from "playwright-core";
import { existsSync } from "node:fs";
import { pino } from "pino";
import { startTelemetry } from "../daemon/telemetry/sdk.ts";
import { startRequestSpan } from "../daemon/telemetry/instrumentation.ts";

const CHROMIUM = process.env.PATCHBAY_CHROMIUM ?? "/usr/bin/chromium";

const SEQ = Number(process.env.BENCH_SEQ ?? 1500);
const CONC_TOTAL = Number(process.env.BENCH_CONC ?? 4000);
const ECHO = `export default { tools: { echo: { input: { type: "object", properties: { text: { type: "string" } } }, handler: ({ text }) => text } } };\n`;

function pct(sorted: number[], q: number) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
function fmt(n: number, d = 2) {
  return n.toFixed(d);
}

async function sequential(client: Client, tool: string, n: number) {
  for (let i = 0; i < 50; i++) await client.callTool({ name: tool, arguments: { text: "warm" } });
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await client.callTool({ name: tool, arguments: { text: `hello ${i}` } });
    lat.push(performance.now() - s);
  }
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { perSec: n / secs, p50: pct(lat, 0.5), p99: pct(lat, 0.99) };
}

async function concurrent(client: Client, tool: string, total: number, width: number) {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < total) {
        next++;
        await client.callTool({ name: tool, arguments: { text: "x" } });
      }
    }),
  );
  return total / ((performance.now() - t0) / 1000);
}

/** The official SDK's own McpServer over Streamable HTTP, as the baseline. */
async function startBaseline(): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, ["--import", "tsx", join(ROOT, "bench", "baseline-server.ts")], { stdio: ["ignore", "pipe", "inherit"], cwd: ROOT });
  const url = await new Promise<string>((resolve) => {
    proc.stdout!.setEncoding("utf8").on("data", (d: string) => {
      const m = /listening (http:\/\/\S+)/.exec(d);
      if (m) resolve(m[1]);
    });
  });
  return { url, proc };
}

async function rawHttpClient(url: string) {
  const c = new Client({ name: "bench", version: "1" });
  await c.connect(new StreamableHTTPClientTransport(new URL(url), { fetch: (u, init) => fetch(u, { ...init, signal: undefined }) }));
  return c;
}

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) * 1024;
}

async function benchReload(d: RunningDaemon, dir: TempDir, c: RecordingClient) {
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const n = c.count("notifications/tools/list_changed");
    const t0 = performance.now();
    writeFileSync(dir.join(`reload${i}.mjs`), `export default { tools: { t${i}: { handler: () => "${i}" } } };\n`);
    await c.waitNotification("notifications/tools/list_changed", n + 1);
    times.push(performance.now() - t0);
  }
  for (let i = 0; i < 20; i++) rmSync(dir.join(`reload${i}.mjs`));
  times.sort((a, b) => a - b);
  return { median: pct(times, 0.5), worst: times[times.length - 1], best: times[0] };
}

/** Host-side cost of one request's telemetry (span, worker child span, metrics), in µs. */
function telemetryCost(n: number): number {
  const session = { id: "s1", transport: "streamable-http" as const, startedAt: Date.now(), lastActivityAt: 0, calls: 0, errors: 0, protocolVersion: "2025-11-25" };
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = startRequestSpan({ method: "tools/call", target: "x__y", attributes: { "gen_ai.tool.name": "x__y", "gen_ai.operation.name": "execute_tool", "patchbay.plugin.name": "x" }, session, requestId: i });
    const now = performance.timeOrigin + performance.now();
    s.addWorkerSpan({ name: "plugin tool y", traceId: "0".repeat(31) + "1", spanId: "0".repeat(15) + "1", startTime: now - 0.2, endTime: now, ok: true, attributes: { "patchbay.plugin.name": "x" } });
    s.end();
  }
  return ((performance.now() - t0) * 1000) / n;
}

async function main() {
  const out: string[] = [];
  const log = (s: string) => {
    out.push(s);
    console.log(s);
  };
  log(`# Patchbay bench — ${new Date().toISOString()} — node ${process.version}, ${SEQ} sequential calls per row`);

  // 0: what telemetry costs the host per request, measured in this process
  {
    telemetryCost(2000);
    const off = telemetryCost(20000);
    const t = await startTelemetry({ logger: pino({ level: "silent" }) });
    telemetryCost(2000);
    const on = telemetryCost(20000);
    await t.shutdown();
    log(`\n## Telemetry cost per request on the host (span + worker child span + duration metric + dashboard store)`);
    log(`no SDK (API no-ops): ${fmt(off, 1)} µs; SDK with dashboard store and Prometheus reader: ${fmt(on, 1)} µs`);
  }

  // 1 + 2: reload latency and idle RSS with the example plugins
  {
    const dir = new TempDir("patchbay-bench-");
    cpSync(EXAMPLE_PLUGINS, dir.path, { recursive: true });
    const d = await startDaemonProcess({ plugins: dir.path, env: { PATCHBAY_LOG_LEVEL: "warn" } });
    await new Promise((r) => setTimeout(r, 1500));
    const rss = rssOf(d.proc.pid!);
    const c = await httpClient(d.url);
    const r = await benchReload(d, dir, c);
    log(`\n## Hot reload: file written → client got tools/list_changed (20 runs, Streamable HTTP client)`);
    log(`median ${fmt(r.median, 0)} ms, worst ${fmt(r.worst, 0)} ms, best ${fmt(r.best, 0)} ms (includes chokidar's 40 ms awaitWriteFinish window and the 20 ms debounce)`);
    log(`\n## Idle daemon RSS with the 3 example plugins loaded (one process; plugin workers are threads inside it)`);
    log(`${fmt(rss / 1024 / 1024, 1)} MiB`);
    await c.close();
    await d.stop();
    dir.cleanup();
  }

  // 3: per transport, same client loop, vs the bare SDK server
  const dir = new TempDir("patchbay-bench-echo-");
  dir.file("bench.mjs", ECHO);
  const baseline = await startBaseline();
  const baseClient = await rawHttpClient(baseline.url);
  const base = await sequential(baseClient, "echo", SEQ);
  log(`\n## Sequential calls per transport (echo tool; ratio = calls/s ÷ bare SDK McpServer over Streamable HTTP)`);
  log(`| transport | calls/s | p50 ms | p99 ms | ratio |`);
  log(`|---|---|---|---|---|`);
  log(`| bare SDK McpServer, Streamable HTTP (baseline) | ${fmt(base.perSec, 0)} | ${fmt(base.p50)} | ${fmt(base.p99)} | 1.00 |`);
  const d = await startDaemonProcess({ plugins: dir.path, env: { PATCHBAY_LOG_LEVEL: "warn" } });
  const home = d.home;
  for (const [name, make] of [
    ["patchbay Streamable HTTP", () => httpClient(d.url, { isolateAbort: true })],
    ["patchbay WebSocket", () => wsClient(d.url)],
    ["patchbay legacy SSE", () => sseClient(d.url)],
    ["patchbay stdio attached (bridge → /ws)", () => stdioClient([], { PATCHBAY_HOME: home, PATCHBAY_LOG_LEVEL: "warn" })],
    ["patchbay stdio standalone", () => stdioClient(["--standalone", "--plugins", dir.path], { PATCHBAY_HOME: home, PATCHBAY_LOG_LEVEL: "warn" })],
  ] as const) {
    const c = await make();
    const r = await sequential(c.client, "bench__echo", SEQ);
    log(`| ${name} | ${fmt(r.perSec, 0)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.perSec / base.perSec)} |`);
    await c.close();
  }
  await d.stop();

  // 4: telemetry on vs off, sequential and 16-way concurrent over Streamable HTTP
  log(`\n## Streamable HTTP throughput, telemetry on vs off (one session; ${CONC_TOTAL} calls for the concurrent rows)`);
  log(`| server | sequential calls/s | 16-way calls/s |`);
  log(`|---|---|---|`);
  const baseConc = await concurrent(baseClient, "echo", CONC_TOTAL, 16);
  log(`| bare SDK McpServer (baseline) | ${fmt(base.perSec, 0)} | ${fmt(baseConc, 0)} |`);
  // Alternate on/off over three rounds and take medians: a single pair is at the mercy of
  // whatever else the machine does in that minute.
  const runs: Record<string, { seq: number[]; conc: number[] }> = { true: { seq: [], conc: [] }, false: { seq: [], conc: [] } };
  for (let round = 0; round < 3; round++) {
    for (const telemetry of round % 2 === 0 ? ["true", "false"] : ["false", "true"]) {
      const dd = await startDaemonProcess({ plugins: dir.path, env: { PATCHBAY_LOG_LEVEL: "warn", PATCHBAY_TELEMETRY: telemetry } });
      const c = await httpClient(dd.url, { isolateAbort: true });
      runs[telemetry].seq.push((await sequential(c.client, "bench__echo", Math.round(SEQ / 2))).perSec);
      runs[telemetry].conc.push(await concurrent(c.client, "bench__echo", CONC_TOTAL, 16));
      await c.close();
      await dd.stop();
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const results = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, { seq: median(v.seq), conc: median(v.conc) }]));
  for (const t of ["true", "false"]) log(`| patchbay, telemetry ${t === "true" ? "on" : "off"} (median of 3) | ${fmt(results[t].seq, 0)} | ${fmt(results[t].conc, 0)} |`);
  log(`telemetry overhead (on ÷ off): sequential ${fmt(results.true.seq / results.false.seq)}, 16-way ${fmt(results.true.conc / results.false.conc)}`);
  log(`patchbay (telemetry on) ÷ bare SDK: sequential ${fmt(results.true.seq / base.perSec)}, 16-way ${fmt(results.true.conc / baseConc)}`);

  await baseClient.close();
  baseline.proc.kill("SIGTERM");

  // 5: the dashboard in Chromium while calls flow as fast as the daemon takes them
  if (existsSync(CHROMIUM)) {
    const dd = await startDaemonProcess({ plugins: dir.path, env: { PATCHBAY_LOG_LEVEL: "warn" } });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"] });
    const page = await browser.newPage({ viewport: { width: 1300, height: 1300 } });
    await page.goto(dd.url);
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Performance.enable");
    const heap = async () => ((await cdp.send("Performance.getMetrics")).metrics.find((m) => m.name === "JSHeapUsedSize")?.value ?? 0) / 1024 / 1024;
    const frame = async () => {
      const t0 = performance.now();
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0))));
      return performance.now() - t0;
    };
    const clients = await Promise.all([httpClient(dd.url, { isolateAbort: true }), httpClient(dd.url, { isolateAbort: true })]);
    let calls = 0;
    let stop = false;
    const load = clients.flatMap((c) =>
      Array.from({ length: 16 }, async () => {
        while (!stop) {
          await c.client.callTool({ name: "bench__echo", arguments: { text: "x" } });
          calls++;
        }
      }),
    );
    log(`\n## Dashboard in Chromium under load (2 sessions × 16 concurrent callers, 20 s)`);
    log(`| t (s) | calls/s since last | JS heap MiB | frame round-trip ms |`);
    log(`|---|---|---|---|`);
    log(`| 0 | – | ${fmt(await heap(), 1)} | ${fmt(await frame(), 1)} |`);
    let last = 0;
    for (let t = 4; t <= 20; t += 4) {
      await new Promise((r) => setTimeout(r, 4_000));
      const rate = (calls - last) / 4;
      last = calls;
      log(`| ${t} | ${fmt(rate, 0)} | ${fmt(await heap(), 1)} | ${fmt(await frame(), 1)} |`);
    }
    stop = true;
    await Promise.all(load);
    const shown = await page.locator('#tools-table tr[data-tool="bench__echo"] td.calls').textContent();
    log(`tools table shows ${shown} calls for bench__echo (sent ${calls} in the load phase)`);
    await Promise.all(clients.map((c) => c.close()));
    await browser.close();
    await dd.stop();
  } else log(`\n(dashboard under load: skipped, no Chromium at ${CHROMIUM})`);
  dir.cleanup();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
