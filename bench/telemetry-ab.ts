/**
 * Telemetry overhead of several builds at once, for finding which change moved it:
 *
 *   npx tsx bench/telemetry-ab.ts [--rounds=8] [--seconds=6] [--warm=3] LABEL=CHECKOUT[@K=V,…] …
 *
 * Each CHECKOUT is a built Patchbay checkout (its dist/cli.js runs; older commits need their
 * own node_modules). Every build gets a telemetry-on and a telemetry-off daemon, all running
 * side by side; each round loads every build's pair once (builds and the on/off order
 * alternate between rounds), so the rows of a round share the machine's conditions, which on a
 * shared machine matters more than anything measured. K=V pairs go to that build's
 * telemetry-on daemon only (e.g. `main-all=../main@PATCHBAY_TRACES_PER_SECOND=0`).
 *
 * Per row: ok/s under the `telemetry` section's load (autocannon, 16 connections, a 2025
 * session calling the echo tool) and the daemon's CPU time per answered call (all its
 * threads, /proc/PID/stat). Reported per build: the median of the pairs' on ÷ off ratios
 * (the section's figure) and of their CPU-per-call ratios. Report to stdout, progress to stderr.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { httpLoad, initializeSession, legacyCall, type HttpShape } from "./lib/load.ts";
import { ECHO_PLUGIN, PATCHBAY_ECHO } from "./lib/plugins.ts";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { rounds: { type: "string", default: "8" }, seconds: { type: "string", default: "6" }, warm: { type: "string", default: "3" } } });
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const warm = Number(values.warm);
const builds = positionals.map((a) => {
  const i = a.indexOf("=");
  if (i < 1) throw new Error(`expected LABEL=CHECKOUT[@K=V,…], got "${a}"`);
  const [root, envs] = a.slice(i + 1).split("@");
  return { label: a.slice(0, i), root, env: Object.fromEntries((envs ? envs.split(",") : []).map((kv) => kv.split("="))) as Record<string, string> };
});

const plugins = mkdtempSync(join(tmpdir(), "patchbay-ab-plugins-"));
writeFileSync(join(plugins, "bench.ts"), ECHO_PLUGIN);
const procs: ChildProcess[] = [];
const temps: string[] = [plugins];

interface Daemon {
  pid: number;
  shape: HttpShape;
}

async function start(root: string, on: boolean, env: Record<string, string>): Promise<Daemon> {
  const home = mkdtempSync(join(tmpdir(), "patchbay-ab-home-"));
  temps.push(home);
  const p = spawn(process.execPath, [join(root, "dist/cli.js"), "start", "--port", "0", "--plugins", plugins], {
    cwd: root,
    env: { ...process.env, PATCHBAY_HOME: home, PATCHBAY_LOG_LEVEL: "warn", PATCHBAY_TELEMETRY: on ? "true" : "false", ...(on ? env : {}) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  procs.push(p);
  let out = "";
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d;
      const m = /MCP \(HTTP\):\s+(http:\/\/\S+)\/mcp/.exec(out);
      if (m) resolve(m[1]);
    };
    p.stdout!.on("data", onData);
    p.stderr!.on("data", onData);
    p.once("exit", (code) => reject(new Error(`${root}: exited with ${code} before listening: ${out.slice(-1000)}`)));
  });
  for (let i = 0; i < 600; i++) {
    const h = (await (await fetch(`${url}/healthz`)).json().catch(() => ({}))) as { counts?: { loaded?: number } };
    if ((h.counts?.loaded ?? 0) >= 1) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { pid: p.pid!, shape: legacyCall(`${url}/mcp`, PATCHBAY_ECHO, await initializeSession(`${url}/mcp`)) };
}

/** utime + stime of every thread of the process, in clock ticks (100 a second on Linux). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pct = (r: number) => `${((1 - r) * 100).toFixed(1)} %`;

try {
  const ds: { label: string; on: Daemon; off: Daemon; okOn: number[]; okOff: number[]; ratios: number[]; cpuRatios: number[]; cpuOn: number[]; cpuOff: number[] }[] = [];
  for (const b of builds) ds.push({ label: b.label, on: await start(b.root, true, b.env), off: await start(b.root, false, {}), okOn: [], okOff: [], ratios: [], cpuRatios: [], cpuOn: [], cpuOff: [] });
  for (const d of ds) for (const s of [d.on, d.off]) await httpLoad(s.shape, { seconds: warm });
  for (let r = 0; r < rounds; r++) {
    for (const d of r % 2 ? [...ds].reverse() : ds) {
      const ok: Record<string, number> = {};
      const cpu: Record<string, number> = {};
      for (const t of (r + ds.indexOf(d)) % 2 === 0 ? (["on", "off"] as const) : (["off", "on"] as const)) {
        const c0 = cpuTicks(d[t].pid);
        const x = await httpLoad(d[t].shape, { seconds });
        if (x.errors || x.non2xx || x.rpcErrors) process.stderr.write(`${d.label} ${t}: ${x.errors} errors, ${x.non2xx} non-2xx, ${x.rpcErrors} JSON-RPC errors ${x.sample ?? ""}\n`);
        ok[t] = x.okPerSec;
        cpu[t] = ((cpuTicks(d[t].pid) - c0) * 10_000) / x.ok;
      }
      d.okOn.push(ok.on);
      d.okOff.push(ok.off);
      d.ratios.push(ok.on / ok.off);
      d.cpuOn.push(cpu.on);
      d.cpuOff.push(cpu.off);
      d.cpuRatios.push(cpu.off / cpu.on);
      process.stderr.write(`round ${r + 1} ${d.label}: on ${ok.on.toFixed(0)} off ${ok.off.toFixed(0)} ok/s (overhead ${pct(ok.on / ok.off)}), CPU per call on ${cpu.on.toFixed(1)} off ${cpu.off.toFixed(1)} µs, load ${loadavg()[0].toFixed(2)}\n`);
    }
  }
  console.log(`# Telemetry A/B — ${new Date().toISOString()}\n`);
  console.log(`${rounds} rounds × ${seconds} s rows per daemon, builds interleaved; load average (1 min) at the end ${loadavg()[0].toFixed(2)}.\n`);
  console.log("| build | on ok/s (median) | off ok/s (median) | overhead, median of pairs | pairs | daemon CPU µs/call on / off (medians) | CPU overhead, median of pairs |");
  console.log("|---|---|---|---|---|---|---|");
  for (const d of ds) console.log(`| ${d.label} | ${median(d.okOn).toFixed(0)} | ${median(d.okOff).toFixed(0)} | ${pct(median(d.ratios))} | ${d.ratios.map(pct).join(", ")} | ${median(d.cpuOn).toFixed(1)} / ${median(d.cpuOff).toFixed(1)} | ${pct(median(d.cpuRatios))} |`);
} finally {
  for (const p of procs) p.kill("SIGTERM");
  await Promise.all(procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once("exit", r)) : undefined)));
  for (const t of temps) rmSync(t, { recursive: true, force: true });
}
