/**
 * What a PluginWorker needs of the thread its plugin runs in: a `worker_threads` Worker of
 * its own (worker-pool.ts), or its place in a worker group's shared thread
 * (worker-group.ts), which behaves the same from outside.
 */

/** A plugin's thread, or its share of one: messages both ways, "exit" when it ends. */
export interface PluginThread {
  postMessage(msg: unknown): void;
  /** "message" (a WorkerToHost or an array of them), "error" (Error), "exit" (exit code) */
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
  removeAllListeners(event?: string): unknown;
  /**
   * Ends it; resolves once it has ended (and "exit" has been emitted). A thread of its own
   * always ends. A plugin sharing a thread is detached, and its thread ends with it only
   * when it must: `stuck` (it did not answer a ping after a call timeout) ends the thread
   * now; `unanswered` (a load or teardown that did not finish in time) ends it if the thread
   * as a whole then stops answering too.
   */
  terminate(opts?: { stuck?: boolean; unanswered?: boolean }): Promise<number>;
  /**
   * Set when it ended: a shared thread ended while other plugins loaded in it and this one
   * was already running, so the crash is most likely theirs, not this plugin's.
   */
  readonly endedByOthersLoad?: boolean;
  /** In a shared thread, which loads its plugins one at a time: when a load there last began or ended. */
  readonly loadQueueMovedAt?: number;
  /** the thread's console output, when the plugin has the thread to itself */
  readonly stdout?: NodeJS.ReadableStream | null;
  readonly stderr?: NodeJS.ReadableStream | null;
}

/** Where plugin threads come from. */
export interface ThreadSource {
  /**
   * A thread for one plugin version; the caller owns it from now on and calls `release`
   * once its plugin has loaded (or failed to).
   */
  take(opts?: TakeOptions): Promise<{ worker: PluginThread; release: () => void }>;
}

export interface TakeOptions {
  /**
   * A shared thread ended while this plugin loaded in it, perhaps through another plugin:
   * load again, one such load at a time, so that a plugin whose own load ends the thread
   * is the only one loading when it does.
   */
  afterCrash?: boolean;
  /** a new version's load (a first load or a reload), not a restart of a known one */
  newVersion?: boolean;
}
