/**
 * The host side of one plugin version running in its own worker thread. It owns the
 * thread's life: load, calls with ids/timeouts/cancellation, detecting a stuck or dead
 * thread and restarting it, and draining before termination. Nothing here throws into a
 * caller except the call's own rejection.
 */
import type { Worker } from "node:worker_threads";
import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import { CallCancelledError, CallTimeoutError, PluginLoadError, WorkerGoneError, messageOf } from "../errors.ts";
import { WorkerPool } from "./worker-pool.ts";
import type { CallRequest, PluginManifest, SerializedError, WorkerSpan, WorkerToHost } from "./worker-protocol.ts";

export interface PluginWorkerOptions {
  file: string;
  bundlePath: string;
  defaultName: string;
  dataDir: string;
  heapMb: number;
  callTimeoutMs: number;
  logger: Logger;
  /** where threads come from; a private cold pool when omitted */
  pool?: WorkerPool;
}

export interface CallOptions {
  signal?: AbortSignal;
  onProgress?: (p: { progress: number; total?: number; message?: string }) => void;
  onClientLog?: (level: string, data: unknown) => void;
  timeoutMs?: number;
}

/** A failed call: the plugin's error with its code and location, or a host error. */
export class PluginCallError extends Error {
  constructor(readonly detail: SerializedError) {
    super(detail.message);
    this.name = "PluginCallError";
  }
}

/** Result of a call, with the plugin's own span for telemetry. */
export interface CallOutcome {
  value: unknown;
  span?: WorkerSpan;
}

interface Pending {
  resolve: (v: CallOutcome) => void;
  reject: (e: Error & { span?: WorkerSpan }) => void;
  opts: CallOptions;
  timer?: NodeJS.Timeout;
  cleanup: () => void;
}

export interface PluginWorkerEvents {
  /** the thread died or was found stuck and a new one was started (or could not be) */
  restarted: [info: { reason: string; ok: boolean; error?: string }];
  "resources-changed": [];
}

const STUCK_PROBE_MS = 1_000;
const MAX_RESTARTS_PER_MINUTE = 5;

export class PluginWorker extends EventEmitter<PluginWorkerEvents> {
  manifest?: PluginManifest;
  heapUsed = 0;
  private worker?: Worker;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private pongs = new Map<number, () => void>();
  private stopped = false;
  private restartTimes: number[] = [];
  private drainWaiters: (() => void)[] = [];
  private restarting?: Promise<void>;

  constructor(private readonly opts: PluginWorkerOptions) {
    super();
  }

  get inflight(): number {
    return this.pending.size;
  }

  /** Starts the thread and loads the plugin. Rejects with PluginLoadError (located when possible). */
  async start(): Promise<PluginManifest> {
    const worker = (this.opts.pool ??= new WorkerPool({ heapMb: this.opts.heapMb, warm: false })).take();
    const forward = (stream: NodeJS.ReadableStream, level: "info" | "warn") => {
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => {
        for (const line of chunk.split("\n")) if (line.trim()) this.opts.logger[level]({ console: true }, line);
      });
    };
    forward(worker.stdout, "info");
    forward(worker.stderr, "warn");

    const manifest = await new Promise<PluginManifest>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new PluginLoadError(`${this.opts.file}: loading took longer than ${this.opts.callTimeoutMs} ms`, { file: this.opts.file, line: 1 }));
        void worker.terminate();
      }, this.opts.callTimeoutMs);
      const onMessage = (msg: WorkerToHost) => {
        if (msg.type === "loaded") {
          done();
          resolve(msg.manifest);
        } else if (msg.type === "load-error") {
          done();
          void worker.terminate();
          const where = msg.error.location;
          const prefix = where && !msg.error.message.startsWith(where.file) ? `${where.file}:${where.line}${where.column ? `:${where.column}` : ""}: ` : "";
          reject(new PluginLoadError(`${prefix}${msg.error.message}`, where ?? { file: this.opts.file, line: 1 }));
        }
      };
      const onError = (err: Error) => {
        done();
        reject(new PluginLoadError(`${this.opts.file}: worker failed while loading: ${err.message}`, { file: this.opts.file, line: 1 }));
      };
      const onExit = (code: number) => {
        done();
        reject(new PluginLoadError(`${this.opts.file}: worker exited with code ${code} while loading`, { file: this.opts.file, line: 1 }));
      };
      const done = () => {
        clearTimeout(timer);
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
      };
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.on("exit", onExit);
      worker.postMessage({ type: "load", bundlePath: this.opts.bundlePath, file: this.opts.file, defaultName: this.opts.defaultName, dataDir: this.opts.dataDir });
    });
    this.manifest = manifest;
    this.worker = worker;
    worker.on("message", (msg: WorkerToHost) => this.onMessage(msg));
    worker.on("error", (err) => this.opts.logger.error({ err: messageOf(err) }, "plugin worker error"));
    worker.on("exit", (code) => this.onExit(worker, code));
    return manifest;
  }

  /** Sends a call to the plugin. Rejects with PluginCallError, CallTimeoutError, WorkerGoneError or CallCancelledError. */
  async call(req: Omit<CallRequest, "type" | "id">, opts: CallOptions = {}): Promise<CallOutcome> {
    // during a restart, calls wait for the fresh thread instead of failing
    if (this.restarting) await this.restarting;
    return this.send(req, opts);
  }

  private send(req: Omit<CallRequest, "type" | "id">, opts: CallOptions): Promise<CallOutcome> {
    if (this.stopped || !this.worker) return Promise.reject(new WorkerGoneError(`plugin ${this.opts.defaultName} is not running`));
    const id = this.nextId++;
    const worker = this.worker;
    return new Promise<CallOutcome>((resolve, reject) => {
      const onAbort = () => {
        worker.postMessage({ type: "cancel", id, reason: "cancelled by client" });
        this.settle(id)?.reject(new CallCancelledError("request cancelled"));
      };
      const pending: Pending = {
        resolve,
        reject,
        opts,
        cleanup: () => {
          if (pending.timer) clearTimeout(pending.timer);
          opts.signal?.removeEventListener("abort", onAbort);
        },
      };
      if (opts.signal?.aborted) return reject(new CallCancelledError("request cancelled"));
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      const timeoutMs = opts.timeoutMs ?? this.opts.callTimeoutMs;
      pending.timer = setTimeout(() => this.onTimeout(id, timeoutMs, worker), timeoutMs);
      this.pending.set(id, pending);
      worker.postMessage({ ...req, type: "call", id });
    });
  }

  /** Asks the thread for its heap size; resolves false if it does not answer in time. */
  probe(timeoutMs = STUCK_PROBE_MS): Promise<boolean> {
    const worker = this.worker;
    if (!worker) return Promise.resolve(false);
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pongs.delete(id);
        resolve(false);
      }, timeoutMs);
      this.pongs.set(id, () => {
        clearTimeout(timer);
        resolve(true);
      });
      worker.postMessage({ type: "ping", id });
    });
  }

  /** Waits (bounded) for in-flight calls, runs the plugin's teardown, ends the thread. */
  async stop(graceMs: number): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.pending.size > 0) {
      await Promise.race([new Promise<void>((r) => this.drainWaiters.push(r)), delay(graceMs)]);
    }
    const worker = this.worker;
    this.worker = undefined;
    this.failAll(new WorkerGoneError(`plugin ${this.opts.defaultName} was unloaded`));
    if (!worker) return;
    await Promise.race([
      new Promise<void>((resolve) => {
        worker.on("message", (m: WorkerToHost) => m.type === "torn-down" && resolve());
        worker.on("exit", () => resolve());
        worker.postMessage({ type: "teardown" });
      }),
      delay(Math.min(graceMs, 2_000)),
    ]);
    await worker.terminate();
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    p.cleanup();
    if (this.pending.size === 0) this.drainWaiters.splice(0).forEach((r) => r());
    return p;
  }

  private onMessage(msg: WorkerToHost) {
    switch (msg.type) {
      case "result": {
        const p = this.settle(msg.id);
        if (!p) return;
        if (msg.ok) p.resolve({ value: msg.value, span: msg.span });
        else p.reject(Object.assign(new PluginCallError(msg.error), { span: msg.span }));
        break;
      }
      case "progress":
        this.pending.get(msg.id)?.opts.onProgress?.(msg);
        break;
      case "client-log":
        this.pending.get(msg.id)?.opts.onClientLog?.(msg.level, msg.data);
        break;
      case "log":
        this.opts.logger[msg.level]({ data: msg.data }, msg.message);
        break;
      case "resources-changed":
        this.emit("resources-changed");
        break;
      case "pong":
        this.heapUsed = msg.heapUsed;
        this.pongs.get(msg.id)?.();
        this.pongs.delete(msg.id);
        break;
      default:
        break;
    }
  }

  private onTimeout(id: number, timeoutMs: number, worker: Worker) {
    const p = this.settle(id);
    if (!p) return;
    worker.postMessage({ type: "cancel", id, reason: "timeout" });
    p.reject(new CallTimeoutError(`plugin ${this.opts.defaultName} did not answer within ${timeoutMs} ms`));
    // A sync infinite loop never answers a ping; an async slow handler does.
    void this.probe().then((alive) => {
      if (!alive && this.worker === worker && !this.stopped) {
        this.opts.logger.warn({ plugin: this.opts.defaultName }, "plugin worker is stuck; restarting it");
        void this.restart(worker, "stuck (did not answer after a call timeout)");
      }
    });
  }

  private onExit(worker: Worker, code: number) {
    if (this.worker !== worker || this.stopped) return;
    this.opts.logger.error({ plugin: this.opts.defaultName, code }, "plugin worker exited unexpectedly; restarting it");
    void this.restart(worker, `worker exited with code ${code}`);
  }

  private restart(old: Worker, reason: string): Promise<void> {
    this.restarting ??= this.doRestart(old, reason).finally(() => (this.restarting = undefined));
    return this.restarting;
  }

  private async doRestart(old: Worker, reason: string) {
    this.worker = undefined;
    this.failAll(new WorkerGoneError(`plugin ${this.opts.defaultName} worker restarted: ${reason}`));
    old.removeAllListeners("exit");
    await old.terminate().catch(() => undefined);
    const now = Date.now();
    this.restartTimes = this.restartTimes.filter((t) => now - t < 60_000);
    if (this.restartTimes.length >= MAX_RESTARTS_PER_MINUTE) {
      this.stopped = true;
      this.emit("restarted", { reason, ok: false, error: `gave up after ${MAX_RESTARTS_PER_MINUTE} restarts in a minute` });
      return;
    }
    this.restartTimes.push(now);
    try {
      await this.start();
      this.emit("restarted", { reason, ok: true });
    } catch (err) {
      this.stopped = true;
      this.emit("restarted", { reason, ok: false, error: messageOf(err) });
    }
  }

  private failAll(err: Error) {
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(err);
  }
}

function delay(ms: number) {
  return new Promise<void>((r) => setTimeout(r, ms).unref());
}
