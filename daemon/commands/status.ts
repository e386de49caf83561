/** `patchbay status`: is a daemon running, where, which plugins, which sessions. */
import type { Config } from "../config.ts";
import { readState } from "../state-file.ts";
import { homeLockOwner, homeLockPath } from "../home-lock.ts";
import { VERSION } from "../version.ts";

export async function runStatus(config: Config, opts: { json: boolean }): Promise<number> {
  // a state file counts only if its port answers with its pid (a reused pid proves nothing)
  const state = await readState(config.home);
  if (!state) {
    // a daemon that holds the home but does not listen yet (home-lock.ts) is not "none"
    const starting = homeLockOwner(config.home);
    if (starting && starting.pid > 0) {
      process.stdout.write(opts.json ? JSON.stringify({ running: false, starting: { pid: starting.pid, since: starting.since } }) + "\n" : `A patchbay daemon is starting (pid ${starting.pid}, holding ${homeLockPath(config.home)}) and does not answer yet.\n`);
      return 1;
    }
    process.stdout.write(opts.json ? JSON.stringify({ running: false }) + "\n" : `No patchbay daemon is running (home ${config.home}).\nStart one with \`patchbay start\`.\n`);
    return 1;
  }
  let health: any;
  try {
    const res = await fetch(`${state.url}/healthz`, { headers: state.token ? { authorization: `Bearer ${state.token}` } : {}, signal: AbortSignal.timeout(3_000) });
    health = await res.json();
  } catch (err) {
    process.stdout.write(`A daemon is recorded (pid ${state.pid}, ${state.url}) but does not answer: ${(err as Error).message}\n`);
    return 1;
  }
  if (opts.json) {
    process.stdout.write(JSON.stringify({ running: true, ...state, token: undefined, bridgeKey: undefined, health }, null, 2) + "\n");
    return 0;
  }
  const out: string[] = [];
  out.push(`Patchbay ${health.version} running (pid ${state.pid}) at ${state.url} since ${state.startedAt}`);
  if (health.version !== VERSION) out.push(`  this patchbay is ${VERSION}: the daemon runs ${health.version} until it is restarted (kill ${state.pid}, then start it again)`);
  const folder = health.pluginsFolder;
  out.push(`Plugins folder: ${state.pluginsDir}${folder && folder.state !== "ok" ? `  ${String(folder.state).toUpperCase()} since ${folder.since}: ${folder.reason}` : ""}`);
  if (health.status && health.status !== "ok") out.push(`Status: ${health.status}${health.reason ? ` — ${health.reason}` : ""}`);
  out.push(`Plugins (${health.plugins?.length ?? 0}${health.counts?.loading ? `, ${health.counts.loading} still loading` : ""}):`);
  for (const p of health.plugins ?? []) {
    const thread = p.workerGroup ? ` · worker group ${p.workerGroup}` : p.worker === "parked" ? " · parked" : "";
    const mark = p.status === "loaded" ? "✓" : p.status === "loading" ? "…" : "✗";
    out.push(`  ${mark} ${p.name.padEnd(20)} ${p.status.padEnd(8)} v${p.version}${thread}${p.lastError ? `  ${p.status === "skipped" ? "" : "error: "}${p.lastError.message.split("\n")[0]}` : ""}`);
  }
  out.push(`Tools: ${health.counts?.tools}  Resources: ${health.counts?.resources}  Resource templates: ${health.counts?.resourceTemplates}  Prompts: ${health.counts?.prompts}`);
  const sessions = health.sessions ?? { open: 0, byTransport: {} };
  out.push(`Sessions: ${sessions.open}${Object.keys(sessions.byTransport).length ? " (" + Object.entries(sessions.byTransport).map(([k, v]) => `${k}: ${v}`).join(", ") + ")" : ""}`);
  for (const s of sessions.list ?? []) out.push(`  ${(s.bridged ? "stdio (bridge)" : s.transport).padEnd(16)} ${(s.clientName ?? "(not initialized)").padEnd(28)} ${s.calls} calls, ${s.errors} errors`);
  const ctx = health.context;
  if (ctx) {
    const k = (n: number) => (n >= 10_000 ? `${Math.round(n / 1000)}k` : n.toLocaleString("en-US"));
    out.push(`Context cost (estimated tokens, ${ctx.encoding}${ctx.exact ? "" : ", counting"}): tools ${k(ctx.totals.toolTokens)}, prompts ${k(ctx.totals.promptTokens)}, resource templates ${k(ctx.totals.templateTokens)}`);
    for (const v of ctx.views ?? []) {
      const how = v.effective === "search" ? `search${v.expose === "auto" ? " (auto: over " + k(v.threshold) + ")" : ""}: ${k(v.searchTokens)} listed instead of ${k(v.allTokens)}` : `all${v.expose === "auto" ? " (auto: under " + k(v.threshold) + ")" : ""}: ${k(v.allTokens)}`;
      out.push(`  ${String(v.view).padEnd(20)} ${String(v.tools).padStart(4)} tools  ${how}`);
    }
    const top = (ctx.plugins ?? []).slice(0, 5).map((p: { plugin: string; tokens: number }) => `${p.plugin} ${k(p.tokens)}`);
    if (top.length) out.push(`  most expensive plugins: ${top.join(", ")}`);
  }
  for (const c of health.conflicts ?? []) out.push(`Conflict: ${c}`);
  process.stdout.write(out.join("\n") + "\n");
  return 0;
}
