/**
 * The `search` section: how well `patchbay__search_tools` finds the right tool, and what it
 * costs. Reads the committed catalogue of real MCP servers' tools
 * (bench/search-eval/catalogue.json, see collect.ts there) and the labelled tasks
 * (tasks.json); needs no network.
 *
 *  quality   a real daemon whose plugins folder holds one generated code plugin per catalogue
 *            server (the server's own tool names and JSON schemas, no-op handlers), with
 *            `expose: "search"`; every task is sent to `patchbay__search_tools` over Streamable
 *            HTTP with the SDK client. A task counts at k when any of its labelled tools is
 *            among the first k answers (recall@1, recall@5).
 *  tokens    the full and the search-mode listing of that daemon, from /healthz `context`.
 *  speed     in this process: `searchTools` over a map of 1,000 tools (the catalogue
 *            repeated under new plugin names); `indexOf` for a new version in which one
 *            plugin's tools changed (a reload), and in which every tool did (a full build).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ExposedTool } from "../../daemon/registry.ts";
import { indexOf, searchTools } from "../../daemon/context/tool-search.ts";
import type { Catalogue, CatalogueServer } from "../search-eval/collect.ts";
import { ROOT, startPatchbay, waitFor, waitLoaded, type Patchbay, type Temp } from "./proc.ts";
import { httpClient } from "./sdk.ts";
import { summarize } from "./load.ts";
import { num, table } from "./report.ts";

const DATA = join(ROOT, "bench", "search-eval");
const SEP = "__";

export interface Task {
  task: string;
  /** exposed names (`<server>__<tool>`); any one of them found counts */
  tools: string[];
}

export interface SearchEvalOptions {
  smoke: boolean;
  progress: (s: string) => void;
  emit: (s?: string) => void;
  temp: (prefix: string) => Temp;
  using: <T extends { stop(): Promise<void> }, R>(start: Promise<T>, fn: (s: T) => Promise<R>) => Promise<R>;
}

export function loadCatalogue(): Catalogue {
  return JSON.parse(readFileSync(join(DATA, "catalogue.json"), "utf8")) as Catalogue;
}

export function loadTasks(): Task[] {
  return JSON.parse(readFileSync(join(DATA, "tasks.json"), "utf8")) as Task[];
}

/** A code plugin declaring exactly one catalogue server's tools; every handler answers "ok". */
export function cataloguePlugin(s: CatalogueServer): string {
  const tools = s.tools.map((t) => ({ name: t.name, title: t.title, description: t.description, input: t.inputSchema, output: t.outputSchema, annotations: t.annotations }));
  return `import { definePlugin } from "mcp-patchbay";
const TOOLS = ${JSON.stringify(tools)};
export default definePlugin({
  name: ${JSON.stringify(s.name)},
  version: "1.0.0",
  tools: Object.fromEntries(
    TOOLS.map(({ name, ...t }) => [name, { ...Object.fromEntries(Object.entries(t).filter(([, v]) => v !== undefined && v !== null)), handler: () => "ok" }]),
  ),
});
`;
}

function exposed(server: string, tool: string) {
  return `${server}${SEP}${tool}`;
}

/**
 * ExposedTool-like entries for the in-process figures: what `searchTools` reads of a
 * registered tool (its exposed name, definition, and plugin manifest), nothing else.
 */
function toolMap(servers: CatalogueServer[], size: number): Map<string, ExposedTool> {
  const map = new Map<string, ExposedTool>();
  for (let c = 0; map.size < size; c++)
    for (const s of servers) {
      const name = c === 0 ? s.name : `${s.name}_${c + 1}`;
      const plugin = { manifest: { name, version: "1.0.0", description: s.description } } as unknown as ExposedTool["plugin"];
      for (const t of s.tools) if (map.size < size) map.set(exposed(name, t.name), { exposed: exposed(name, t.name), plugin, info: { ...t } } as unknown as ExposedTool);
    }
  return map;
}

interface Miss {
  task: string;
  want: string[];
  got: string[];
  /** 1-based rank of the first labelled tool in the first 20, if any */
  rankIn20?: number;
}

type Summary = ReturnType<typeof summarize>;

export interface SearchEvalResult {
  catalogue: { collected: string; servers: { name: string; package: string; version: string; tools: number }[]; tools: number };
  /** tools the daemon registered, and plugins that failed to load */
  tools?: number;
  loadErrors?: number;
  /** the search-mode tools/list */
  listed: string[];
  tasks: number;
  recallAt1: number;
  recallAt5: number;
  misses: Miss[];
  overMcp: Summary;
  tokens: { full: number; search: number; ratio: number };
  speed: { tools: number; searches: number; rebuilds: number; search: Summary; searchCpu: Summary; rebuild: Summary; rebuildCpu: Summary; reload: Summary & { plugin: string; tools: number; cpu: Summary } };
  goals: { recallAt5: number; searchListingShare: number; searchP99Ms: number; rebuildP99Ms: number };
}

interface ViewCost {
  view: string;
  tools: number;
  allTokens: number;
  searchTokens: number;
}

/** The tasks the smoke run keeps: those whose every label is on its few servers. */
const SMOKE_SERVERS = ["filesystem", "memory", "github"];

export async function searchEval(o: SearchEvalOptions): Promise<SearchEvalResult> {
  const catalogue = loadCatalogue();
  const servers = o.smoke ? catalogue.servers.filter((s) => SMOKE_SERVERS.includes(s.name)) : catalogue.servers;
  const known = new Set(servers.flatMap((s) => s.tools.map((t) => exposed(s.name, t.name))));
  const allTasks = loadTasks();
  const allKnown = new Set(catalogue.servers.flatMap((s) => s.tools.map((t) => exposed(s.name, t.name))));
  const badLabels = allTasks.flatMap((t) => t.tools.filter((n) => !allKnown.has(n)));
  if (badLabels.length) throw new Error(`tasks.json names tools not in the catalogue: ${badLabels.join(", ")}`);
  const tasks = allTasks.filter((t) => t.tools.every((n) => known.has(n)));
  const toolCount = servers.reduce((n, s) => n + s.tools.length, 0);

  // ---- quality and tokens, through a real daemon
  const dir = o.temp("patchbay-bench-search-");
  for (const s of servers) writeFileSync(dir.join(`${s.name}.ts`), cataloguePlugin(s));
  o.progress(`search: ${servers.length} catalogue plugins, ${toolCount} tools, ${tasks.length} tasks`);
  const quality = await o.using(startPatchbay(dir.path, { PATCHBAY_EXPOSE: "search" }), async (d: Patchbay) => {
    await waitLoaded(d, servers.length);
    const health = await waitFor(
      "exact token counts",
      async () => {
        const h = (await (await fetch(`${d.url}/healthz`)).json()) as { counts?: { tools?: number; errors?: number }; context?: { exact: boolean; views: ViewCost[] } };
        return h.context?.exact ? h : undefined;
      },
      60_000,
      100,
    );
    const c = await httpClient(`${d.url}/mcp`);
    try {
      const listed = (await c.client.listTools()).tools.map((t) => t.name);
      let at1 = 0;
      let at5 = 0;
      const misses: Miss[] = [];
      const lat: number[] = [];
      for (const t of tasks) {
        const s = performance.now();
        const r = await c.client.callTool({ name: `patchbay${SEP}search_tools`, arguments: { query: t.task, limit: 20 } });
        lat.push(performance.now() - s);
        if (r.isError) throw new Error(`search_tools answered an error for "${t.task}": ${JSON.stringify(r.content).slice(0, 300)}`);
        const got = ((r.structuredContent as { tools?: { name: string }[] } | undefined)?.tools ?? []).map((x) => x.name);
        const want = new Set(t.tools);
        const rank = got.findIndex((n) => want.has(n));
        if (rank === 0) at1++;
        if (rank >= 0 && rank < 5) at5++;
        else misses.push({ task: t.task, want: t.tools, got: got.slice(0, 5), ...(rank >= 0 ? { rankIn20: rank + 1 } : {}) });
      }
      const view = health.context!.views.find((v) => v.view === "default") ?? health.context!.views[0];
      return {
        tools: health.counts?.tools,
        loadErrors: health.counts?.errors,
        listed,
        tasks: tasks.length,
        recallAt1: at1 / tasks.length,
        recallAt5: at5 / tasks.length,
        misses,
        overMcp: summarize(lat),
        tokens: { full: view.allTokens, search: view.searchTokens, ratio: view.searchTokens / view.allTokens },
      };
    } finally {
      await c.close().catch(() => undefined);
    }
  });

  // ---- speed at 1,000 tools, in this process
  const big = toolMap(catalogue.servers, 1000);
  const queries = allTasks.map((t) => t.task);
  const searches = o.smoke ? 50 : 5000;
  const rebuilds = o.smoke ? 5 : 200;
  o.progress(`search: ${searches} searches and ${rebuilds} index builds over ${big.size} tools, in-process`);
  for (let i = 0; i < Math.min(200, searches); i++) searchTools(big, queries[i % queries.length], 5);
  // wall time, and this process's CPU time: on a busy machine the wall p99 is mostly waiting for a core
  const searchMs: number[] = [];
  const searchCpuMs: number[] = [];
  for (let i = 0; i < searches; i++) {
    const q = queries[i % queries.length];
    const c = process.cpuUsage();
    const s = performance.now();
    searchTools(big, q, 5);
    searchMs.push(performance.now() - s);
    const cpu = process.cpuUsage(c);
    searchCpuMs.push((cpu.user + cpu.system) / 1000);
  }
  // A full build: every definition a new object, as after a restart or a change to most plugins.
  const rebuildMs: number[] = [];
  const rebuildCpuMs: number[] = [];
  for (let i = 0; i < rebuilds; i++) {
    const fresh = new Map([...big].map(([k, t]) => [k, { ...t, info: { ...t.info } }]));
    const c = process.cpuUsage();
    const s = performance.now();
    indexOf(fresh);
    rebuildMs.push(performance.now() - s);
    const cpu = process.cpuUsage(c);
    rebuildCpuMs.push((cpu.user + cpu.system) / 1000);
  }
  // A reload: one plugin's tools (the catalogue's largest server) have new definitions; the
  // registry keeps every other plugin's objects, so the latest index is updated for that one.
  const largest = [...catalogue.servers].sort((a, b) => b.tools.length - a.tools.length)[0].name;
  let current = new Map(big);
  indexOf(current);
  const reloadMs: number[] = [];
  const reloadCpuMs: number[] = [];
  for (let i = 0; i < rebuilds; i++) {
    const next = new Map([...current].map(([k, t]) => [k, k.startsWith(`${largest}${SEP}`) ? { ...t, info: { ...t.info } } : t]));
    const c = process.cpuUsage();
    const s = performance.now();
    indexOf(next);
    reloadMs.push(performance.now() - s);
    const cpu = process.cpuUsage(c);
    reloadCpuMs.push((cpu.user + cpu.system) / 1000);
    current = next;
  }
  const speed = {
    tools: big.size,
    searches,
    rebuilds,
    search: summarize(searchMs),
    searchCpu: summarize(searchCpuMs),
    rebuild: summarize(rebuildMs),
    rebuildCpu: summarize(rebuildCpuMs),
    reload: { plugin: largest, tools: catalogue.servers.find((s) => s.name === largest)!.tools.length, ...summarize(reloadMs), cpu: summarize(reloadCpuMs) },
  };

  const out: SearchEvalResult = {
    catalogue: { collected: catalogue.collected, servers: servers.map((s) => ({ name: s.name, package: s.package, version: s.version, tools: s.tools.length })), tools: toolCount },
    ...quality,
    speed,
    goals: { recallAt5: 0.9, searchListingShare: 0.05, searchP99Ms: 5, rebuildP99Ms: 50 },
  };
  report(o, out);
  return out;
}

function pct(v: number) {
  return `${(v * 100).toFixed(1)} %`;
}

function report(o: SearchEvalOptions, r: SearchEvalResult) {
  const { emit } = o;
  emit("## Tool search: does `patchbay__search_tools` find the right tool?");
  emit();
  emit(
    `${r.catalogue.tools} real tool definitions from ${r.catalogue.servers.length} published MCP servers (collected ${r.catalogue.collected} by bench/search-eval/collect.ts), served by one daemon with \`expose: "search"\` as generated code plugins; ${r.tasks} tasks phrased as a user would (bench/search-eval/tasks.json), each sent as the query. A task counts at k when one of its labelled tools is in the first k answers.`,
  );
  emit();
  emit(
    table(
      ["figure", "measured", "goal (issue 19)"],
      [
        ["recall@1", pct(r.recallAt1), "–"],
        ["recall@5", pct(r.recallAt5), "≥ 90 %"],
        [`full tools/list (${r.catalogue.tools} tools), o200k tokens`, num(r.tokens.full), "–"],
        ["search-mode tools/list, o200k tokens", `${num(r.tokens.search)} (${pct(r.tokens.ratio)} of full)`, "< 5 % of full"],
        [`search_tools p50 / p99 at ${num(r.speed.tools)} tools (in-process \`searchTools\`, ${num(r.speed.searches)} queries)`, `${r.speed.search.p50.toFixed(2)} / ${r.speed.search.p99.toFixed(2)} ms (CPU ${r.speed.searchCpu.p50.toFixed(2)} / ${r.speed.searchCpu.p99.toFixed(2)} ms)`, "p99 < 5 ms"],
        [`index after a reload of one plugin (${r.speed.reload.plugin}, ${r.speed.reload.tools} tools) p50 / p99 at ${num(r.speed.tools)} tools`, `${r.speed.reload.p50.toFixed(1)} / ${r.speed.reload.p99.toFixed(1)} ms (CPU ${r.speed.reload.cpu.p50.toFixed(1)} / ${r.speed.reload.cpu.p99.toFixed(1)} ms)`, "< 50 ms"],
        [`full index build p50 / p99 at ${num(r.speed.tools)} tools (every definition new, ${num(r.speed.rebuilds)} builds)`, `${r.speed.rebuild.p50.toFixed(1)} / ${r.speed.rebuild.p99.toFixed(1)} ms (CPU ${r.speed.rebuildCpu.p50.toFixed(1)} / ${r.speed.rebuildCpu.p99.toFixed(1)} ms)`, "(< 50 ms)"],
        [`search_tools over MCP (Streamable HTTP, limit 20, ${r.catalogue.tools} tools) p50 / p99`, `${r.overMcp.p50.toFixed(2)} / ${r.overMcp.p99.toFixed(2)} ms`, "–"],
      ],
    ),
  );
  emit();
  if (r.misses.length) {
    emit(`Missed at 5 (${r.misses.length}):`);
    emit();
    emit(table(["task", "labelled", "first 5 answers", "rank in 20"], r.misses.map((m) => [m.task, m.want.join(", "), m.got.join(", "), m.rankIn20 ? String(m.rankIn20) : "–"])));
    emit();
  }
}

