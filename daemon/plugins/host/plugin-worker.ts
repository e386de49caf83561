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
import { WorkerPool } from "./worker-pool.ts";
import type { CallOptions, CallOutcome, PluginHost } from "./plugin-host.ts";
import type { PluginThread, ThreadSource } from "./plugin-thread.ts";
import { bootPlugin, type Booted } from "./plugin-boot.ts";
import type { CallRequest, PluginManifest, WorkerToHost } from "../worker-protocol.ts";
import { CallChannel } from "./call-channel.ts";
import { ParkPolicy } from "./park-policy.ts";
import { bootOrPark, mayMove, threadOf, type Drain, type Phase, type PhaseOf, type Stopping } from "./worker-phase.ts";

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
/** a phase's `done` until the work it names has begun (it is set right after the transition) */
const SETTLED = Promise.resolve();
const ignore = () => undefined;

export class PluginWorker extends EventEmitter<PluginWorkerEvents> implements PluginHost {
  manifest?: PluginManifest;
  heapUsed = 0;
  /** honours `CallOptions.stopHandle` */
  readonly stoppable = true;
  /** where the thread is in its life (worker-phase.ts): changed only by `transition` */
  private phase: Phase = { name: "new" };
  /** the calls in flight to the thread */
  private readonly channel: CallChannel;
  /** whether an idle thread may be parked */
  private readonly policy: ParkPolicy;
  private restartTimes: number[] = [];
  private drainWaiters: (() => void)[] = [];
  /** the version that replaced this one in the registry (set by `retire`) */
  private successor?: PluginHost;
  /** calls inside `call` that have not been sent yet (waiting for a wake, park or restart) */
  private waitingCalls = 0;
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

  /**
   * The one place the phase changes. A move the table (worker-phase.ts) does not allow is a
   * bug: it is logged and taken anyway, since refusing it would leave the worker in a phase
   * that no longer describes it, and nothing here may throw into a request.
   */
  private transition<P extends Phase>(to: P): P {
    const from = this.phase.name;
    if (!mayMove(from, to.name)) this.opts.logger.error({ plugin: this.opts.defaultName, from, to: to.name }, "plugin worker: illegal phase transition (a bug); taking it anyway");
    this.phase = to;
    return to;
  }

  /** the thread serving calls, or being parked or drained */
  private get worker(): PluginThread | undefined {
    return threadOf(this.phase);
  }

  /** refuses new calls: stopping or stopped */
  private get stopped(): boolean {
    return this.phase.name === "stopping" || this.phase.name === "stopped";
  }

  get inflight(): number {
    return this.channel.size;
  }

  get state(): WorkerState {
    switch (this.phase.name) {
      case "stopping":
      case "stopped":
        return "stopped";
      case "parked":
      case "waking":
        return "parked";
      default:
        return "running";
    }
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
    return this.phase.name === "running" || this.phase.name === "probing";
  }

  /**
   * Parks the thread now, as the idle period would, unless something keeps it up: calls in
   * flight, a start or restart under way, subscribers, keepAlive, or parking being off. True
   * when the park has begun (the plugin may still refuse it: background work it keeps).
   */
  parkIfIdle(): boolean {
    if (this.phase.name !== "running" || this.channel.size > 0 || !this.parkable()) return false;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.park();
    return true;
  }

  /** Why an idle worker is kept running; undefined when it may be parked (or parking is off). */
  get keptAliveBy(): string | undefined {
    if (this.stopped) return undefined;
    return this.policy.keptAliveBy(this.manifest?.name ?? this.opts.defaultName);
  }

  /** Starts the thread and loads the plugin. Rejects with PluginLoadError (located when possible). */
  start(): Promise<PluginManifest> {
    const loading = this.transition({ name: "loading", done: SETTLED });
    const loaded = this.load(loading);
    loading.done = loaded.then(ignore, ignore);
    return loaded;
  }

  private async load(loading: PhaseOf<"loading">): Promise<PluginManifest> {
    let booted;
    try {
      booted = await this.boot(true);
    } catch (err) {
      if (this.phase === loading) this.transition({ name: "stopped" });
      throw err;
    }
    this.manifest = booted.manifest;
    this.policy.keepAlive = booted.keepAlive;
    // stopped while it loaded: the thread serves nobody
    if (this.phase !== loading) await booted.worker.terminate();
    else {
      this.attach(booted.worker);
      this.armIdle(this.opts.firstIdleMs);
    }
    return booted.manifest;
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
    this.transition({ name: "parked" });
    return manifest;
  }

  /** The plugin's own `keepAlive`, as its last load reported it. */
  get keepAlive(): boolean | undefined {
    return this.policy.keepAlive;
  }
  /** A thread with the plugin loaded in it, not yet serving (plugin-boot.ts). */
  private boot(newVersion = false): Promise<Booted> {
    this.opts.pool ??= new WorkerPool({ heapMb: this.opts.heapMb, warm: false });
    return bootPlugin(this.opts.pool, this.opts, newVersion, () => this.stopped);
  }

  private attach(worker: PluginThread) {
    this.transition({ name: "running", thread: worker });
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
        const p = this.phase;
        // While a worker is probed after a timeout, restarted or parked, calls wait for the
        // outcome instead of joining a thread that may be stuck or ending, and failing with it.
        if (p.name === "probing" || p.name === "restarting" || p.name === "parking") {
          await p.done.catch(ignore);
          continue;
        }
        if (p.name !== "parked" && p.name !== "waking") break;
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

  /** Starts a parked plugin again (or joins the start under way): a thread from the pool loads the same bundle (and runs setup). */
  private wake(): Promise<void> {
    if (this.phase.name === "waking") return this.phase.done;
    const waking = this.transition({ name: "waking", done: SETTLED });
    waking.done = this.runWake(waking);
    return waking.done;
  }

  private async runWake(waking: PhaseOf<"waking">): Promise<void> {
    const started = performance.now();
    let booted;
    try {
      booted = await this.boot();
    } catch (err) {
      if (this.phase === waking) this.transition({ name: "parked" });
      this.emit("wake-failed", messageOf(err));
      throw new WorkerGoneError(`plugin ${this.opts.defaultName} could not be started again: ${messageOf(err)}`);
    }
    if (this.phase !== waking) {
      // stopped while it booted: the stop waits for this
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
    if (!this.policy.subscribed.delete(uri) || this.policy.subscribed.size > 0) return;
    if (this.running) this.armIdle();
  }

  /** Starts the plugin if it is parked (or being parked) while it has subscribers. */
  private async runForSubscribers(): Promise<void> {
    for (;;) {
      const p = this.phase;
      if (p.name === "probing" || p.name === "restarting" || p.name === "parking" || p.name === "waking") {
        await p.done.catch(ignore);
        continue;
      }
      if (p.name !== "parked" || this.policy.subscribed.size === 0) return;
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
      this.park();
    }, ms);
    this.idleTimer.unref();
  }

  /**
   * Ends the idle thread, keeping the manifest. The worker is asked first: it refuses while
   * the plugin keeps background work referenced (then it is asked again after the next idle
   * period), and agrees after running the plugin's teardown. Calls arriving meanwhile wait.
   */
  private park(): void {
    const p = this.phase;
    if (p.name !== "running" || this.channel.size > 0 || !this.parkable()) return;
    const parking = this.transition({ name: "parking", thread: p.thread, done: SETTLED });
    parking.done = this.runPark(parking);
  }

  private async runPark(parking: PhaseOf<"parking">): Promise<void> {
    const worker = parking.thread;
    const answer = await this.askToPark(worker);
    const now = this.phase;
    // A stop that came meanwhile waited for this (see worker-phase.ts); if the thread has
    // exited under that stop, nothing is left to do here.
    const stopping = now.name === "stopping" && now.thread === worker ? now : undefined;
    if (now !== parking && !stopping) return;
    if (answer && !answer.ok) {
      this.policy.background = answer.background;
      this.opts.logger.debug({ plugin: this.opts.defaultName, background: answer.background }, "plugin keeps background work; not parking it");
      if (!stopping) {
        this.transition({ name: "running", thread: worker });
        this.armIdle();
      }
      return;
    }
    // Torn down (or no answer: a loop of its own between calls, which parking ends as
    // well). A stop waiting for this finds no thread to tear down.
    this.policy.background = [];
    if (stopping) stopping.thread = undefined;
    else this.transition({ name: "parked" });
    this.heapUsed = 0;
    this.parks++;
    this.emit("parked");
    this.opts.logger.debug({ plugin: this.opts.defaultName }, "idle plugin parked");
    await worker.terminate().catch(ignore);
  }

  /** The thread's answer to "park": refused (with the background work it keeps), agreed, or none in time. */
  private askToPark(worker: PluginThread): Promise<{ ok: boolean; background: string[] } | undefined> {
    return new Promise((resolve) => {
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
  }

  private send(req: Omit<CallRequest, "type" | "id">, opts: CallOptions): Promise<CallOutcome> {
    const p = this.phase;
    if (p.name === "stopping" || p.name === "stopped") return Promise.reject(p.error ?? new WorkerGoneError(`plugin ${this.opts.defaultName} is not running`));
    if (!this.worker) return Promise.reject(new WorkerGoneError(`plugin ${this.opts.defaultName} is not running`));
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
   * A boot or park under way ends first (worker-phase.ts).
   */
  stop(graceMs: number, failWith?: Error): Promise<void> {
    const p = this.phase;
    if (p.name === "stopped") {
      if (failWith) p.error = failWith;
      return SETTLED;
    }
    clearTimeout(this.idleTimer);
    if (p.name === "stopping") {
      if (failWith) p.error = failWith;
      this.shortenDrain(p.drain, graceMs);
      return p.done;
    }
    const stopping = this.transition({ name: "stopping", thread: this.worker, after: bootOrPark(p), drain: { endsAt: Infinity, graceMs, expired: false }, error: failWith, done: SETTLED });
    this.shortenDrain(stopping.drain, graceMs);
    stopping.done = this.finishStop(stopping);
    return stopping.done;
  }

  private shortenDrain(drain: Drain, graceMs: number) {
    drain.graceMs = graceMs;
    const endsAt = Date.now() + graceMs;
    if (endsAt >= drain.endsAt) return;
    drain.endsAt = endsAt;
    clearTimeout(drain.timer);
    drain.timer = setTimeout(() => {
      drain.expired = true;
      drain.end?.();
    }, graceMs);
  }

  private async finishStop(stopping: Stopping): Promise<void> {
    // a thread booting ends with its boot (it sees the stop); one being parked has run its
    // teardown already and must not run it twice
    await stopping.after?.catch(ignore);
    if (this.channel.size > 0 && !stopping.drain.expired) {
      await new Promise<void>((resolve) => {
        stopping.drain.end = resolve;
        this.drainWaiters.push(resolve);
      });
    }
    clearTimeout(stopping.drain.timer);
    const worker = stopping.thread;
    stopping.thread = undefined;
    this.channel.failAll(stopping.error ?? new WorkerGoneError(`plugin ${this.opts.defaultName} was unloaded`));
    if (worker) await this.tearDown(worker, stopping.drain.graceMs);
    this.transition({ name: "stopped", error: stopping.error });
  }

  /** Runs the plugin's teardown and ends its thread. */
  private async tearDown(worker: PluginThread, graceMs: number): Promise<void> {
    // teardown has its own budget: a drain that used the whole grace period must not skip it
    const teardownMs = Math.min(graceMs, 2_000);
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

  /**
   * Probes the thread, and restarts it if it does not answer. Only a running thread is
   * probed: while parking, the park's own deadline ends one that does not answer.
   */
  private checkStuck(worker: PluginThread, reason: string) {
    // A sync infinite loop never answers a ping; an async slow handler does. Until we know,
    // new calls wait (see `call`) rather than queue behind a loop that would fail them too.
    const p = this.phase;
    if (p.name !== "running" || p.thread !== worker) return;
    const probing = this.transition({ name: "probing", thread: worker, done: SETTLED });
    probing.done = this.runProbe(probing, reason);
  }

  private async runProbe(probing: PhaseOf<"probing">, reason: string): Promise<void> {
    const alive = await this.probe();
    // stopped, or the thread exited (and is restarting) meanwhile
    if (this.phase !== probing) return;
    if (alive) {
      this.transition({ name: "running", thread: probing.thread });
      // an idle timer that fired during the probe could not park it
      this.armIdle();
      return;
    }
    this.opts.logger.warn({ plugin: this.opts.defaultName, reason }, "plugin worker is stuck; restarting it");
    await this.restart(probing.thread, reason, true);
  }

  private onExit(worker: PluginThread, code: number) {
    if (this.worker !== worker) return;
    const p = this.phase;
    // idle and already ending: the park takes the exit as its answer (worker-phase.ts)
    if (p.name === "parking") return;
    if (p.name === "stopping") {
      // a version draining after a reload: its calls can no longer be answered, nor its teardown run
      p.thread = undefined;
      this.channel.failAll(new WorkerGoneError(`plugin ${this.opts.defaultName} worker exited with code ${code}`));
      return;
    }
    this.opts.logger.error({ plugin: this.opts.defaultName, code }, "plugin worker exited unexpectedly; restarting it");
    // a shared thread that ended while others loaded: not this plugin's crash, so not counted
    void this.restart(worker, `worker exited with code ${code}`, false, !worker.endedByOthersLoad);
  }

  /** Ends `old` and starts a fresh thread in its place (or joins the restart under way). */
  private restart(old: PluginThread, reason: string, stuck = false, counted = true): Promise<void> {
    if (this.phase.name === "restarting") return this.phase.done;
    const restarting = this.transition({ name: "restarting", done: SETTLED });
    this.channel.failAll(new WorkerGoneError(`plugin ${this.opts.defaultName} worker restarted: ${reason}`));
    old.removeAllListeners("exit");
    restarting.done = this.runRestart(restarting, old, reason, stuck, counted);
    return restarting.done;
  }

  private async runRestart(restarting: PhaseOf<"restarting">, old: PluginThread, reason: string, stuck: boolean, counted: boolean): Promise<void> {
    await old.terminate({ stuck }).catch(ignore);
    for (;;) {
      // stopped meanwhile (a reload replaced it, the daemon is closing): no thread to start
      if (this.phase !== restarting) return;
      const now = Date.now();
      this.restartTimes = this.restartTimes.filter((t) => now - t < 60_000);
      if (counted && this.restartTimes.length >= MAX_RESTARTS_PER_MINUTE) {
        this.transition({ name: "stopped" });
        this.emit("restarted", { reason, ok: false, error: `gave up after ${MAX_RESTARTS_PER_MINUTE} restarts in a minute` });
        return;
      }
      if (counted) this.restartTimes.push(now);
      let booted;
      try {
        booted = await this.boot();
      } catch (err) {
        if (this.phase !== restarting) return;
        // A shared thread that ended again under this load (a neighbour that keeps crashing it):
        // another restart, counted, rather than giving up on this plugin at once.
        if (err instanceof PluginLoadError && err.threadEnded && this.opts.group) {
          counted = true;
          continue;
        }
        this.transition({ name: "stopped" });
        this.emit("restarted", { reason, ok: false, error: messageOf(err) });
        return;
      }
      if (this.phase !== restarting) {
        // stopped while the fresh thread booted: it serves nobody (the stop waits for this)
        await booted.worker.terminate();
        return;
      }
      this.policy.keepAlive = booted.keepAlive;
      this.attach(booted.worker);
      this.armIdle();
      this.emit("restarted", { reason, ok: true });
      return;
    }
  }
}

function delay(ms: number) {
  return new Promise<void>((r) => setTimeout(r, ms).unref());
}
