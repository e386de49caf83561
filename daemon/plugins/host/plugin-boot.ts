/**
 * Loading one plugin version into a thread: take a thread from its source, send it the
 * bundle, and wait for the plugin's manifest (or its located load error) within the call
 * timeout. What happens to the thread after that is the worker's (plugin-worker.ts).
 */
import type { Logger } from "pino";
import { PluginLoadError } from "../../errors.ts";
import { logThreadOutput } from "./worker-pool.ts";
import { postTo } from "./call-channel.ts";
import type { PluginThread, TakeOptions, ThreadSource } from "./plugin-thread.ts";
import type { PluginManifest, WorkerToHost } from "../worker-protocol.ts";

export interface BootOptions {
  file: string;
  bundlePath: string;
  defaultName: string;
  dataDir: string;
  /** how long a load may take (in a worker group, counted from when it began) */
  callTimeoutMs: number;
  logger: Logger;
  /** the worker group whose thread the plugin shares, if any */
  group?: string;
}

/** A thread with the plugin loaded in it, not yet serving. */
export interface Booted {
  worker: PluginThread;
  manifest: PluginManifest;
  keepAlive?: boolean;
}

/**
 * Loads the plugin in a thread from `source`. In a worker group, a load the shared thread
 * ended under (another plugin may have crashed it) is tried once more, with the group's
 * loads one at a time, unless `abandoned()` says nobody wants the thread any more. Rejects
 * with PluginLoadError (located when possible).
 */
export async function bootPlugin(source: ThreadSource, opts: BootOptions, newVersion: boolean, abandoned: () => boolean): Promise<Booted> {
  try {
    return await bootOnce(source, opts, { newVersion });
  } catch (err) {
    if (!opts.group || !(err instanceof PluginLoadError && err.threadEnded) || abandoned()) throw err;
    opts.logger.warn({ plugin: opts.defaultName, group: opts.group }, "the worker group's thread ended while the plugin loaded; loading it again");
    return bootOnce(source, opts, { afterCrash: true, newVersion });
  }
}

async function bootOnce(source: ThreadSource, opts: BootOptions, takeOpts: TakeOptions): Promise<Booted> {
  const { worker, release } = await source.take(takeOpts);
  // a shared thread has none: its output is its group's (worker-group.ts)
  logThreadOutput(worker, opts.logger);
  const loaded = await awaitLoad(worker, release, opts);
  return { worker, manifest: loaded.manifest, keepAlive: loaded.keepAlive };
}

/** Sends the load and waits for its outcome; `release` gives the thread's load slot back either way. */
function awaitLoad(worker: PluginThread, release: () => void, opts: BootOptions): Promise<{ manifest: PluginManifest; keepAlive?: boolean }> {
  return new Promise((resolve, reject) => {
    let started = false;
    const timedOut = () => {
      // In a shared thread the load may wait behind other plugins' loads: its time counts
      // from when it began ("load-started"), and it waits as long as the loads before it
      // keep moving. One whose queue has stood still for the whole time gives up (and the
      // thread is ended if it no longer answers: see PluginThread.terminate).
      if (opts.group && !started && performance.now() - (worker.loadQueueMovedAt ?? 0) < opts.callTimeoutMs) {
        timer = setTimeout(timedOut, opts.callTimeoutMs);
        return;
      }
      done();
      reject(new PluginLoadError(`${opts.file}: loading took longer than ${opts.callTimeoutMs} ms`, { file: opts.file, line: 1 }));
      void worker.terminate({ unanswered: true });
    };
    let timer = setTimeout(timedOut, opts.callTimeoutMs);
    const onMessage = (msg: WorkerToHost) => {
      if (msg.type === "load-started") {
        started = true;
        if (opts.group) {
          clearTimeout(timer);
          timer = setTimeout(timedOut, opts.callTimeoutMs);
        }
      } else if (msg.type === "loaded") {
        done();
        resolve(msg);
      } else if (msg.type === "load-error") {
        done();
        void worker.terminate();
        const where = msg.error.location;
        const prefix = where && !msg.error.message.startsWith(where.file) ? `${where.file}:${where.line}${where.column ? `:${where.column}` : ""}: ` : "";
        reject(new PluginLoadError(`${prefix}${msg.error.message}`, where ?? { file: opts.file, line: 1 }));
      }
    };
    const onError = (err: Error) => {
      done();
      reject(new PluginLoadError(`${opts.file}: worker failed while loading: ${err.message}`, { file: opts.file, line: 1 }, { threadEnded: true }));
    };
    const onExit = (code: number) => {
      done();
      reject(new PluginLoadError(`${opts.file}: worker exited with code ${code} while loading`, { file: opts.file, line: 1 }, { threadEnded: true }));
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
    postTo(worker, { type: "load", bundlePath: opts.bundlePath, file: opts.file, defaultName: opts.defaultName, dataDir: opts.dataDir });
  });
}
