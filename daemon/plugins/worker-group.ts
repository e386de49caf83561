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
 * code behind: after enough reloads a new thread takes the next loads, and the old one ends
 * when its last plugin has moved or been unloaded.
 */
import { MessageChannel, type MessagePort, type Worker } from "node:worker_threads";
import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import type { PluginThread, ThreadSource } from "./plugin-thread.ts";
import type { ThreadControl, WorkerToHost } from "./worker-protocol.ts";
import { spawnPluginThread } from "./worker-pool.ts";
import { WorkerGoneError } from "../errors.ts";

export interface WorkerGroupOptions {
  name: string;
  /** the heap limit of the shared thread (all its plugins together) */
  heapMb: number;
  logger: Logger;
  /** how to start the shared thread (tests run the entry from source) */
  spawn?: () => Worker;
  /**
   * A thread takes new loads until the versions it has left behind reach this many, or
   * as many as it serves, whichever is more.
   */
  staleLoadsLimit?: number;
  /** how long a detached plugin's thread may take to let go before it is ended as stuck */
  detachTimeoutMs?: number;
}

const STALE_LOADS_LIMIT = 32;
const DETACH_TIMEOUT_MS = 1_000;

export class WorkerGroup implements ThreadSource {
  private current?: SharedThread;
  private readonly threads = new Set<SharedThread>();
  private closed = false;

  constructor(private readonly opts: WorkerGroupOptions) {}

  get name(): string {
    return this.opts.name;
  }

  /** Threads up now (the current one, and older ones still serving plugins not reloaded since). */
  get threadCount(): number {
    return this.threads.size;
  }

  async take(): Promise<{ worker: PluginThread; release: () => void }> {
    let t = this.current;
    if (this.closed) throw new WorkerGoneError(`worker group ${this.opts.name} is closed`);
    if (!t || t.ending || t.stale >= Math.max(this.opts.staleLoadsLimit ?? STALE_LOADS_LIMIT, t.size)) {
      t = this.current = new SharedThread(this, (this.opts.spawn ?? (() => spawnPluginThread(this.opts.heapMb, true)))(), this.opts);
      this.threads.add(t);
    }
    return { worker: t.attach(), release: () => undefined };
  }

  /** Ends every thread of the group (its plugins have been stopped first). */
  close(): Promise<void> {
    this.closed = true;
    return Promise.all([...this.threads].map((t) => t.end())).then(() => undefined);
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

  constructor(
    private readonly group: WorkerGroup,
    private readonly worker: Worker,
    private readonly opts: WorkerGroupOptions,
  ) {
    const log = opts.logger.child({ workerGroup: opts.name });
    const forward = (stream: NodeJS.ReadableStream, level: "info" | "warn") => {
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => {
        for (const line of chunk.split("\n")) if (line.trim()) log[level]({ console: true }, line);
      });
    };
    forward(worker.stdout, "info");
    forward(worker.stderr, "warn");
    worker.on("message", (m: WorkerToHost) => {
      if (m.type === "log") log[m.level]({ data: m.data }, m.message);
    });
    worker.on("error", (err) => {
      for (const m of this.members) m.emit("error", err);
    });
    worker.on("exit", (code) => {
      this.ending = true;
      this.group.forget(this);
      for (const m of [...this.members]) m.threadEnded(code);
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

  attach(): GroupMember {
    const { port1, port2 } = new MessageChannel();
    this.worker.postMessage({ type: "attach", port: port2 } satisfies ThreadControl, [port2]);
    const member = new GroupMember(this, port1, this.opts.detachTimeoutMs ?? DETACH_TIMEOUT_MS);
    this.members.add(member);
    this.loads++;
    return member;
  }

  /** A member let go: the thread ends with its last one. */
  detached(member: GroupMember): void {
    this.members.delete(member);
    if (this.members.size === 0) void this.end();
  }

  /** Ends the thread (all its plugins with it: they restart elsewhere, as after a crash). */
  end(): Promise<number> {
    this.ending = true;
    this.group.forget(this);
    return this.worker.terminate();
  }
}

/** One plugin version's share of a group thread: a PluginThread over its own port. */
class GroupMember extends EventEmitter implements PluginThread {
  private gone = false;
  private ended?: Promise<number>;

  constructor(
    private readonly thread: SharedThread,
    private readonly port: MessagePort,
    private readonly detachTimeoutMs: number,
  ) {
    super();
    port.on("message", (m: unknown) => this.emit("message", m));
    // as a Worker's: an "error" nobody listens to must not throw in the thread's handler
    this.on("error", () => undefined);
  }

  postMessage(msg: unknown): void {
    if (!this.gone) this.port.postMessage(msg);
  }

  /**
   * Detaches this plugin from the thread. A thread that does not let go in time is busy
   * with something that never ends (a loop): it is ended, and the group's other plugins
   * restart as after a crash.
   */
  terminate(): Promise<number> {
    this.ended ??= new Promise<number>((resolve) => {
      if (this.gone) return resolve(1);
      const timer = setTimeout(() => {
        void this.thread.end();
      }, this.detachTimeoutMs);
      this.port.once("close", () => {
        clearTimeout(timer);
        this.finish(0);
        resolve(0);
      });
      this.port.postMessage({ type: "detach" } satisfies ThreadControl);
    });
    return this.ended;
  }

  /** The whole thread ended (crash, stuck, group closing). */
  threadEnded(code: number): void {
    if (this.gone) return;
    this.port.close();
    this.finish(code);
  }

  private finish(code: number) {
    if (this.gone) return;
    this.gone = true;
    this.thread.detached(this);
    this.emit("exit", code);
  }
}
