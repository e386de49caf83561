/**
 * `patchbay doctor`: checks what usually goes wrong when a server does not appear in Claude
 * Desktop, and prints each check with a fix.
 */
import { existsSync, readFileSync, accessSync, constants, rmSync } from "node:fs";
import { createServer } from "node:net";
import { delimiter, isAbsolute, join, relative, resolve, sep } from "node:path";
import type { Config } from "../config.ts";
import { claudeConfigPath, ENTRY_NAME } from "./claude-config.ts";
import { isDaemonAlive, readStateFile } from "../state-file.ts";
import { compilePlugin } from "../plugins/host/compiler.ts";
import { notRegularFile, scanPluginEntries } from "../plugins/host/plugin-files.ts";
import { pluginNameFromPath } from "../plugins/naming.ts";
import { messageOf } from "../errors.ts";
import { expansionEnv, isUpstreamFile, parseUpstreamConfig, readDotEnv } from "../plugins/upstream/upstream-config.ts";
import { UpstreamServer } from "../plugins/upstream/upstream-server.ts";
import { pino } from "pino";
import { tmpdir } from "node:os";

interface Check {
  name: string;
  ok: boolean | "warn";
  detail: string;
  fix?: string;
}

function onPath(command: string): string | undefined {
  if (isAbsolute(command)) return existsSync(command) ? command : undefined;
  const exts = process.platform === "win32" ? (process.env.PATHEXT ?? ".EXE;.CMD").split(";") : [""];
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    for (const ext of exts) {
      const p = join(dir, command + ext);
      try {
        accessSync(p, constants.X_OK);
        return p;
      } catch {
        // keep looking
      }
    }
  }
  return undefined;
}

function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
}

/** How long doctor gives each upstream server to start and answer tools/list. */
export const DOCTOR_UPSTREAM_TIMEOUT_MS = 15_000;

/**
 * A `NAME.mcp.json`: valid, (stdio) its command is on PATH or an existing path, and the
 * server starts (or, for a url, is reachable) and answers tools/list in time. It is
 * started as the daemon would start it (same launcher, same ${VAR} expansion with
 * $PATCHBAY_HOME/.env), then stopped.
 */
async function upstreamCheck(file: string, label: string, home: string): Promise<Check> {
  const name = `upstream ${label}`;
  let cfg;
  try {
    cfg = parseUpstreamConfig(file, readFileSync(file, "utf8"));
  } catch (err) {
    return { name, ok: false, detail: messageOf(err), fix: 'make it { "command", "args"?, "env"?, "cwd"? } or { "url", "headers"? } (see its error above)' };
  }
  let where: string;
  if ("url" in cfg) where = cfg.url;
  else {
    const hasSlash = /[\\/]/.test(cfg.command);
    const found = hasSlash && !isAbsolute(cfg.command) ? (existsSync(resolve(cfg.cwd ?? process.cwd(), cfg.command)) ? resolve(cfg.cwd ?? process.cwd(), cfg.command) : undefined) : onPath(cfg.command);
    if (!found) return { name, ok: false, detail: isAbsolute(cfg.command) ? `"${cfg.command}" does not exist` : `"${cfg.command}" is not on PATH`, fix: `install it, or put its absolute path in "command" of ${file}` };
    where = `${cfg.command} → ${found}`;
  }
  // the server's stderr, for the report when it fails
  const lines: string[] = [];
  const logger = pino({ level: "warn" }, { write: (s: string) => void lines.push(s) });
  const server = new UpstreamServer({ file, name: label.replace(/\.mcp\.json$/, ""), config: cfg, env: expansionEnv(process.env, readDotEnv(join(home, ".env"))), callTimeoutMs: DOCTOR_UPSTREAM_TIMEOUT_MS, connectTimeoutMs: DOCTOR_UPSTREAM_TIMEOUT_MS, logger });
  let timer: NodeJS.Timeout | undefined;
  try {
    const manifest = await Promise.race([
      server.start(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${DOCTOR_UPSTREAM_TIMEOUT_MS / 1000} s`)), DOCTOR_UPSTREAM_TIMEOUT_MS + 1_000))),
    ]);
    const n = manifest.tools.length;
    return { name, ok: true, detail: `${where}; answers tools/list: ${n} tool${n === 1 ? "" : "s"}` };
  } catch (err) {
    const last = lines.map((l) => (JSON.parse(l) as { msg?: string }).msg).filter(Boolean).slice(-1)[0];
    return { name, ok: false, detail: `${where}; does not answer tools/list: ${messageOf(err).replace(`${file}: `, "")}${last ? ` (its stderr: ${last})` : ""}`, fix: "run its command by hand to see why, or check the url and headers" };
  } finally {
    clearTimeout(timer);
    await server.stop(0).catch(() => undefined);
  }
}

export async function doctorChecks(config: Config, claudeFile = claudeConfigPath()): Promise<Check[]> {
  const checks: Check[] = [];
  // 1. Claude Desktop config syntax and entry
  let entry: { command?: string; args?: string[] } | undefined;
  if (!existsSync(claudeFile)) {
    checks.push({ name: "Claude Desktop config", ok: "warn", detail: `${claudeFile} does not exist`, fix: "run `patchbay claude-config --write`" });
  } else {
    try {
      const cfg = JSON.parse(readFileSync(claudeFile, "utf8"));
      entry = cfg?.mcpServers?.[ENTRY_NAME];
      checks.push({ name: "Claude Desktop config", ok: true, detail: `${claudeFile} is valid JSON` });
      checks.push(entry ? { name: "patchbay entry", ok: true, detail: `mcpServers.${ENTRY_NAME}: ${entry.command} ${(entry.args ?? []).join(" ")}` } : { name: "patchbay entry", ok: false, detail: `no mcpServers.${ENTRY_NAME} entry`, fix: "run `patchbay claude-config --write`" });
    } catch (err) {
      checks.push({ name: "Claude Desktop config", ok: false, detail: `${claudeFile} is not valid JSON: ${messageOf(err)}`, fix: "fix the JSON syntax (a trailing comma is the usual culprit), then restart Claude Desktop" });
    }
  }
  // 2. the entry's command is resolvable
  if (entry?.command) {
    const found = onPath(entry.command);
    checks.push(found ? { name: "entry command", ok: true, detail: `${entry.command} → ${found}` } : { name: "entry command", ok: false, detail: `"${entry.command}" is not on PATH`, fix: "use an absolute path to node/npx in the entry (Claude Desktop does not read your shell profile)" });
  }
  // 3. daemon reachable; 4. port free or ours
  const recorded = readStateFile(config.home);
  const state = recorded && (await isDaemonAlive(recorded)) ? recorded : undefined;
  if (state) {
    try {
      const res = await fetch(`${state.url}/healthz`, { signal: AbortSignal.timeout(3_000) });
      checks.push({ name: "daemon", ok: res.ok, detail: `pid ${state.pid} at ${state.url} answers ${res.status}`, fix: res.ok ? undefined : "restart it: stop the pid and run `patchbay start`" });
    } catch (err) {
      checks.push({ name: "daemon", ok: false, detail: `pid ${state.pid} recorded at ${state.url} does not answer: ${messageOf(err)}`, fix: "kill that pid and run `patchbay start`" });
    }
    checks.push({ name: "port", ok: true, detail: `${state.port} is used by our daemon` });
  } else {
    checks.push({ name: "daemon", ok: "warn", detail: recorded ? `no daemon running (the state file names pid ${recorded.pid} at ${recorded.url}, which does not answer as that daemon: stale, ignored)` : "no daemon running", fix: "`patchbay stdio` starts one on demand, or run `patchbay start`" });
    const free = config.port === 0 || (await portFree(config.port, config.host));
    checks.push(free ? { name: "port", ok: true, detail: `${config.host}:${config.port} is free` } : { name: "port", ok: false, detail: `${config.host}:${config.port} is taken by another program`, fix: "set another port with --port or PATCHBAY_PORT (or `port` in the config file)" });
  }
  // 5. every plugin compiles
  if (!existsSync(config.pluginsDir)) {
    checks.push({ name: "plugins folder", ok: false, detail: `${config.pluginsDir} does not exist`, fix: "create it, or point --plugins at your folder" });
  } else {
    const cache = join(tmpdir(), `patchbay-doctor-${process.pid}`);
    for (const entryFile of scanPluginEntries(config.pluginsDir)) {
      const rel = relative(config.pluginsDir, entryFile);
      const label = rel.split(sep)[0];
      // a FIFO named like a plugin would block the read for ever
      const irregular = await notRegularFile(entryFile);
      if (irregular) {
        checks.push({ name: `plugin ${label}`, ok: "warn", detail: irregular, fix: "remove it, or give it a name that is not a plugin's; the daemon skips it" });
        continue;
      }
      if (isUpstreamFile(entryFile)) {
        checks.push(await upstreamCheck(entryFile, label, config.home));
        continue;
      }
      try {
        await compilePlugin(entryFile, cache, pluginNameFromPath(rel));
        checks.push({ name: `plugin ${label}`, ok: true, detail: "compiles" });
      } catch (err) {
        checks.push({ name: `plugin ${label}`, ok: false, detail: messageOf(err), fix: "fix the error at that file:line; the daemon keeps the last good version meanwhile" });
      }
    }
    rmSync(cache, { recursive: true, force: true });
  }
  return checks;
}

export async function runDoctor(config: Config): Promise<number> {
  const checks = await doctorChecks(config);
  for (const c of checks) {
    const mark = c.ok === true ? "✓" : c.ok === "warn" ? "!" : "✗";
    process.stdout.write(`${mark} ${c.name}: ${c.detail}\n${c.fix && c.ok !== true ? `    fix: ${c.fix}\n` : ""}`);
  }
  const failed = checks.filter((c) => c.ok === false).length;
  const warned = checks.filter((c) => c.ok === "warn").length;
  const warnings = warned ? `${warned} warning${warned > 1 ? "s" : ""} (!)` : "";
  process.stdout.write(failed ? `\n${failed} problem${failed > 1 ? "s" : ""} found${warned ? `, and ${warnings}` : ""}.\n` : warned ? `\nNo problems found; ${warnings} above.\n` : "\nAll checks passed.\n");
  return failed ? 1 : 0;
}
