/**
 * Where a sequential call's time goes, per thread: the CPU time each thread of a server
 * process spent over a run of calls, from Linux's /proc/PID/task/TID/schedstat (nanoseconds
 * on CPU, kernel time included — the wake-up system calls of a hop are part of its cost).
 * Node names none of its threads, so the plugin's thread is told apart by being the busiest
 * thread after the main one; the rest are V8's GC helpers and libuv's pool.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";

export interface ThreadCpu {
  /** the process's main thread (tid = pid) */
  mainUs: number;
  /** the busiest other thread: in Patchbay, the plugin's worker thread */
  busiestOtherUs: number;
  /** every other thread together */
  restUs: number;
}

export const canMeasureThreads = (): boolean => existsSync("/proc/self/task");

function cpuByThread(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.set(Number(tid), Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]));
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/**
 * The process that serves a stdio client: the one it spawned, or that one's only node child
 * (`patchbay stdio --standalone` runs the session in a child; see daemon/stdio-isolation.ts).
 */
export function servingProcess(spawnedPid: number): number {
  try {
    const kids = readFileSync(`/proc/${spawnedPid}/task/${spawnedPid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
    const node = kids.filter((k) => /node/.test(readFileSync(`/proc/${k}/comm`, "utf8")));
    return node.length === 1 ? node[0] : spawnedPid;
  } catch {
    return spawnedPid;
  }
}

/** CPU per call of each kind of thread of `pid` while `run` makes `calls` calls. */
export async function threadCpuPerCall(pid: number, calls: number, run: () => Promise<void>): Promise<ThreadCpu> {
  const before = cpuByThread(pid);
  await run();
  const after = cpuByThread(pid);
  const perCall = (ns: number) => ns / calls / 1000;
  let mainUs = 0;
  const others: number[] = [];
  for (const [tid, ns] of after) {
    const d = perCall(ns - (before.get(tid) ?? 0));
    if (tid === pid) mainUs = d;
    else others.push(d);
  }
  others.sort((a, b) => b - a);
  return { mainUs, busiestOtherUs: others[0] ?? 0, restUs: others.slice(1).reduce((a, b) => a + b, 0) };
}
