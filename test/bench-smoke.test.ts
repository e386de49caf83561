/**
 * `npm run bench` must not rot: run the harness on its tiny `--smoke` workload and check that
 * it printed the report and wrote JSON with the expected shape. No timing assertions: the
 * numbers of a smoke run mean nothing.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, TempDir } from "./helpers/env.ts";

const out = new TempDir("patchbay-bench-smoke-");

/** `path: error` for every object in the result that carries an `error` field. */
function errorsIn(value: unknown, path = "$"): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => errorsIn(v, `${path}[${i}]`));
  if (value === null || typeof value !== "object") return [];
  const own = "error" in value && value.error !== undefined ? [`${path}: ${String(value.error)}`] : [];
  return [...own, ...Object.entries(value).flatMap(([k, v]) => (k === "error" ? [] : errorsIn(v, `${path}.${k}`)))];
}
after(() => out.cleanup());

test("bench --smoke prints the Markdown report and writes its JSON", { timeout: 120_000 }, async () => {
  const proc = spawn(process.execPath, ["--import", "tsx", join(ROOT, "bench", "run.ts"), "--smoke", "--out", out.path], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  proc.stdout.setEncoding("utf8").on("data", (d) => (stdout += d));
  proc.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
  const [code] = await once(proc, "close");
  assert.equal(code, 0, `bench --smoke exited with ${code}:\n${stderr.slice(-3000)}`);

  for (const heading of ["# Patchbay bench — smoke run", "## Server capacity", "### WebSocket capacity", "## Per-call latency", "## Memory and reloads"]) {
    assert.ok(stdout.includes(heading), `report lacks "${heading}":\n${stdout}`);
  }
  assert.match(stdout, /^\| system \| ok\/s \|/m, "capacity table header");
  assert.match(stdout, /^\|---\|/m, "a Markdown table");

  const files = readdirSync(out.path);
  const json = files.find((f) => f.endsWith("-smoke.json"));
  assert.ok(json, `no JSON written; files: ${files.join(", ")}`);
  assert.ok(files.some((f) => f.endsWith("-smoke.md")), "no .md written");
  const r = JSON.parse(readFileSync(join(out.path, json), "utf8"));

  assert.equal(r.mode, "smoke");
  for (const k of ["cpu", "cores", "memGiB", "node"]) assert.ok(k in r.machine, `machine.${k}`);
  assert.equal(typeof r.git.commit, "string");
  assert.ok(!Number.isNaN(Date.parse(r.date)), "date");
  assert.ok(Array.isArray(r.reduced) && r.reduced.length > 0, "a reduced run says what it reduced");
  assert.deepEqual(r.failures, [], "no section failed");
  // Each section catches a failing row and records it as `{ …, error }` so a long run goes
  // on; in the smoke run any such row anywhere means the harness is broken.
  assert.deepEqual(errorsIn(r), [], "rows that failed");
  assert.equal(typeof r.markdown, "string");

  const ids = (rows: { id: string }[]) => rows.map((x) => x.id).sort();
  assert.ok(Array.isArray(r.capacity?.http), `capacity section: ${JSON.stringify(r.failures)}`);
  assert.deepEqual(ids(r.capacity.http), ["patchbay-2025-session", "patchbay-2026-stateless", "raw-http"]);
  assert.deepEqual(ids(r.capacity.websocket), ["patchbay-ws"]);
  for (const row of [...r.capacity.http, ...r.capacity.websocket]) {
    // a row that failed carries `error` and no figures: that is the harness rotting, not a result
    assert.equal(row.error, undefined, `capacity row ${row.id} failed: ${row.error}`);
    assert.ok(["okPerSec", "p50", "p99", "errors", "timeouts", "non2xx", "rpcErrors"].every((k) => k in row), `capacity row ${row.id} has its figures`);
    assert.ok("vsSdkV1" in row && "vsRaw" in row, `capacity row ${row.id} has its ratios`);
  }
  assert.deepEqual(ids(r.latency.rows), ["patchbay-http", "sdk-v1-http"]);
  for (const row of r.latency.rows) assert.equal(row.error, undefined, `latency row ${row.id} failed: ${row.error}`);
  const pbHttp = r.latency.rows.find((x: { id: string }) => x.id === "patchbay-http");
  assert.ok("seqPerSec" in pbHttp && "conc16PerSec" in pbHttp && "sdk-v1-http" in pbHttp.ratios, "latency row with ratio");

  // the hop three ways, and a sequential stdio call taken apart per thread (Linux only)
  for (const way of ["atomicsWait", "spin"]) assert.equal(typeof r.latency.hopWays?.[way]?.p50, "number", `latency.hopWays.${way}`);
  if (process.platform === "linux") {
    assert.deepEqual(r.latency.threadCpu.map((x: { name: string }) => x.name), ["bare SDK v1 McpServer, stdio", "Patchbay stdio --standalone"]);
    for (const row of r.latency.threadCpu) for (const k of ["wallUs", "clientUs", "mainUs", "busiestOtherUs", "restUs"]) assert.ok(Number.isFinite(row[k]) && row[k] >= 0, `threadCpu ${row.name}.${k}`);
    // the standalone session runs in a child with the plugin's thread: a second busy thread
    assert.ok(r.latency.threadCpu[1].busiestOtherUs > 0, "the plugin's thread was found in the serving process");
    assert.ok(stdout.includes("### Where a sequential stdio call's time goes"), "the per-thread table is printed");
  }

  // first answer over stdio: every row measured once, each with the example plugins' tools found
  assert.ok(stdout.includes("## Time to the first answer over stdio"), "the first-answer table is printed");
  assert.deepEqual(r["first-answer"].map((row: { id: string }) => row.id), ["sdk-v1-stdio", "patchbay-stdio-standalone", "patchbay-stdio-attached-cold", "patchbay-stdio-attached-warm"]);
  for (const row of r["first-answer"]) {
    assert.equal(row.error, undefined, `${row.id}: ${row.error}`);
    assert.equal(row.runs.length, 1);
    assert.ok(row.runs[0].toolsListMs >= row.runs[0].initializeMs, row.id);
  }
  for (const k of ["baseline", "idle", "marginalPerPlugin", "sessions", "reloads", "listChanged", "toolsList"]) assert.ok(k in r.memory, `memory.${k}`);
  assert.equal(r.memory.baseline.error, undefined, `memory baseline failed: ${r.memory.baseline.error}`);
  assert.deepEqual(Object.keys(r.memory.idle).sort(), ["1", "2"]);

  // tool search over the committed catalogue: recall, listing tokens, search and rebuild times
  assert.ok(stdout.includes("## Tool search"), "the search section is printed");
  for (const k of ["recallAt1", "recallAt5"]) assert.ok(r.search?.[k] >= 0 && r.search[k] <= 1, `search.${k}: ${JSON.stringify(r.search ?? r.failures)}`);
  assert.ok(r.search.tokens.search < r.search.tokens.full, "the search listing is smaller than the full one");
  for (const k of ["search", "rebuild"]) assert.equal(typeof r.search.speed[k].p99, "number", `search.speed.${k}`);
});
