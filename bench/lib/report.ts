/** Formatting for the Markdown report, and what the JSON says about the machine and commit. */
import { execFileSync } from "node:child_process";
import { cpus, totalmem, release, platform, loadavg } from "node:os";
import { ROOT } from "./proc.ts";

export function machine() {
  const c = cpus();
  return {
    cpu: c[0]?.model ?? "unknown",
    cores: c.length,
    memGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    platform: `${platform()} ${release()}`,
    node: process.version,
    loadAvgAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

export function gitInfo() {
  const run = (args: string[]) => {
    try {
      return execFileSync("git", args, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    } catch {
      return "";
    }
  };
  const commit = run(["rev-parse", "HEAD"]) || "unknown";
  const dirty = run(["status", "--porcelain", "--untracked-files=no"]).length > 0;
  return { commit, short: commit.slice(0, 7), dirty };
}

/** 12345.6 → "12,346"; small numbers keep `digits` decimals. */
export function num(n: number | null | undefined, digits = 0): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function ms(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  return n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0);
}

export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null;
  return a / b;
}

export function x(r: number | null | undefined): string {
  if (r === null || r === undefined || !Number.isFinite(r)) return "–";
  return `${r < 10 ? r.toFixed(2) : r.toFixed(1)}×`;
}

export function mib(bytes: number | null | undefined, digits = 0): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return "–";
  return `${(bytes / 1024 / 1024).toFixed(digits)} MB`;
}

export function table(head: string[], rows: (string | number)[][]): string {
  const esc = (c: string | number) => String(c).replace(/\|/g, "\\|").replace(/\n/g, " ");
  return [`| ${head.map(esc).join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`)].join("\n");
}
