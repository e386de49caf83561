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

/**
 * How each bare-SDK baseline server is written (bench/baseline-server.ts), quoted in every
 * report and its JSON: a ratio means little without saying what it is against.
 */
export const BASELINE_PATTERNS: Record<string, string> = {
  "sdk-v1-http":
    "SDK v1 (`@modelcontextprotocol/sdk`), as its examples write it: `createMcpExpressApp()` (express, localhost Host check, `express.json()`), one `StreamableHTTPServerTransport` per session, `transport.handleRequest(req, res, req.body)` with the parsed body",
  "sdk-v1-http-node":
    "SDK v1, the same sessions on plain node:http with the body read and `JSON.parse`d by the server and passed as `handleRequest(req, res, parsed)` (the parsed-body pattern without express's middleware; capacity only)",
  "sdk-v1-http-unparsed":
    "v1, unparsed body (old baseline, before issue 20): the same v1 server on plain node:http calling `transport.handleRequest(req, res)`, so the SDK reads and parses the body through its web-standard bridge",
  "sdk-v2-http":
    "SDK v2 (`@modelcontextprotocol/server` + `/node`), as the node adapter's README recommends behind a body parser: `toNodeHandler(createMcpHandler(factory))` called as `handler(req, res, req.body)` after `express.json()`",
  "sdk-v2-http-unparsed":
    "v2, unparsed body (capacity only): `toNodeHandler(createMcpHandler(factory))` on plain node:http called as `handler(req, res)`, the adapter reading the stream itself; kept beside the parsed-body row because on a busy machine neither was clearly faster",
  "sdk-v1-stdio": "SDK v1 `McpServer` over `StdioServerTransport`",
  "sdk-v2-stdio": "SDK v2 `McpServer` through `serveStdio`",
};
