/**
 * `NAME.mcp.json`: one upstream MCP server, in the shape of a Claude Desktop entry —
 * `{ command, args?, env?, cwd? }` (stdio) or `{ url, headers? }` (Streamable HTTP, falling
 * back to SSE). `${VAR}` in args, env and headers expands from the daemon's environment,
 * then `$PATCHBAY_HOME/.env` (the daemon's environment wins, as with dotenv: what a user
 * sets for one run overrides the file); expanded values are handed to the transport only,
 * never logged or reported.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { PluginLoadError } from "../../errors.ts";

const stdioShape = z.strictObject({
  command: z.string().min(1),
  args: z.array(z.string()).optional(),
  env: z.record(z.string(), z.string()).optional(),
  cwd: z.string().optional(),
});
const urlShape = z.strictObject({
  url: z.string().url(),
  headers: z.record(z.string(), z.string()).optional(),
});
const shape = z.union([stdioShape, urlShape]);

export type StdioUpstreamConfig = z.infer<typeof stdioShape>;
export type UrlUpstreamConfig = z.infer<typeof urlShape>;
export type UpstreamConfig = StdioUpstreamConfig | UrlUpstreamConfig;

export const UPSTREAM_SUFFIX = ".mcp.json";

export function isUpstreamFile(path: string): boolean {
  return path.endsWith(UPSTREAM_SUFFIX);
}

/** Parses the file's text; a PluginLoadError with the line and column of a syntax error, or the field at fault. */
export function parseUpstreamConfig(file: string, text: string): UpstreamConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    const pos = /position (\d+)/.exec(msg);
    let line = 1;
    let column = 1;
    if (pos) {
      const before = text.slice(0, Number(pos[1]));
      line = before.split("\n").length;
      column = before.length - before.lastIndexOf("\n");
    }
    throw new PluginLoadError(`${file}:${line}:${column}: invalid JSON: ${msg}`, { file, line, column });
  }
  const parsed = shape.safeParse(raw);
  if (!parsed.success) {
    const hasCommand = raw && typeof raw === "object" && "command" in raw;
    const hasUrl = raw && typeof raw === "object" && "url" in raw;
    const detail = hasCommand ? stdioShape.safeParse(raw) : hasUrl ? urlShape.safeParse(raw) : undefined;
    const issues = detail && !detail.success ? detail.error.issues : parsed.error.issues;
    const text = hasCommand || hasUrl ? issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`).join("; ") : `needs "command" (a stdio server) or "url" (a remote server)`;
    throw new PluginLoadError(`${file}: ${text}`, { file, line: 1 });
  }
  return parsed.data;
}

/** Replaces `${VAR}` from `env`; an unset variable is an error naming it (never a value). */
export function expandVars(value: string, env: NodeJS.ProcessEnv, where: string, file: string): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
    const v = env[name];
    if (v === undefined) throw new PluginLoadError(`${file}: ${where} uses \${${name}}, which is set neither in the daemon's environment nor in $PATCHBAY_HOME/.env`, { file, line: 1 });
    return v;
  });
}

export function expandRecord(rec: Record<string, string> | undefined, env: NodeJS.ProcessEnv, field: string, file: string): Record<string, string> | undefined {
  if (!rec) return undefined;
  return Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, expandVars(v, env, `${field}.${k}`, file)]));
}

/**
 * `KEY=value` lines of a `.env` file (`#` comments, optional `export `, single or double
 * quotes; `\n` in double quotes is a newline). A missing file is empty; an unreadable or
 * malformed line is skipped, since the file's values must never reach a log.
 */
export function readDotEnv(file: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return {};
  }
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(raw);
    if (!m) continue;
    let v = m[2];
    if (v.length >= 2 && v[0] === '"' && v.endsWith('"')) v = v.slice(1, -1).replace(/\\n/g, "\n").replace(/\\"/g, '"');
    else if (v.length >= 2 && v[0] === "'" && v.endsWith("'")) v = v.slice(1, -1);
    else v = v.replace(/\s+#.*$/, "");
    out[m[1]] = v;
  }
  return out;
}

/** What `${VAR}` expands from: `.env` values under the daemon's environment. */
export function expansionEnv(processEnv: NodeJS.ProcessEnv, dotEnv: Record<string, string>): NodeJS.ProcessEnv {
  return { ...dotEnv, ...processEnv };
}
