/**
 * Child processes that plugins start must not outlive the daemon. Plugins run in worker
 * threads of the daemon's process, so their children are the daemon's children, and Linux
 * gives a parent no way from Node to have them die with it: a process group is not
 * signalled when its leader is killed, and `prctl(PR_SET_PDEATHSIG)` needs a native addon
 * (and fires when the spawning *thread* ends, not the process).
 *
 * So Patchbay keeps a list. In each plugin thread, `trackSpawnedChildren` (thread/child-reporter.ts) wraps
 * `ChildProcess.prototype.spawn`, which `spawn`, `exec`, `execFile` and `fork` all go
 * through, and reports each child's pid (and its exit) to the main thread over a
 * BroadcastChannel, which needs no change to the host ↔ worker protocol. The main thread
 * (`watchPluginChildren`) ends the children still running:
 *   - when their plugin thread ends (a reload, a stop, a restart after a crash or a stuck
 *     call): the plugin's teardown() had its chance;
 *   - when the process exits (a clean stop after SIGTERM/SIGINT, stdio's end of input or a
 *     signal, an error): SIGTERM, then SIGKILL after up to 1 s for those still running.
 * (A child killed after its thread ended stays a zombie until the daemon exits: only the
 * libuv loop that spawned a child reaps it, and that loop has ended with the thread.)
 * A child spawned with `detached: true` leads a process group of its own: the whole group
 * is signalled, so its own children go too. A non-detached child's children are not ours
 * to find; they go only if the child passes the signal on.
 *
 * `kill -9` of the daemon runs none of this: its children then live on (re-parented to
 * init), and only a plugin can prevent that, e.g. by giving the child a pipe to watch
 * (README "Child processes").
 */
import { BroadcastChannel, isMainThread, type Worker } from "node:worker_threads";
import { readFileSync } from "node:fs";
import { processStartTime } from "../../home-lock.ts";
import { atExit } from "../../exit-hooks.ts";
import { CHILDREN_CHANNEL, type ChildNote } from "../worker-protocol.ts";

/** How long children get after SIGTERM before SIGKILL, when the process exits. */
const EXIT_GRACE_MS = 1_000;

interface Tracked {
  thread: number;
  detached: boolean;
  /** when it started, to tell it from a later process with its pid */
  start?: string;
}
const children = new Map<number, Tracked>();
let watching = false;

/** In the main thread: start collecting the plugin threads' children and end them at exit (idempotent). */
export function watchPluginChildren(): void {
  if (watching || !isMainThread) return;
  watching = true;
  const channel = new BroadcastChannel(CHILDREN_CHANNEL);
  (channel as unknown as { unref?: () => void }).unref?.();
  channel.onmessage = (event) => {
    const note = (event as unknown as { data: ChildNote }).data;
    if (note.exited) children.delete(note.pid);
    else children.set(note.pid, { thread: note.thread, detached: note.detached, start: processStartTime(note.pid) });
  };
  // also on a SIGTERM nothing else handles, as in stdio --standalone (exit-hooks.ts)
  atExit(() => endChildren([...children.keys()], EXIT_GRACE_MS));
}

/** In the main thread: when a plugin thread ends, its children still running go with it. */
export function endChildrenOfThread(worker: Worker): void {
  const thread = worker.threadId;
  worker.once("exit", () => {
    // the thread's last reports may still be in flight: look once they have arrived
    setImmediate(() => endChildren([...children].filter(([, c]) => c.thread === thread).map(([pid]) => pid), 0));
  });
}

/** The pids of plugin children now tracked (tests, status). */
export function pluginChildren(): number[] {
  return [...children.keys()];
}

function stillOurs(pid: number, c: Tracked): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (process.platform !== "linux") return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    if (stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z") return false; // exited, not yet reaped
  } catch {
    return false;
  }
  return c.start === undefined || processStartTime(pid) === c.start;
}

function signal(pid: number, c: Tracked, sig: NodeJS.Signals) {
  try {
    // a detached child leads its own group: signal the group, its children included
    process.kill(c.detached ? -pid : pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // gone
    }
  }
}

/**
 * SIGTERM to each, then SIGKILL to those still running after `graceMs` (0: at once after a
 * short look, as when a thread ends and the process goes on: then SIGKILL follows from a timer).
 * Synchronous when graceMs > 0, for the `exit` event.
 */
function endChildren(pids: number[], graceMs: number) {
  const targets = pids.map((pid) => [pid, children.get(pid)!] as const).filter(([pid, c]) => c && stillOurs(pid, c));
  for (const [pid, c] of targets) signal(pid, c, "SIGTERM");
  if (targets.length === 0) return;
  const kill = () => {
    for (const [pid, c] of targets) {
      if (stillOurs(pid, c)) signal(pid, c, "SIGKILL");
      children.delete(pid);
    }
  };
  if (graceMs <= 0) {
    setTimeout(kill, EXIT_GRACE_MS).unref();
    return;
  }
  const deadline = Date.now() + graceMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (Date.now() < deadline && targets.some(([pid, c]) => stillOurs(pid, c))) Atomics.wait(pause, 0, 0, 20);
  kill();
}
