/**
 * Runs the MCP conformance suites against a Patchbay daemon serving the fixture plugins in
 * test/conformance/plugins (`npm run conformance`; test/conformance.test.ts runs it in `npm test`).
 *
 *  1. Copies the fixture plugins to a temporary folder (their `test_trigger_*_change` tools add
 *     and remove plugin files there), then starts `dist/cli.js start --port 0` on this Node with
 *     a temporary PATCHBAY_HOME and test/conformance/patchbay.json.
 *  2. Runs, with Node 22 (the `node@22` dev dependency, called by path, never put on PATH):
 *     @modelcontextprotocol/conformance 0.2.0-alpha.12 `--requirements 2026-07-28` and
 *     `--requirements 2025-11-25`, then 0.1.16 active and `--suite pending`, each with
 *     `--expected-failures test/conformance/expected-failures.yml`.
 *  3. Judges every scenario from the suites' own result files: a scenario with a FAILURE or a
 *     WARNING check fails unless the baseline lists it. This is stricter than a suite's exit
 *     code, which ignores scenarios a requirement set runs without scoring (pending, extension).
 *  4. Stops the daemon and removes the temporary folder, also on failure, SIGINT and SIGTERM.
 *
 * Usage: tsx test/conformance/runner.ts [--only ID[,ID]] [--verbose] [--keep] [--url URL]
 *   IDs: 2026-07-28, 2025-11-25, stable, stable-pending. --verbose streams the suites' output;
 *   --keep leaves the temporary folder (daemon log, suite logs, checks.json files) in place;
 *   --url runs the suites against a server that is already running (its /mcp URL), started by
 *   hand with the fixture plugins and PATCHBAY_PLUGINS set, instead of starting a daemon.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { cpSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, type WriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { nodeLine } from "../helpers/node-lines.ts";

export const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, "..", "..");
const CLI = join(ROOT, "dist", "cli.js");
const FIXTURE_PLUGINS = join(HERE, "plugins");
const CONFIG = join(HERE, "patchbay.json");
export const BASELINE = join(HERE, "expected-failures.yml");
const SUITE_NEXT = join(ROOT, "node_modules", "@modelcontextprotocol", "conformance");
const SUITE_STABLE = join(ROOT, "node_modules", "conformance-stable");

/** One invocation of a suite. */
interface RunSpec {
  id: string;
  label: string;
  suiteDir: string;
  args: (mcpUrl: string) => string[];
}

const RUNS: RunSpec[] = [
  { id: "2026-07-28", label: "requirements 2026-07-28", suiteDir: SUITE_NEXT, args: (url) => ["server", "--url", url, "--requirements", "2026-07-28"] },
  { id: "2025-11-25", label: "requirements 2025-11-25", suiteDir: SUITE_NEXT, args: (url) => ["server", "--url", url, "--requirements", "2025-11-25"] },
  { id: "stable", label: "active suite", suiteDir: SUITE_STABLE, args: (url) => ["server", "--url", url] },
  { id: "stable-pending", label: "pending suite", suiteDir: SUITE_STABLE, args: (url) => ["server", "--url", url, "--suite", "pending"] },
];
export const RUN_IDS = RUNS.map((r) => r.id);

export interface CheckRecord {
  id: string;
  name?: string;
  status: string;
  errorMessage?: string;
}

export interface ScenarioResult {
  scenario: string;
  /** FAILURE and WARNING checks: both fail a scenario, as the suites' baseline mode counts them. */
  failed: number;
  warnings: number;
  passed: number;
  /** Listed in the expected-failures file. */
  expected: boolean;
  ok: boolean;
  /** The first failing checks, "name: message". */
  problems: string[];
}

export interface RunResult {
  id: string;
  label: string;
  suiteVersion: string;
  exitCode: number | null;
  durationMs: number;
  /** The suite's own "Total: N passed, M failed" line. */
  suiteTotal?: string;
  scenarios: ScenarioResult[];
  ok: boolean;
  /** One line: scenarios and checks passed/failed, exit code, time. */
  summary: string;
}

export interface ConformanceReport {
  ok: boolean;
  runs: RunResult[];
  durationMs: number;
  /** Anything wrong outside the suites (plugins that failed to load, daemon exit, ...). */
  problems: string[];
  /** The whole report, printable. */
  text: string;
}

export interface RunnerOptions {
  /** Run ids to run (default: all). */
  only?: string[];
  /** Stream the suites' output. */
  verbose?: boolean;
  /** Keep the temporary folder and print its path. */
  keep?: boolean;
  /** Progress lines ("starting daemon", "running 2026-07-28"...). */
  log?: (line: string) => void;
  /** Kill a suite that runs longer than this (default 10 minutes). */
  runTimeoutMs?: number;
  /** Test this already-running server (its MCP URL) instead of starting a daemon. */
  url?: string;
}

/** A Node 22 binary (the suites need Node >= 22; the machine's is 20): node@22 from the npm registry, installed once into .cache. */
export function findNode22(): string {
  return nodeLine(22);
}

/** Scenario → reason, from the expected-failures file (a `server:` list, reasons in comments). */
export function readBaseline(file = BASELINE): Map<string, string> {
  const out = new Map<string, string>();
  let section = "";
  for (const raw of readFileSync(file, "utf8").split("\n")) {
    const line = raw.replace(/\s+$/, "");
    if (/^\s*(#|$)/.test(line)) continue;
    const key = /^([A-Za-z_-]+):\s*$/.exec(line);
    if (key) {
      section = key[1];
      continue;
    }
    const item = /^\s+-\s+([^\s#]+)\s*(?:#\s*(.*))?$/.exec(line);
    if (!item || section === "") throw new Error(`${file}: cannot read line "${raw}"`);
    if (section === "server") out.set(item[1], item[2] ?? "");
  }
  return out;
}

function suiteVersion(dir: string): string {
  return (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version;
}

const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

/** `server-<scenario>-<ISO time with - for : and .>` → scenario. */
function scenarioOfResultDir(name: string): string | undefined {
  return /^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/.exec(name)?.[1];
}

function readChecks(resultsDir: string): Map<string, CheckRecord[]> {
  const out = new Map<string, CheckRecord[]>();
  if (!existsSync(resultsDir)) return out;
  for (const name of readdirSync(resultsDir)) {
    const scenario = scenarioOfResultDir(name);
    const file = join(resultsDir, name, "checks.json");
    if (!scenario || !existsSync(file)) continue;
    try {
      out.set(scenario, JSON.parse(readFileSync(file, "utf8")) as CheckRecord[]);
    } catch {
      out.set(scenario, [{ id: "checks-json", status: "FAILURE", errorMessage: `unreadable ${file}` }]);
    }
  }
  return out;
}

function judge(scenario: string, checks: CheckRecord[] | undefined, baseline: Map<string, string>): ScenarioResult {
  const expected = baseline.has(scenario);
  if (!checks) {
    return { scenario, failed: 1, warnings: 0, passed: 0, expected, ok: expected, problems: ["no results recorded (the scenario crashed or was cut off)"] };
  }
  const bad = checks.filter((c) => c.status === "FAILURE" || c.status === "WARNING");
  const failed = bad.filter((c) => c.status === "FAILURE").length;
  const problems = bad.slice(0, 4).map((c) => {
    const msg = (c.errorMessage ?? "").replace(/\s+/g, " ");
    return `${c.status === "WARNING" ? "warning " : ""}${c.name ?? c.id}: ${msg.length > 240 ? `${msg.slice(0, 240)}…` : msg}`;
  });
  if (bad.length > 4) problems.push(`… and ${bad.length - 4} more`);
  return { scenario, failed, warnings: bad.length - failed, passed: checks.filter((c) => c.status === "SUCCESS").length, expected, ok: bad.length === 0 || expected, problems };
}

/** Children and folders to clean up, also from a signal handler. */
class Cleanup {
  children = new Set<ChildProcess>();
  dirs = new Set<string>();
  keep = false;
  /** Set by a signal: start nothing more. */
  stopping = false;

  track(child: ChildProcess): ChildProcess {
    if (this.stopping) child.kill("SIGKILL");
    this.children.add(child);
    child.once("exit", () => this.children.delete(child));
    return child;
  }

  async run(): Promise<void> {
    await Promise.all([...this.children].map((c) => stopChild(c)));
    if (!this.keep) for (const d of this.dirs) rmSync(d, { recursive: true, force: true, maxRetries: 3 });
    this.dirs.clear();
  }

  /** Last resort on process exit: synchronous only. */
  runSync(): void {
    for (const c of this.children) c.kill("SIGKILL");
    if (!this.keep) for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }
}

async function stopChild(child: ChildProcess, graceMs = 8_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

interface Daemon {
  url: string;
  proc: ChildProcess;
  logFile: string;
}

/** The machine's Node for the daemon: this process's (the suites alone run on Node 22). */
function daemonNode(): string {
  return process.execPath;
}

async function startDaemon(tmp: string, cleanup: Cleanup, log: (l: string) => void): Promise<Daemon> {
  const plugins = join(tmp, "plugins");
  cpSync(FIXTURE_PLUGINS, plugins, { recursive: true });
  const home = join(tmp, "home");
  mkdirSync(home);
  const logFile = join(tmp, "daemon.log");
  const logStream = createWriteStream(logFile);
  // only this run's settings: a developer's PATCHBAY_TOKEN or PATCHBAY_PORT must not leak in
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PATCHBAY_")));
  const args = [CLI, "start", "--port", "0", "--plugins", plugins, "--config", CONFIG];
  log(`starting daemon: node ${args.map((a) => a.replace(ROOT + "/", "")).join(" ")}`);
  const proc = cleanup.track(
    spawn(daemonNode(), args, { cwd: ROOT, env: { ...env, PATCHBAY_HOME: home, PATCHBAY_PLUGINS: plugins }, stdio: ["ignore", "pipe", "pipe"] }),
  );
  let out = "";
  proc.stdout!.setEncoding("utf8").on("data", (d: string) => {
    out += d;
    logStream.write(d);
  });
  proc.stderr!.pipe(logStream);
  proc.once("exit", () => logStream.end());
  const base = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`the daemon printed no URL within 60 s; log: ${logFile}`)), 60_000);
    const onData = () => {
      const m = /MCP \(HTTP\):\s+(https?:\/\/\S+?)\/mcp\b/.exec(out);
      if (m) {
        clearTimeout(timer);
        proc.stdout!.off("data", onData);
        resolveUrl(m[1]);
      }
    };
    proc.stdout!.on("data", onData);
    proc.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the daemon exited (${signal ?? code}) before listening:\n${tail(logFile, 30)}`));
    });
  });
  return { url: base, proc, logFile };
}

/** Readiness and plugin load errors, from /healthz (best effort: its shape is not a contract). */
async function pluginProblems(base: string): Promise<string[]> {
  const deadline = Date.now() + 30_000;
  let body: any;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${base}/healthz`);
      body = await res.json();
      if (body?.ready !== false) break;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const plugins: any[] = Array.isArray(body?.plugins) ? body.plugins : [];
  return plugins.filter((p) => p?.lastError).map((p) => `plugin ${p.name ?? p.file} did not load: ${String(p.lastError?.message ?? JSON.stringify(p.lastError)).slice(0, 400)}`);
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

async function runSuite(spec: RunSpec, mcpUrl: string, node22: string, baseline: Map<string, string>, tmp: string, cleanup: Cleanup, opts: RunnerOptions): Promise<RunResult> {
  const version = suiteVersion(spec.suiteDir);
  const resultsDir = join(tmp, "results", spec.id);
  mkdirSync(resultsDir, { recursive: true });
  const logFile = join(tmp, `suite-${spec.id}.log`);
  const logStream: WriteStream = createWriteStream(logFile);
  const args = [join(spec.suiteDir, "dist", "index.js"), ...spec.args(mcpUrl), "--expected-failures", BASELINE, "-o", resultsDir];
  const started = Date.now();
  // cwd: the temporary folder, so nothing a suite writes by default lands in the repository
  const child = cleanup.track(spawn(node22, args, { cwd: tmp, env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" }, stdio: ["ignore", "pipe", "pipe"] }));
  let output = "";
  const onData = (d: Buffer) => {
    output += d.toString("utf8");
    logStream.write(d);
    if (opts.verbose) process.stdout.write(d);
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const timeoutMs = opts.runTimeoutMs ?? 10 * 60_000;
  let timedOut = false;
  const watchdog = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  const [code] = (await once(child, "exit")) as [number | null];
  clearTimeout(watchdog);
  logStream.end();
  const durationMs = Date.now() - started;

  const text = stripAnsi(output);
  const ran = [...text.matchAll(/^=== Running scenario: (\S+) ===$/gm)].map((m) => m[1]);
  const checks = readChecks(resultsDir);
  const names = [...new Set([...ran, ...checks.keys()])];
  const scenarios = names.map((s) => judge(s, checks.get(s), baseline));
  const suiteTotal = /^Total: .*$/m.exec(text)?.[0];
  const unexpected = scenarios.filter((s) => !s.ok);
  const ok = code === 0 && !timedOut && scenarios.length > 0 && unexpected.length === 0;

  const failedScenarios = scenarios.filter((s) => s.failed + s.warnings > 0);
  const expectedFailures = failedScenarios.filter((s) => s.expected).length;
  const sum = (k: "passed" | "failed" | "warnings") => scenarios.reduce((n, s) => n + s[k], 0);
  const summary =
    `${ok ? "PASS" : "FAIL"} ${spec.id} — conformance ${version} ${spec.label}: ` +
    `${scenarios.length} scenarios, ${scenarios.length - failedScenarios.length} passed, ${unexpected.length} failed` +
    (expectedFailures ? `, ${expectedFailures} expected failures` : "") +
    ` | checks: ${sum("passed")} passed, ${sum("failed")} failed, ${sum("warnings")} warnings` +
    ` | suite: ${suiteTotal ?? "no Total line"}, exit ${timedOut ? `killed after ${timeoutMs / 1000} s` : code}` +
    ` | ${(durationMs / 1000).toFixed(0)} s`;
  if (scenarios.length === 0) {
    const last = text.trimEnd().split("\n").slice(-15).join("\n");
    scenarios.push({ scenario: "(suite)", failed: 1, warnings: 0, passed: 0, expected: false, ok: false, problems: [`no scenario ran; suite output ends with:\n${last}`] });
  }
  return { id: spec.id, label: spec.label, suiteVersion: version, exitCode: code, durationMs, suiteTotal, scenarios, ok, summary };
}

function formatRun(run: RunResult): string[] {
  const lines = [run.summary];
  for (const s of run.scenarios.filter((x) => x.failed + x.warnings > 0)) {
    const tag = s.expected ? "~ (expected)" : "✗";
    lines.push(`    ${tag} ${s.scenario}: ${s.failed} failed, ${s.warnings} warnings, ${s.passed} passed`);
    if (!s.expected) for (const p of s.problems) lines.push(`        - ${p}`);
  }
  return lines;
}

/** Runs the suites against a fresh daemon; never throws for a failing suite, only reports. */
export async function runConformance(opts: RunnerOptions = {}): Promise<ConformanceReport> {
  const log = opts.log ?? (() => {});
  const started = Date.now();
  const node22 = findNode22();
  if (!opts.url && !existsSync(CLI)) throw new Error(`${CLI} is missing: build first (node scripts/build.mjs)`);
  for (const dir of [SUITE_NEXT, SUITE_STABLE]) if (!existsSync(join(dir, "dist", "index.js"))) throw new Error(`conformance suite missing at ${dir}; run npm install`);
  const unknown = (opts.only ?? []).filter((id) => !RUN_IDS.includes(id));
  if (unknown.length) throw new Error(`unknown run id(s) ${unknown.join(", ")}; known: ${RUN_IDS.join(", ")}`);
  const specs = opts.only?.length ? RUNS.filter((r) => opts.only!.includes(r.id)) : RUNS;
  const baseline = readBaseline();

  const cleanup = new Cleanup();
  cleanup.keep = opts.keep === true;
  const tmp = mkdtempSync(join(tmpdir(), "patchbay-conformance-"));
  cleanup.dirs.add(tmp);
  const onExit = () => cleanup.runSync();
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping the daemon and the suite, removing ${tmp}`);
    cleanup.stopping = true;
    void cleanup.run().finally(() => {
      process.off("exit", onExit);
      process.kill(process.pid, signal); // the handler is gone now: default action
    });
  };
  process.on("exit", onExit);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const runs: RunResult[] = [];
  const problems: string[] = [];
  let daemon: Daemon | undefined;
  try {
    let mcpUrl = opts.url ?? "";
    if (!opts.url) {
      daemon = await startDaemon(tmp, cleanup, log);
      mcpUrl = `${daemon.url}/mcp`;
      log(`daemon listening at ${mcpUrl}`);
      problems.push(...(await pluginProblems(daemon.url)));
      for (const p of problems) log(p);
    }
    for (const spec of specs) {
      if (cleanup.stopping) break;
      if (daemon && (daemon.proc.exitCode !== null || daemon.proc.signalCode !== null)) {
        problems.push(`the daemon exited (${daemon.proc.signalCode ?? daemon.proc.exitCode}) before run ${spec.id}:\n${tail(daemon.logFile, 30)}`);
        break;
      }
      log(`running ${spec.id} (${spec.label})…`);
      const run = await runSuite(spec, mcpUrl, node22, baseline, tmp, cleanup, opts);
      runs.push(run);
      log(run.summary);
    }
    if (daemon && (daemon.proc.exitCode !== null || daemon.proc.signalCode !== null)) problems.push(`the daemon exited during the runs:\n${tail(daemon.logFile, 30)}`);
  } catch (err) {
    problems.push((err as Error).message);
  } finally {
    if (opts.keep) log(`kept ${tmp} (daemon.log, suite-*.log, results/*/*/checks.json)`);
    await cleanup.run();
    process.off("exit", onExit);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }

  const durationMs = Date.now() - started;
  const ok = problems.length === 0 && runs.length === specs.length && runs.every((r) => r.ok);
  const text = [
    "=== Patchbay conformance ===",
    ...runs.flatMap(formatRun),
    ...problems.map((p) => `PROBLEM: ${p}`),
    `${ok ? "PASSED" : "FAILED"}: ${runs.filter((r) => r.ok).length}/${specs.length} runs passed in ${(durationMs / 1000).toFixed(0)} s` +
      ` (expected failures: ${[...baseline.keys()].length} tasks-* scenarios, "${[...new Set(baseline.values())].join('", "')}")`,
  ].join("\n");
  return { ok, runs, durationMs, problems, text };
}

function parseArgs(argv: string[]): RunnerOptions {
  const opts: RunnerOptions = { log: (l) => console.error(`[conformance] ${l}`) };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--verbose") opts.verbose = true;
    else if (a === "--keep") opts.keep = true;
    else if (a === "--url") opts.url = argv[++i];
    else if (a === "--only") opts.only = (argv[++i] ?? "").split(",").filter(Boolean);
    else if (a.startsWith("--only=")) opts.only = a.slice("--only=".length).split(",").filter(Boolean);
    else if (a === "--help" || a === "-h") {
      console.log(`usage: tsx test/conformance/runner.ts [--only ${RUN_IDS.join(",")}] [--verbose] [--keep] [--url URL]`);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return opts;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    const report = await runConformance(parseArgs(process.argv.slice(2)));
    console.log(report.text);
    process.exitCode = report.ok ? 0 : 1;
  } catch (err) {
    console.error(`conformance: ${(err as Error).message}`);
    process.exitCode = 2;
  }
}
