/**
 * The life of one plugin version's thread (plugin-worker.ts) as one value: which phase it is
 * in, what that phase carries, and which phase may follow which. PluginWorker moves between
 * phases only through its `transition`, which checks this table; everything it used to keep
 * as flags (stopped, parked, suspect, parking, waking, restarting, stopping) is read from the
 * phase.
 *
 * | phase      | thread        | carries                              | `state` | a call…                          |
 * |------------|---------------|--------------------------------------|---------|----------------------------------|
 * | new        | none          |                                      | running | is refused (not running)         |
 * | loading    | booting       | the load                             | running | is refused (not running)         |
 * | running    | serving       | the thread                           | running | is sent                          |
 * | probing    | suspected     | the thread, the probe (and restart)  | running | waits for the probe's outcome    |
 * | parking    | tearing down  | the thread, the park                 | running | waits, then wakes it             |
 * | parked     | none          |                                      | parked  | wakes it                         |
 * | waking     | booting       | the wake                             | parked  | joins the wake                   |
 * | restarting | booting       | the restart                          | running | waits, then is sent              |
 * | stopping   | draining      | the thread (until torn down), what it waits for, the drain, the error | stopped | goes to the successor, or fails |
 * | stopped    | none          | the error calls fail with            | stopped | goes to the successor, or fails |
 *
 * When two things happen at once, this is the order (each has a test in
 * test/plugin-worker-phases.test.ts, or in the file named):
 * - Stop while a thread boots (loading, waking, restarting): the stop waits for the boot and
 *   the thread it brings is ended unused, so when `stop` resolves no thread of this version
 *   is left. A restart that has not begun its boot yet does not begin it. Calls waiting for
 *   a wake then go to the successor (`retire`), or fail with the stop's error
 *   (test/worker-handover.test.ts).
 * - Stop while parking: the park finishes first, since the thread is already running the
 *   plugin's teardown, which must not run twice; if it parked there is nothing left to tear
 *   down, and if the plugin refused (background work) the stop tears it down as usual.
 * - Stop while probing: the stop does not wait for the probe, and the probe's verdict is
 *   dropped (nothing restarts a version being stopped); the teardown's own deadline ends a
 *   thread that is stuck.
 * - A stuck suspicion (a call timed out, or a cancelled call outlived its deadline) while
 *   parking is dropped: the park's answer deadline already ends a thread that does not
 *   answer, and the plugin ends parked (woken by its next call) rather than restarted. One
 *   about a thread that is no longer the current one (waking, restarting, stopping) is
 *   dropped too.
 * - The thread exits while running or probing: restart. While parking: it is parked (no
 *   call was in flight, and ending the thread is what parking was doing). While stopping:
 *   the calls still in it fail, and nothing restarts.
 * - A call while probing, parking or restarting waits for the outcome and then goes on from
 *   there (sent, or wakes the plugin if it parked); a call while parked or waking wakes it
 *   or joins the wake.
 * - A restart asked while one runs joins it; a park is only begun from running, and a probe
 *   only from running.
 * - A restart that gives up (too many in a minute, or its load fails) ends in stopped with
 *   no stop asked for; a later `stop` returns at once.
 */
import type { PluginThread } from "./plugin-thread.ts";

/** How long a stopping version waits for its calls in flight, and what ends the wait early. */
export interface Drain {
  endsAt: number;
  /** the latest grace period asked for (the teardown's budget is taken from it) */
  graceMs: number;
  timer?: NodeJS.Timeout;
  /** the deadline passed (perhaps before the wait began) */
  expired: boolean;
  /** ends the wait */
  end?: () => void;
}

export type Phase =
  | { name: "new" }
  | { name: "loading"; done: Promise<void> }
  | { name: "running"; thread: PluginThread }
  | { name: "probing"; thread: PluginThread; done: Promise<void> }
  | { name: "parking"; thread: PluginThread; done: Promise<void> }
  | { name: "parked" }
  | { name: "waking"; done: Promise<void> }
  | { name: "restarting"; done: Promise<void> }
  | Stopping
  | { name: "stopped"; error?: Error };

export interface Stopping {
  name: "stopping";
  /** the thread to tear down once drained; gone if it exited or parked meanwhile */
  thread?: PluginThread;
  /** the boot or park the stop came during: it ends first */
  after?: Promise<void>;
  drain: Drain;
  /** what calls still pending when the drain ends, and calls that arrive meanwhile, fail with */
  error?: Error;
  done: Promise<void>;
}

export type PhaseName = Phase["name"];
export type PhaseOf<N extends PhaseName> = Extract<Phase, { name: N }>;

const NEXT: { readonly [N in PhaseName]: readonly PhaseName[] } = {
  new: ["loading", "parked", "stopping"],
  loading: ["running", "stopped", "stopping"],
  running: ["probing", "parking", "restarting", "stopping"],
  probing: ["running", "restarting", "stopping"],
  parking: ["parked", "running", "stopping"],
  parked: ["waking", "stopping"],
  waking: ["running", "parked", "stopping"],
  restarting: ["running", "stopped", "stopping"],
  stopping: ["stopped"],
  stopped: [],
};

/** Whether a worker may go from phase `from` to phase `to`. */
export function mayMove(from: PhaseName, to: PhaseName): boolean {
  return NEXT[from].includes(to);
}

/** The thread a phase holds, if any. */
export function threadOf(p: Phase): PluginThread | undefined {
  return p.name === "running" || p.name === "probing" || p.name === "parking" || p.name === "stopping" ? p.thread : undefined;
}

/** The boot or park under way in a phase, which a stop that comes now waits for. */
export function bootOrPark(p: Phase): Promise<void> | undefined {
  return p.name === "loading" || p.name === "waking" || p.name === "restarting" || p.name === "parking" ? p.done : undefined;
}
