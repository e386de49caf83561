/**
 * Keeps one plugin worker thread booted ahead of need. Booting a thread and importing the
 * worker's own modules (zod, ajv, the SDK's URI templates) takes most of a reload's time, so
 * a save takes the spare — which only has to import the plugin — and a new spare boots in
 * the background. Every thread gets the same heap limits; output is piped, never inherited.
 */
import { Worker } from "node:worker_threads";
import { join } from "node:path";
import { distDir } from "../package-root.ts";

export const WORKER_ENTRY = join(distDir, "worker-entry.js");

export class WorkerPool {
  private spare?: Worker;
  private closed = false;

  constructor(private readonly opts: { heapMb: number; warm: boolean }) {
    if (opts.warm) this.refill();
  }

  /** A fresh thread (the warm spare when there is one); the caller owns it from now on. */
  take(): Worker {
    const w = this.spare ?? this.spawn();
    this.spare = undefined;
    if (this.opts.warm) setImmediate(() => this.refill());
    return w;
  }

  close(): void {
    this.closed = true;
    void this.spare?.terminate();
    this.spare = undefined;
  }

  private refill() {
    if (this.closed || this.spare) return;
    const w = this.spawn();
    // A spare that dies before use is simply replaced on the next take.
    w.once("exit", () => {
      if (this.spare === w) this.spare = undefined;
    });
    this.spare = w;
  }

  private spawn(): Worker {
    const w = new Worker(WORKER_ENTRY, {
      resourceLimits: { maxOldGenerationSizeMb: this.opts.heapMb, maxYoungGenerationSizeMb: Math.min(64, Math.max(8, this.opts.heapMb / 8)) },
      // Plugin console output must never reach our stdout (it carries JSON-RPC in stdio mode).
      stdout: true,
      stderr: true,
      name: "patchbay-plugin",
    });
    w.on("error", () => undefined); // the owner attaches its own handlers; an idle spare has none
    return w;
  }
}
