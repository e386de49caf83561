/**
 * A worker group: plugins that opted into sharing one worker thread (config `workerGroups`).
 * A thread of its own costs each plugin about 15 MB; in a group, a plugin costs what its
 * code and data take. What they give up is isolation from each other: they share the heap
 * limit, a crash (`process.exit`, out of memory) or a loop in one restarts all of them, and
 * they are not parked (they cost little while idle).
 *
 * Each plugin version gets a member: its own MessagePort into the shared thread, which
 * PluginWorker drives exactly like a thread of its own (plugin-thread.ts). A module once
 * imported stays in its thread for the thread's life, so every reload leaves the old version's
 * code behind (and whatever its teardown left running): after enough reloads a new thread
 * takes the next loads, and the old one ends when its last plugin has moved or been unloaded.
 */
import { MessageChannel, receiveMessageOnPort, type MessagePort, type Worker } from "node:worker_threads";
import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import type { PluginThread, TakeOptions, ThreadSource } from "./plugin-thread.ts";
import type { ThreadControl, WorkerToHost } from "../worker-protocol.ts";
import { logThreadOutput, spawnPluginThread } from "./worker-pool.ts";
import { WorkerGoneError } from "../../errors.ts";

export interface WorkerGroupOptions {
  name: string;
  /** the heap limit of the shared thread (all its plugins together) */
  heapMb: number;
  logger: Logger;
  /**
   * How long the thread may go without answering a ping, once a plugin in it did not
   * finish a load or teardown in time, before it is ended as stuck (the call timeout).
   */
  patienceMs: number;
  /** how to start the shared thread (tests run the entry from source) */
  spawn?: () => Worker;
  /**
   * A thread takes new loads until the versions it has left behind reach this many, or
   * as many as it serves, whichever is more.
   */
  staleLoadsLimit?: number;
}

const STALE_LOADS_LIMIT = 32;

export class WorkerGroup implements ThreadSource {
  private current?: SharedThread;
  private readonly threads = new Set<SharedThread>();
  private closed = false;
  /** loads go one at a time (see take) */
  private serial = false;
  private serialEpoch = 0;
  private laneBusy = false;
  private lane: (() => void)[] = [];

  constructor(private readonly opts: WorkerGroupOptions) {}

  get name(): string {
    return this.opts.name;
  }

  /** Threads up now (the current one, and older ones still serving plugins not reloaded since). */
  get threadCount(): number {
    return this.threads.size;
  }

  async take(opts: TakeOptions = {}): Promise<{ worker: PluginThread; release: () => void }> {
    // After a crash under a load, loads go one at a time until none waits: a plugin whose
    // own load ends the thread is then alone when it does, and only it is blamed.
    if (opts.afterCrash) this.loadOneAtATime();
    const serial = this.serial;
    if (serial) {
      if (this.laneBusy) await new Promise<void>((r) => this.lane.push(r));
      this.laneBusy = true;
    }
    const epoch = this.serialEpoch;
    let released = false;
    const release = () => {
      if (released || !serial) return;
      released = true;
      const next = this.lane.shift();
      if (next) return next();
      this.laneBusy = false;
      // a crash during this load asked for one at a time again: the loads after it honour that
      if (epoch === this.serialEpoch) this.serial = false;
    };
    if (this.closed) {
      release();
      throw new WorkerGoneError(`worker group ${this.opts.name} is closed`);
    }
    try {
      let t = this.current;
      if (!t || t.ending || t.stale >= Math.max(this.opts.staleLoadsLimit ?? STALE_LOADS_LIMIT, t.size)) {
        t = this.current = new SharedThread(this, (this.opts.spawn ?? (() => spawnPluginThread(this.opts.heapMb, true)))(), this.opts);
        this.threads.add(t);
      }
      return { worker: t.attach(opts.newVersion ?? false), release };
    } catch (err) {
      // a thread that could not even be created must not hold the lane: later loads would wait forever
      release();
      throw err;
    }
  }

  /** Ends every thread of the group (its plugins have been stopped first). */
  close(): Promise<void> {
    this.closed = true;
    return Promise.all([...this.threads].map((t) => t.end())).then(() => undefined);
  }

  /** From now until no load waits, loads go one at a time (see take). */
  loadOneAtATime(): void {
    this.serial = true;
    this.serialEpoch++;
  }

  /** A thread has ended (or was emptied): it takes no more loads. */
  forget(t: SharedThread): void {
    this.threads.delete(t);
    if (this.current === t) this.current = undefined;
  }
}

/** One thread of a group, with the plugins attached to it. */
class SharedThread {
  private readonly members = new Set<GroupMember>();
  private loads = 0;
  ending = false;
  /** set while the thread is asked whether it still answers */
  private answered?: () => void;
  /** when a load here last began or ended (see PluginThread.loadQueueMovedAt) */
  loadQueueMovedAt = performance.now();
  private pings = 0;

  constructor(
    private readonly group: WorkerGroup,
    private readonly worker: Worker,
    private readonly opts: WorkerGroupOptions,
  ) {
    const log = opts.logger.child({ workerGroup: opts.name });
    logThreadOutput(worker, log);
    worker.on("message", (m: WorkerToHost) => {
      if (m.type === "log") log[m.level]({ data: m.data }, m.message);
      else if (m.type === "pong") this.answered?.();
    });
    // Which member's doing it was cannot be known (out of memory, say): said once, for the group.
    worker.on("error", (err) => log.error({ err: err.message }, "worker group thread failed"));
    worker.on("exit", (code) => {
      this.ending = true;
      this.group.forget(this);
      // A thread that ends while plugins load is blamed on those loads: the members already
      // running restart without it counting against their restart limit, and the loads
      // that follow go one at a time, so the next crash finds its cause alone.
      this.answered?.();
      const members = [...this.members];
      if (members.some((m) => m.loading)) this.group.loadOneAtATime();
      // only a new version's load takes the blame: a restart's load is no more suspect than the rest
      const newVersionLoading = members.some((m) => m.loading && m.newVersion);
      for (const m of members) m.threadEnded(code, newVersionLoading && !m.loading);
      this.members.clear();
    });
  }

  get size(): number {
    return this.members.size;
  }

  /** Versions loaded here that no longer serve: their modules stay in the thread. */
  get stale(): number {
    return this.loads - this.members.size;
  }

  attach(newVersion: boolean): GroupMember {
    const { port1, port2 } = new MessageChannel();
    this.worker.postMessage({ type: "attach", port: port2 } satisfies ThreadControl, [port2]);
    const member = new GroupMember(this, port1, newVersion);
    this.members.add(member);
    this.loads++;
    return member;
  }

  /**
   * A plugin in this thread did not finish a load or teardown in time: if the thread does
   * not answer a ping within the group's patience either, something loops in it, and it
   * is ended (its other plugins restart as after a crash). Long synchronous calls of other
   * plugins shorter than that cost nothing.
   */
  checkAnswers(): void {
    if (this.answered || this.ending) return;
    const timer = setTimeout(() => {
      this.answered = undefined;
      this.opts.logger.warn({ workerGroup: this.opts.name, ms: this.opts.patienceMs }, "worker group thread stopped answering; ending it");
      void this.end();
    }, this.opts.patienceMs);
    timer.unref();
    this.answered = () => {
      clearTimeout(timer);
      this.answered = undefined;
    };
    this.worker.postMessage({ type: "ping", id: ++this.pings } satisfies ThreadControl);
  }

  /** A member let go: the thread ends with its last one. */
  detached(member: GroupMember): void {
    this.members.delete(member);
    if (this.members.size === 0) void this.end();
  }

  /** Ends the thread (all its plugins with it: they restart elsewhere, as after a crash). */
  end(): Promise<number> {
    this.answered?.();
    this.ending = true;
    this.group.forget(this);
    return this.worker.terminate();
  }
}

/** One plugin version's share of a group thread: a PluginThread over its own port. */
class GroupMember extends EventEmitter implements PluginThread {
  private gone = false;
  private exitCode = 0;
  /** its plugin has not yet answered the load */
  loading = true;
  /** see PluginThread.endedByOthersLoad */
  endedByOthersLoad = false;
  /** `terminate({ stuck })` calls waiting for the thread to end */
  private waiting: ((code: number) => void)[] = [];

  constructor(
    private readonly thread: SharedThread,
    private readonly port: MessagePort,
    /** loading a new version (a first load or a reload), not restarting a known one */
    readonly newVersion: boolean,
  ) {
    super();
    port.on("message", (m: WorkerToHost | WorkerToHost[]) => this.receive(m));
    // as a Worker's: an "error" nobody listens to must not throw in the thread's handler
    this.on("error", () => undefined);
  }

  get loadQueueMovedAt(): number {
    return this.thread.loadQueueMovedAt;
  }

  private receive(m: WorkerToHost | WorkerToHost[]) {
    if (this.loading && !Array.isArray(m)) {
      if (m.type === "load-started") this.thread.loadQueueMovedAt = performance.now();
      else if (m.type === "loaded" || m.type === "load-error") {
        this.loading = false;
        this.thread.loadQueueMovedAt = performance.now();
      }
    }
    this.emit("message", m);
  }

  postMessage(msg: unknown): void {
    if (!this.gone) this.port.postMessage(msg);
  }

  /**
   * Detaches this plugin: its port closes, and the thread drops it when it next looks (a
   * member busy with a long synchronous call must not cost the others their thread).
   * `stuck` ends the thread now; `unanswered` ends it if it stops answering (see
   * PluginThread.terminate).
   */
  terminate(opts: { stuck?: boolean; unanswered?: boolean } = {}): Promise<number> {
    if (this.gone) return Promise.resolve(this.exitCode);
    if (opts.stuck) {
      const ended = new Promise<number>((r) => this.waiting.push(r));
      void this.thread.end();
      return ended;
    }
    if (opts.unanswered) this.thread.checkAnswers();
    this.port.close();
    this.finish(0);
    return Promise.resolve(0);
  }

  /** The whole thread ended (crash, stuck, group closing); `byOthersLoad`: while others loaded and this one ran. */
  threadEnded(code: number, byOthersLoad = false): void {
    if (this.gone) return;
    this.endedByOthersLoad = byOthersLoad;
    // What a running plugin sent before its thread ended (an answer, then process.exit) may
    // still wait on the port: delivered first, as a Worker delivers its own port's messages
    // before "exit"; closing the port would drop them, and a call that was answered would
    // fail. (A load the end interrupted stays interrupted: it is loaded again.)
    if (!this.loading) for (let m; (m = receiveMessageOnPort(this.port)); ) this.receive(m.message as WorkerToHost | WorkerToHost[]);
    this.port.close();
    this.finish(code);
  }

  private finish(code: number) {
    if (this.gone) return;
    this.gone = true;
    this.exitCode = code;
    this.thread.detached(this);
    this.emit("exit", code);
    for (const r of this.waiting.splice(0)) r(code);
  }
}
