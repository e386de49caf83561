/**
 * Keeps one plugin worker thread booted ahead of need. Booting a thread and importing the
 * worker's own modules and the plugin API (`mcp-patchbay`, which is zod: 35-50 ms in a fresh
 * thread here) takes most of a reload's or a parked plugin's first call's time, so a save or
 * a wake takes the spare — which only has to import the plugin — and a new spare boots in
 * the background. Every thread gets the same heap limits; output is piped, never inherited.
 *
 * The spare lives only while plugins are being (re)loaded: unused for `spareIdleMs` (30 s), it
 * is terminated. A thread with the API imported holds ~12 MB, about a tenth of an idle daemon,
 * and saves ~50 ms on a save or a wake: worth it while someone edits plugins, not for the
 * hours a daemon sits idle behind Claude Desktop.
 */
import { endChildrenOfThread, watchPluginChildren } from "./child-processes.ts";
import { Worker } from "node:worker_threads";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { distDir } from "../../package-root.ts";
import type { Logger } from "pino";
import type { ThreadSource } from "./plugin-thread.ts";
import { LoadQueue } from "./load-queue.ts";
import { DEFAULT_STDERR_LIMITS, OutputLimiter } from "../output-limiter.ts";

export const WORKER_ENTRY = join(distDir, "worker-entry.js");
/** What every thread imports while it waits for its plugin: the API nearly every plugin imports. */
const PRELOAD = [pathToFileURL(join(distDir, "api.js")).href];

/**
 * Threads loading a plugin at once. A folder of 100 plugins would otherwise boot 100 threads
 * together at start (1.6 GB), and the allocator keeps much of such a peak after they park;
 * more than a few at a time is no faster on a few cores anyway.
 */
const MAX_BOOTING = 8;
/**
 * A load still running after this long (a plugin whose import or setup waits on something)
 * gives its boot slot to the next one: otherwise eight such plugins would hold every other
 * load, and every wake of a parked plugin, until their load deadline (`callTimeoutMs`).
 */
const BOOT_SLOT_HOLD_MS = 2_000;

/** How long an unused spare thread is kept. */
export const SPARE_IDLE_MS = 30_000;

export class WorkerPool implements ThreadSource {
  private spare?: Worker;
  private spareTimer?: NodeJS.Timeout;
  private closed = false;
  private readonly bootSlots: LoadQueue;

  constructor(private readonly opts: { heapMb: number; warm: boolean; maxBooting?: number; spareIdleMs?: number }) {
    this.bootSlots = new LoadQueue(opts.maxBooting ?? MAX_BOOTING, BOOT_SLOT_HOLD_MS);
    if (opts.warm) this.refill();
  }

  /**
   * A fresh thread (the warm spare when there is one) once fewer than MAX_BOOTING are
   * loading; the caller owns it from now on and calls `release` once its plugin has loaded
   * (or failed to).
   */
  async take(): Promise<{ worker: Worker; release: () => void }> {
    const release = await this.bootSlots.acquire();
    let w: Worker;
    try {
      w = this.spare ?? this.spawn();
    } catch (err) {
      // a thread that could not even be created must not keep its boot slot: after a few,
      // every later load would wait forever
      release();
      throw err;
    }
    this.spare = undefined;
    clearTimeout(this.spareTimer);
    if (this.opts.warm) setImmediate(() => this.refill());
    return { worker: w, release };
  }

  close(): void {
    this.closed = true;
    // boots waiting for a turn go ahead (and find the manager closed)
    this.bootSlots.close();
    clearTimeout(this.spareTimer);
    void this.spare?.terminate();
    this.spare = undefined;
  }

  /** Whether a spare thread is booted and waiting (for the health report and tests). */
  get hasSpare(): boolean {
    return this.spare !== undefined;
  }

  private refill() {
    if (this.closed || this.spare) return;
    const w = this.spawn();
    // A spare that dies before use is simply replaced on the next take.
    w.once("exit", () => {
      if (this.spare === w) this.spare = undefined;
    });
    this.spare = w;
    clearTimeout(this.spareTimer);
    this.spareTimer = setTimeout(() => {
      if (this.spare !== w) return;
      this.spare = undefined;
      void w.terminate();
    }, this.opts.spareIdleMs ?? SPARE_IDLE_MS);
    // an idle spare must not keep a stopping process alive
    this.spareTimer.unref();
  }

  private spawn(): Worker {
    return spawnPluginThread(this.opts.heapMb);
  }
}

/**
 * Sends a plugin thread's console output (piped: never our stdout) to the log, a line at a
 * time: stdout as info, stderr as warn, each at most 50 lines a second in bursts of 200
 * (output-limiter.ts): a plugin logging in a loop must not flood the log or the dashboard.
 */
export function logThreadOutput(thread: { stdout?: NodeJS.ReadableStream | null; stderr?: NodeJS.ReadableStream | null }, log: Logger): void {
  const forward = (stream: NodeJS.ReadableStream | null | undefined, level: "info" | "warn") => {
    if (!stream) return;
    const limiter = new OutputLimiter(log, DEFAULT_STDERR_LIMITS, { level, fields: { console: true }, what: "console" });
    stream.on("data", (chunk: Buffer | string) => limiter.write(chunk));
    stream.on("end", () => limiter.end());
  };
  forward(thread.stdout, "info");
  forward(thread.stderr, "warn");
}

/**
 * A new plugin thread: the worker entry with the API preloaded, a heap limit, and its
 * output piped, never inherited. `shared`: a worker group's thread, serving every plugin
 * attached to it (worker-group.ts).
 */
export function spawnPluginThread(heapMb: number, shared = false): Worker {
  const w = new Worker(WORKER_ENTRY, {
    resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: Math.min(64, Math.max(8, heapMb / 8)) },
    // Plugin console output must never reach our stdout (it carries JSON-RPC in stdio mode).
    stdout: true,
    stderr: true,
    name: shared ? "patchbay-plugin-group" : "patchbay-plugin",
    workerData: { preload: PRELOAD, shared },
  });
  w.on("error", () => undefined); // the owner attaches its own handlers; an idle spare has none
  // children the plugin started end with its thread, and with the process (child-processes.ts)
  watchPluginChildren();
  endChildrenOfThread(w);
  return w;
}
