/**
 * The host side of one plugin version running in its own worker thread. It owns the
 * thread's life: load, calls with ids/timeouts/cancellation, detecting a stuck or dead
 * thread and restarting it, and draining before termination. Nothing here throws into a
 * caller except the call's own rejection.
 *
 * A thread costs about 15 MB, so an idle plugin is parked: after `idleMs` without calls its
 * thread ends and the manifest of its last load keeps it listed; the next call starts a
 * fresh thread (from the warm pool) that loads the same bundle again. A plugin that keeps
 * background work referenced (a timer, a watcher), sends list changes from the background,
 * or asks for `keepAlive` is not parked, since parking would stop that work. Nor is one with
 * subscribers to any of its resources (`subscribe`): its background work is what sends them
 * updates, so a parked one is started again when the first subscriber comes, and may be
 * parked again once the last one has left.
 */
import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import { PluginLoadError, WorkerGoneError, messageOf } from "../../errors.ts";
import { logThreadOutput, WorkerPool } from "./worker-pool.ts";
import type { CallOptions, CallOutcome, PluginHost } from "./plugin-host.ts";
import type { PluginThread, TakeOptions, ThreadSource } from "./plugin-thread.ts";
import type { CallRequest, PluginManifest, WorkerToHost } from "../worker-protocol.ts";
import { CallChannel, postTo } from "./call-channel.ts";
import { ParkPolicy } from "./park-policy.ts";

export interface PluginWorkerOptions {
  file: string;
  bundlePath: string;
  defaultName: string;
  dataDir: string;
  heapMb: number;
  callTimeoutMs: number;
  logger: Logger;
  /** where threads come from (a worker group's shared thread for `group`); a private cold pool when omitted */
  pool?: ThreadSource;
  /** the worker group whose thread the plugin shares: it is never parked */
  group?: string;
  /** park the thread after this long without calls; 0 never parks */
  idleMs?: number;
  /** the first park after loading comes this soon (default idleMs): 0 parks a fresh load right away */
  firstIdleMs?: number;
  /** plugin names that are never parked (config `keepAlivePlugins`) */
  alwaysOn?: readonly string[];
}

/** Whether a plugin version has a thread now. */
export type WorkerState = "running" | "parked" | "stopped";

export interface PluginWorkerEvents {
  /** the thread died or was found stuck and a new one was started (or could not be) */
  restarted: [info: { reason: string; ok: boolean; error?: string }];
  "resources-changed": [];
  /** the plugin called ctx.resourceUpdated(uri) */
  "resource-updated": [uri: string];
  /** a woken plugin reported a different manifest than its load did (it builds its tools at run time) */
  manifest: [manifest: PluginManifest];
  /** a call or a first subscriber found the plugin parked and could not start it again */
  "wake-failed": [error: string];
  /** a call or a first subscriber found the plugin parked and started it again */
  woken: [];
  /** its thread was parked (ended after its teardown): nothing of its own kept it running */
  parked: [];
}

const STUCK_PROBE_MS = 1_000;
/** how long an idle worker may take to agree to park (run its teardown) */
const PARK_ANSWER_MS = 2_000;
const MAX_RESTARTS_PER_MINUTE = 5;

export class PluginWorker extends EventEmitter<PluginWorkerEvents> implements PluginHost {
  manifest?: PluginManifest;
  heapUsed = 0;
  /** honours `CallOptions.stopHandle` */
  readonly stoppable = true;
  private worker?: PluginThread;
  /** the calls in flight to the thread */
  private readonly channel: CallChannel;
  /** whether an idle thread may be parked */
  private readonly policy: ParkPolicy;
  private stopped = false;
  private restartTimes: number[] = [];
  private drainWaiters: (() => void)[] = [];
  private restarting?: Promise<void>;
  /** set while a worker whose call timed out is asked whether it is stuck */
  private suspect?: Promise<void>;
  private stopping?: Promise<void>;
  /** ends the wait for in-flight calls in `stop` early (a shorter deadline came in) */
  private endDrain?: () => void;
  private drainTimer?: NodeJS.Timeout;
  private drainEndsAt = Infinity;
  private graceMs = 0;
  /** what calls still pending when the drain ends (and calls that arrive after stop) fail with */
  private stopError?: Error;
  private parked = false;
  /** the version that replaced this one in the registry (set by `retire`) */
  private successor?: PluginHost;
  /** calls inside `call` that have not been sent yet (waiting for a wake, park or restart) */
  private waitingCalls = 0;
  private waking?: Promise<void>;
  private parking?: Promise<void>;
  private idleTimer?: NodeJS.Timeout;
  /** times this version was parked and woken again */
  parks = 0;
  wakes = 0;

  constructor(private readonly opts: PluginWorkerOptions) {
    super();
    this.policy = new ParkPolicy(opts);
    this.channel = new CallChannel({
      name: opts.defaultName,
      thread: () => this.worker,
      drained: () => {
        this.drainWaiters.splice(0).forEach((r) => r());
        this.armIdle();
      },
      cancelledUnsent: () => this.armIdle(),
      suspectStuck: (worker, reason) => this.checkStuck(worker, reason),
    });
  }

  get inflight(): number {
    return this.channel.size;
  }

  get state(): WorkerState {
    if (this.stopped) return "stopped";
    return this.parked && !this.worker ? "parked" : "running";
  }

  /** When a call last started or ended here (the manager parks the least recently used first). */
  get lastActiveAt(): number {
    return this.channel.lastActiveAt;
  }

  /** The worker group whose thread this plugin shares, if any. */
  get group(): string | undefined {
    return this.opts.group;
  }

  /** A thread is up for this plugin and not on its way down. */
  get running(): boolean {
    return this.worker !== undefined && !this.parking && !this.stopped;
  }

  /**
   * Parks the thread now, as the idle period would, unless something keeps it up: calls in
   * flight, a start or restart under way, subscribers, keepAlive, or parking being off. True
   * when the park has begun (the plugin may still refuse it: background work it keeps).
   */
  parkIfIdle(): boolean {
    if (!this.running || this.channel.size > 0 || this.suspect || this.restarting || this.waking || !this.parkable()) return false;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    void this.park();
    return true;
  }

  /** Why an idle worker is kept running; undefined when it may be parked (or parking is off). */
  get keptAliveBy(): string | undefined {
    if (this.stopped) return undefined;
    return this.policy.keptAliveBy(this.manifest?.name ?? this.opts.defaultName);
  }

  /** Starts the thread and loads the plugin. Rejects with PluginLoadError (located when possible). */
  async start(): Promise<PluginManifest> {
    const { worker, manifest, keepAlive } = await this.boot(true);
    this.manifest = manifest;
    this.policy.keepAlive = keepAlive;
    this.attach(worker);
    this.armIdle(this.opts.firstIdleMs);
    return manifest;
  }

  /**
   * Lists the plugin from the manifest its last load reported, with no thread: it is parked
   * as if it had been loaded and had parked, and its first call (or subscriber) starts it.
   * For a restart over an unchanged plugin that parked last time (see plugin-manager.ts):
   * booting hundreds of threads only to park them again is most of a start's time.
   */
  startParked(manifest: PluginManifest, keepAlive?: boolean): PluginManifest {
    this.manifest = manifest;
    this.policy.keepAlive = keepAlive;
    this.parked = true;
    return manifest;
  }

  /** The plugin's own `keepAlive`, as its last load reported it. */
  get keepAlive(): boolean | undefined {
    return this.policy.keepAlive;
  }

  /**
   * A thread with the plugin loaded in it, not yet serving. In a worker group, a load the
   * shared thread ended under (another plugin may have crashed it) is tried once more, with
   * the group's loads one at a time.
   */
  private async boot(newVersion = false): Promise<{ worker: PluginThread; manifest: PluginManifest; keepAlive?: boolean }> {
    try {
      return await this.bootOnce({ newVersion });
    } catch (err) {
      if (!this.opts.group || !(err instanceof PluginLoadError && err.threadEnded) || this.stopped) throw err;
      this.opts.logger.warn({ plugin: this.opts.defaultName, group: this.opts.group }, "the worker group's thread ended while the plugin loaded; loading it again");
      return this.bootOnce({ afterCrash: true, newVersion });
    }
  }

  private async bootOnce(takeOpts?: TakeOptions): Promise<{ worker: PluginThread; manifest: PluginManifest; keepAlive?: boolean }> {
    const { worker, release }: { worker: PluginThread; release: () => void } = await (this.opts.pool ??= new WorkerPool({ heapMb: this.opts.heapMb, warm: false })).take(takeOpts);
    // a shared thread has none: its output is its group's (worker-group.ts)
    logThreadOutput(worker, this.opts.logger);

    const loaded = await new Promise<{ manifest: PluginManifest; keepAlive?: boolean }>((resolve, reject) => {
      let started = false;
      const timedOut = () => {
        // In a shared thread the load may wait behind other plugins' loads: its time counts
        // from when it began ("load-started"), and it waits as long as the loads before it
        // keep moving. One whose queue has stood still for the whole time gives up (and the
        // thread is ended if it no longer answers: see PluginThread.terminate).
        if (this.opts.group && !started && performance.now() - (worker.loadQueueMovedAt ?? 0) < this.opts.callTimeoutMs) {
          timer = setTimeout(timedOut, this.opts.callTimeoutMs);
          return;
        }
        done();
        reject(new PluginLoadError(`${this.opts.file}: loading took longer than ${this.opts.callTimeoutMs} ms`, { file: this.opts.file, line: 1 }));
        void worker.terminate({ unanswered: true });
      };
      let timer = setTimeout(timedOut, this.opts.callTimeoutMs);
      const onMessage = (msg: WorkerToHost) => {
        if (msg.type === "load-started") {
          started = true;
          if (this.opts.group) {
            clearTimeout(timer);
            timer = setTimeout(timedOut, this.opts.callTimeoutMs);
          }
        } else if (msg.type === "loaded") {
          done();
          resolve(msg);
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
        reject(new PluginLoadError(`${this.opts.file}: worker failed while loading: ${err.message}`, { file: this.opts.file, line: 1 }, { threadEnded: true }));
      };
      const onExit = (code: number) => {
        done();
        reject(new PluginLoadError(`${this.opts.file}: worker exited with code ${code} while loading`, { file: this.opts.file, line: 1 }, { threadEnded: true }));
      };
      const done = () => {
        release();
        clearTimeout(timer);
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
      };
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.on("exit", onExit);
      postTo(worker, { type: "load", bundlePath: this.opts.bundlePath, file: this.opts.file, defaultName: this.opts.defaultName, dataDir: this.opts.dataDir });
    });
    return { worker, manifest: loaded.manifest, keepAlive: loaded.keepAlive };
  }

  private attach(worker: PluginThread) {
    this.worker = worker;
    this.parked = false;
    worker.on("message", (msg: WorkerToHost | WorkerToHost[]) => {
      if (!Array.isArray(msg)) return this.onMessage(msg);
      for (const m of msg) this.onMessage(m);
    });
    worker.on("error", (err) => this.opts.logger.error({ err: messageOf(err) }, "plugin worker error"));
    worker.on("exit", (code) => this.onExit(worker, code));
  }

  /** Sends a call to the plugin. Rejects with PluginCallError, CallTimeoutError, WorkerGoneError or CallCancelledError. */
  async call(req: Omit<CallRequest, "type" | "id">, opts: CallOptions = {}): Promise<CallOutcome> {
    this.waitingCalls++;
    try {
      for (;;) {
        // While a worker is probed after a timeout, restarted or parked, calls wait for the
        // outcome instead of joining a thread that may be stuck or ending, and failing with it.
        while (!this.stopped && (this.suspect || this.restarting || this.parking)) await (this.suspect ?? this.restarting ?? this.parking);
        if (this.stopped || this.worker || !this.parked) break;
        try {
          await this.wake();
        } catch (err) {
          // a wake cut short because a newer version took over is not this call's failure
          if (!(this.stopped && this.successor)) throw err;
        }
      }
    } finally {
      this.waitingCalls--;
    }
    // A call routed here before a reload swapped this version out, but that reaches it only
    // now (it waited for a wake, a park or a restart, across the swap): it runs on the version
    // that replaced this one, as a call routed a moment later would. Failing it would lose a
    // call the reload promised to keep. Calls already sent here finish here (see `stop`).
    if (this.stopped && this.successor) return this.successor.call(req, opts);
    return this.send(req, opts);
  }

  /**
   * This version was replaced by `successor` in the registry: calls that still reach it go
   * there instead (see `call`). Then it drains as `stop` does.
   */
  retire(successor: PluginHost, graceMs: number): Promise<void> {
    this.successor = successor;
    return this.stop(graceMs);
  }

  /**
   * Whether the plugin is in use: its thread runs, or calls are waiting for it to start. A
   * new version of a plugin in use is not parked as soon as it has loaded.
   */
  get inUse(): boolean {
    return this.state === "running" || this.waitingCalls > 0;
  }

  /** Starts a parked plugin again: a thread from the pool loads the same bundle (and runs setup). */
  private wake(): Promise<void> {
    this.waking ??= (async () => {
      const started = performance.now();
      let booted;
      try {
        booted = await this.boot();
      } catch (err) {
        this.emit("wake-failed", messageOf(err));
        throw new WorkerGoneError(`plugin ${this.opts.defaultName} could not be started again: ${messageOf(err)}`);
      }
      if (this.stopped) {
        await booted.worker.terminate();
        return;
      }
      this.policy.keepAlive = booted.keepAlive;
      this.attach(booted.worker);
      this.wakes++;
      if (JSON.stringify(booted.manifest) !== JSON.stringify(this.manifest)) {
        this.manifest = booted.manifest;
        this.emit("manifest", booted.manifest);
      }
      this.opts.logger.debug({ plugin: this.opts.defaultName, ms: Math.round(performance.now() - started) }, "parked plugin started for a call");
      this.emit("woken");
      // the call that woke it may be cancelled before it is sent; the thread must not stay up for it
      this.armIdle();
    })().finally(() => (this.waking = undefined));
    return this.waking;
  }

  private parkable(): boolean {
    if (this.stopped || !this.worker) return false;
    return this.policy.allows(this.manifest?.name ?? this.opts.defaultName);
  }

  /**
   * The first client subscribed to `uri`, one of this plugin's resources: it is kept running
   * (or started, if parked) so that what it does in the background can send updates. With
   * `keepAlive: false` it is parked anyway. Never throws: a failed start shows as "wake-failed".
   */
  subscribe(uri: string): void {
    const subscribed = this.policy.subscribed;
    if (this.stopped || subscribed.has(uri)) return;
    subscribed.add(uri);
    if (subscribed.size > 1 || this.policy.keepAlive === false) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    void this.runForSubscribers().catch((err) => this.opts.logger.debug({ plugin: this.opts.defaultName, err: messageOf(err) }, "could not start the plugin for its subscribers"));
  }

  /** The last subscriber of `uri` left; with none left at all, it may be parked after the idle period. */
  unsubscribe(uri: string): void {
    if (!this.policy.subscribed.delete(uri) || this.policy.subscribed.size > 0 || this.stopped) return;
    if (this.worker && !this.parking) this.armIdle();
  }

  /** Starts the plugin if it is parked (or being parked) while it has subscribers. */
  private async runForSubscribers(): Promise<void> {
    for (;;) {
      while (!this.stopped && (this.suspect || this.restarting || this.parking || this.waking)) await (this.suspect ?? this.restarting ?? this.parking ?? this.waking)?.catch(() => undefined);
      if (this.stopped || this.policy.subscribed.size === 0 || this.worker || !this.parked) return;
      await this.wake();
    }
  }

  /** (Re)starts the wait after which an idle worker is asked to park. */
  private armIdle(ms = this.opts.idleMs ?? 0) {
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (!this.parkable() || this.channel.size > 0) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      void this.park();
    }, ms);
    this.idleTimer.unref();
  }

  /**
   * Ends the idle thread, keeping the manifest. The worker is asked first: it refuses while
   * the plugin keeps background work referenced (then it is asked again after the next idle
   * period), and agrees after running the plugin's teardown. Calls arriving meanwhile wait.
   */
  private park(): Promise<void> {
    const worker = this.worker;
    if (this.parking || !worker || this.stopped || this.channel.size > 0 || this.suspect || this.restarting || !this.parkable()) return Promise.resolve();
    this.parking = (async () => {
      const answer = await new Promise<{ ok: boolean; background: string[] } | undefined>((resolve) => {
        const finish = (v: { ok: boolean; background: string[] } | undefined) => {
          clearTimeout(timer);
          worker.off("message", onMessage);
          worker.off("exit", onExit);
          resolve(v);
        };
        const onMessage = (m: WorkerToHost) => m.type === "park-answer" && finish(m);
        const onExit = () => finish({ ok: true, background: [] });
        const timer = setTimeout(() => finish(undefined), PARK_ANSWER_MS);
        worker.on("message", onMessage);
        worker.on("exit", onExit);
        this.channel.post(worker, { type: "park", force: this.policy.keepAlive === false });
      });
      // restarted or crashed meanwhile: that path owns the thread now
      if (this.worker !== worker) return;
      if (answer && !answer.ok) {
        this.policy.background = answer.background;
        this.opts.logger.debug({ plugin: this.opts.defaultName, background: answer.background }, "plugin keeps background work; not parking it");
        this.armIdle();
        return;
      }
      // Torn down (or no answer: a loop of its own between calls, which parking ends as
      // well). A stop that came meanwhile waited for this and finds no thread to tear down.
      this.policy.background = [];
      this.worker = undefined;
      this.parked = !this.stopped;
      this.heapUsed = 0;
      this.parks++;
      this.emit("parked");
      this.opts.logger.debug({ plugin: this.opts.defaultName }, "idle plugin parked");
      await worker.terminate().catch(() => undefined);
    })().finally(() => (this.parking = undefined));
    return this.parking;
  }

  private send(req: Omit<CallRequest, "type" | "id">, opts: CallOptions): Promise<CallOutcome> {
    if (this.stopped || !this.worker) return Promise.reject(this.stopError ?? new WorkerGoneError(`plugin ${this.opts.defaultName} is not running`));
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    return this.channel.send(this.worker, req, opts, opts.timeoutMs ?? this.opts.callTimeoutMs);
  }

  /** Asks the thread for its heap size; resolves false if it does not answer in time. */
  probe(timeoutMs = STUCK_PROBE_MS): Promise<boolean> {
    const worker = this.worker;
    if (!worker) return Promise.resolve(false);
    return this.channel.probe(worker, timeoutMs);
  }

  /**
   * Waits (at most `graceMs`) for in-flight calls, fails the ones still running with
   * `failWith` (default: WorkerGoneError "unloaded"), runs the plugin's teardown, ends the
   * thread. New calls are refused from the start. Calling it again while it runs may only
   * shorten the wait (a reload's drain overtaken by a shutdown) and resolves with the first.
   */
  stop(graceMs: number, failWith?: Error): Promise<void> {
    this.stopped = true;
    clearTimeout(this.idleTimer);
    if (failWith) this.stopError = failWith;
    this.graceMs = graceMs;
    const endsAt = Date.now() + graceMs;
    if (endsAt < this.drainEndsAt) {
      this.drainEndsAt = endsAt;
      clearTimeout(this.drainTimer);
      this.drainTimer = setTimeout(() => this.endDrain?.(), graceMs);
    }
    return (this.stopping ??= this.finishStop());
  }

  private async finishStop(): Promise<void> {
    // a thread booting for a call ends with the wake (it sees `stopped`); one being parked
    // has run its teardown already and must not run it twice
    await this.waking?.catch(() => undefined);
    await this.parking;
    if (this.channel.size > 0) {
      await new Promise<void>((resolve) => {
        this.endDrain = resolve;
        this.drainWaiters.push(resolve);
      });
    }
    clearTimeout(this.drainTimer);
    const worker = this.worker;
    this.worker = undefined;
    this.channel.failAll(this.stopError ?? new WorkerGoneError(`plugin ${this.opts.defaultName} was unloaded`));
    if (!worker) return;
    // teardown has its own budget: a drain that used the whole grace period must not skip it
    const teardownMs = Math.min(this.graceMs, 2_000);
    const answered = await Promise.race([
      new Promise<boolean>((resolve) => {
        worker.on("message", (m: WorkerToHost) => m.type === "torn-down" && resolve(true));
        worker.on("exit", () => resolve(true));
        this.channel.post(worker, { type: "teardown" });
      }),
      delay(teardownMs).then(() => false),
    ]);
    await worker.terminate(answered ? undefined : { unanswered: true });
  }

  private onMessage(msg: WorkerToHost) {
    if (msg.type === "pong") this.heapUsed = msg.heapUsed;
    if (this.channel.receive(msg)) return;
    switch (msg.type) {
      case "log":
        this.opts.logger[msg.level]({ data: msg.data }, msg.message);
        break;
      case "resources-changed":
        if (msg.background) this.policy.pushesInBackground = true;
        this.emit("resources-changed");
        break;
      case "resource-updated":
        // Not a reason to stay up by itself: an update reaches only subscribers, and while
        // there are some the plugin is not parked (see subscribe).
        this.emit("resource-updated", msg.uri);
        break;
      default:
        break;
    }
  }

  /** Probes the thread, and restarts it if it does not answer. */
  private checkStuck(worker: PluginThread, reason: string) {
    // A sync infinite loop never answers a ping; an async slow handler does. Until we know,
    // new calls wait (see `call`) rather than queue behind a loop that would fail them too.
    if (this.suspect || this.worker !== worker || this.stopped) return;
    const check: Promise<void> = this.probe()
      .then((alive) => {
        if (!alive && this.worker === worker && !this.stopped) {
          this.opts.logger.warn({ plugin: this.opts.defaultName, reason }, "plugin worker is stuck; restarting it");
          return this.restart(worker, reason, true);
        }
      })
      .finally(() => {
        if (this.suspect === check) this.suspect = undefined;
      });
    this.suspect = check;
  }

  private onExit(worker: PluginThread, code: number) {
    if (this.worker !== worker) return;
    if (this.stopped) {
      // a version draining after a reload: its calls can no longer be answered, nor its teardown run
      this.worker = undefined;
      this.channel.failAll(new WorkerGoneError(`plugin ${this.opts.defaultName} worker exited with code ${code}`));
      return;
    }
    this.opts.logger.error({ plugin: this.opts.defaultName, code }, "plugin worker exited unexpectedly; restarting it");
    // a shared thread that ended while others loaded: not this plugin's crash, so not counted
    void this.restart(worker, `worker exited with code ${code}`, false, !worker.endedByOthersLoad);
  }

  private restart(old: PluginThread, reason: string, stuck = false, counted = true): Promise<void> {
    this.restarting ??= this.doRestart(old, reason, stuck, counted).finally(() => (this.restarting = undefined));
    return this.restarting;
  }

  private async doRestart(old: PluginThread, reason: string, stuck: boolean, counted: boolean): Promise<void> {
    this.worker = undefined;
    this.channel.failAll(new WorkerGoneError(`plugin ${this.opts.defaultName} worker restarted: ${reason}`));
    old.removeAllListeners("exit");
    await old.terminate({ stuck }).catch(() => undefined);
    const now = Date.now();
    this.restartTimes = this.restartTimes.filter((t) => now - t < 60_000);
    if (counted && this.restartTimes.length >= MAX_RESTARTS_PER_MINUTE) {
      this.stopped = true;
      this.emit("restarted", { reason, ok: false, error: `gave up after ${MAX_RESTARTS_PER_MINUTE} restarts in a minute` });
      return;
    }
    if (counted) this.restartTimes.push(now);
    let booted;
    try {
      booted = await this.boot();
    } catch (err) {
      // A shared thread that ended again under this load (a neighbour that keeps crashing it):
      // another restart, counted, rather than giving up on this plugin at once.
      if (err instanceof PluginLoadError && err.threadEnded && this.opts.group && !this.stopped) return this.doRestart(old, reason, false, true);
      // stopped meanwhile (a reload replaced it, the daemon is closing): nobody to tell
      const stoppedMeanwhile = this.stopped;
      this.stopped = true;
      if (!stoppedMeanwhile) this.emit("restarted", { reason, ok: false, error: messageOf(err) });
      return;
    }
    if (this.stopped) {
      // stopped (unloaded, shutting down) while the fresh thread booted: it serves nobody
      await booted.worker.terminate();
      return;
    }
    this.policy.keepAlive = booted.keepAlive;
    this.attach(booted.worker);
    this.armIdle();
    this.emit("restarted", { reason, ok: true });
  }
}

function delay(ms: number) {
  return new Promise<void>((r) => setTimeout(r, ms).unref());
}
