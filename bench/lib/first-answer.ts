/**
 * Time to a stdio client's first useful answer: from spawning the command to `initialize`
 * answered, and to the first `tools/list` answer that holds `expectTool` (what Claude
 * Desktop needs before it shows any tool). The official SDK v1 client over
 * `StdioClientTransport`, as Claude Desktop starts a server.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { readdirSync, readFileSync } from "node:fs";

export interface FirstAnswer {
  /** spawn → initialize answered, ms */
  initializeMs: number;
  /** spawn → the first tools/list that holds the tool, ms */
  toolsListMs: number;
  /** tools/list answers it took (more than one when the tools arrived after initialize) */
  lists: number;
  /**
   * CPU time (user + system) the spawned process and its descendants had used by then, ms
   * (Linux; undefined elsewhere): unlike wall time, it barely depends on what else the
   * machine runs, so runs on a busy machine still compare.
   */
  initializeCpuMs?: number;
  toolsListCpuMs?: number;
}

const TICK_MS = 1000 / 100; // USER_HZ is 100 on every Linux Node supports

/** CPU ms used so far by `pid` and every process below it (their threads included). */
export function treeCpuMs(pid: number): number | undefined {
  if (process.platform !== "linux") return undefined;
  let total = 0;
  const seen = new Set<number>();
  const visit = (p: number) => {
    if (seen.has(p)) return;
    seen.add(p);
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      total += (Number(f[11]) + Number(f[12])) * TICK_MS; // utime, stime (fields 14, 15)
      for (const t of readdirSync(`/proc/${p}/task`)) {
        for (const c of readFileSync(`/proc/${p}/task/${t}/children`, "utf8").split(" ").filter(Boolean)) visit(Number(c));
      }
    } catch {
      // gone meanwhile
    }
  };
  visit(pid);
  return total;
}

export async function firstAnswer(command: string, args: string[], env: Record<string, string>, expectTool: string, timeoutMs = 30_000): Promise<FirstAnswer> {
  const client = new Client({ name: "patchbay-bench-first-answer", version: "1.0.0" }, { capabilities: {} });
  let changed: () => void = () => undefined;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => changed());
  const t0 = performance.now();
  const transport = new StdioClientTransport({ command, args, env: { ...(process.env as Record<string, string>), ...env }, stderr: "ignore" });
  try {
    await client.connect(transport, { timeout: timeoutMs });
    const initializeMs = performance.now() - t0;
    const initializeCpuMs = transport.pid ? treeCpuMs(transport.pid) : undefined;
    let lists = 0;
    for (;;) {
      // armed before the list, so a list_changed between the two is not missed
      const next = new Promise<void>((r) => (changed = r));
      const { tools } = await client.listTools(undefined, { timeout: timeoutMs });
      lists++;
      if (tools.some((t) => t.name === expectTool)) return { initializeMs, toolsListMs: performance.now() - t0, lists, initializeCpuMs, toolsListCpuMs: transport.pid ? treeCpuMs(transport.pid) : undefined };
      const left = timeoutMs - (performance.now() - t0);
      if (left <= 0) throw new Error(`no ${expectTool} in tools/list within ${timeoutMs} ms`);
      await Promise.race([next, new Promise((r) => setTimeout(r, Math.min(left, 1_000)))]);
    }
  } finally {
    await client.close().catch(() => undefined);
  }
}
