/**
 * The calls between a PluginWorker and its thread: ids, the calls pending an answer, the
 * outbox that batches a turn's calls into one message, each call's timeout and
 * cancellation, a cancelled call's watch for a stuck thread, pings, and the questions a call
 * asks its client. What happens to the thread (parking, restarts, stopping) is the worker's
 * (plugin-worker.ts); this file only tells it when a call suggests the thread is stuck and
 * when the last call has ended.
 */
import { CallCancelledError, CallTimeoutError, ClientRequestError, PluginCallError, messageOf } from "../../errors.ts";
import type { CallOptions, CallOutcome } from "./plugin-host.ts";
import type { PluginThread } from "./plugin-thread.ts";
import type { CallRequest, ClientRequest, ClientResponse, HostToWorker, SerializedError, WorkerSpan, WorkerToHost } from "../worker-protocol.ts";

interface Pending {
  resolve: (v: CallOutcome) => void;
  reject: (e: Error & { span?: WorkerSpan }) => void;
  opts: CallOptions;
  timer?: NodeJS.Timeout;
  cleanup: () => void;
}

/** What the channel tells its worker. */
export interface ChannelOwner {
  /** the plugin's name, for error messages */
  readonly name: string;
  /** the thread serving calls now, if any (a call's questions are answered to it) */
  thread(): PluginThread | undefined;
  /** the last pending call has ended (answered, failed, timed out or cancelled) */
  drained(): void;
  /** a call was cancelled before it could be sent */
  cancelledUnsent(): void;
  /** a call timed out, or a cancelled one outlived its deadline: the thread may be stuck */
  suspectStuck(worker: PluginThread, reason: string): void;
}

export class CallChannel {
  /** When a call last started or ended. */
  lastActiveAt = 0;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private pongs = new Map<number, () => void>();
  /** cancelled calls not yet ended in the thread, each with a timer at its own deadline (see `watchCancelled`) */
  private cancelled = new Map<number, NodeJS.Timeout>();
  /**
   * Calls not yet posted, sent as one message at the end of this turn of the event loop:
   * each postMessage wakes the worker thread (a syscall and a context switch), which under
   * load cost more of the main thread than the calls themselves. setImmediate, not a
   * microtask, so that the calls of every request read in one poll phase go together.
   */
  private outbox: CallRequest[] = [];
  private outboxWorker?: PluginThread;

  constructor(private readonly owner: ChannelOwner) {}

  /** calls pending an answer */
  get size(): number {
    return this.pending.size;
  }

  /** Sends one call to `worker`; settles with its result, or rejects with PluginCallError, CallTimeoutError or CallCancelledError. */
  send(worker: PluginThread, req: Omit<CallRequest, "type" | "id">, opts: CallOptions, timeoutMs: number): Promise<CallOutcome> {
    this.lastActiveAt = performance.now();
    const id = this.nextId++;
    const startedAt = this.lastActiveAt;
    return new Promise<CallOutcome>((resolve, reject) => {
      const onAbort = () => {
        this.post(worker, { type: "cancel", id, reason: "cancelled by client" });
        const p = this.settle(id);
        if (!p) return;
        this.watchCancelled(id, worker, startedAt + timeoutMs - performance.now());
        p.reject(new CallCancelledError("request cancelled"));
      };
      const pending: Pending = {
        resolve,
        reject,
        opts,
        cleanup: () => {
          if (pending.timer) clearTimeout(pending.timer);
          opts.signal?.removeEventListener("abort", onAbort);
          if (opts.stopHandle) opts.stopHandle.stop = undefined;
        },
      };
      if (opts.signal?.aborted) {
        this.owner.cancelledUnsent();
        return reject(new CallCancelledError("request cancelled"));
      }
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      if (opts.stopHandle) opts.stopHandle.stop = onAbort;
      pending.timer = setTimeout(() => this.onTimeout(id, timeoutMs, worker), timeoutMs);
      this.pending.set(id, pending);
      // the request is ours from here (the caller built it for this call): no copy
      const msg = req as CallRequest;
      msg.type = "call";
      msg.id = id;
      this.queueCall(worker, msg);
    });
  }

  private queueCall(worker: PluginThread, msg: CallRequest) {
    if (this.outboxWorker !== worker) this.flush();
    this.outboxWorker = worker;
    if (this.outbox.push(msg) === 1) setImmediate(() => this.flush());
  }

  private flush() {
    const worker = this.outboxWorker;
    const calls = this.outbox;
    this.outboxWorker = undefined;
    if (!worker || calls.length === 0) return;
    this.outbox = [];
    try {
      postTo(worker, calls.length === 1 ? calls[0] : calls);
    } catch {
      // one call that cannot be cloned must not take the others with it
      for (const call of calls) {
        try {
          postTo(worker, call);
        } catch (err) {
          this.settle(call.id)?.reject(new PluginCallError({ message: `the call could not be passed to the plugin: ${messageOf(err)}` }));
        }
      }
    }
  }

  /** Anything but a call goes at once, after the calls queued before it: the worker sees every message in the order it was sent. */
  post(worker: PluginThread, msg: HostToWorker): void {
    if (worker === this.outboxWorker) this.flush();
    postTo(worker, msg);
  }

  /** Pings `worker`; resolves false if it does not answer within `timeoutMs`. */
  probe(worker: PluginThread, timeoutMs: number): Promise<boolean> {
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
      this.post(worker, { type: "ping", id });
    });
  }

  /** Takes the thread's messages about calls and pings; false for any other message. */
  receive(msg: WorkerToHost): boolean {
    switch (msg.type) {
      case "result": {
        this.endCancelled(msg.id);
        const p = this.settle(msg.id);
        if (!p) return true;
        if (msg.ok) p.resolve({ value: msg.value, span: msg.span });
        else p.reject(Object.assign(new PluginCallError(msg.error), { span: msg.span }));
        return true;
      }
      case "progress":
        this.pending.get(msg.id)?.opts.onProgress?.(msg);
        return true;
      case "client-log":
        this.pending.get(msg.id)?.opts.onClientLog?.(msg.level, msg.data);
        return true;
      case "client-requests":
        this.askClient(msg.id, msg.requests);
        return true;
      case "pong":
        this.pongs.get(msg.id)?.();
        this.pongs.delete(msg.id);
        return true;
      default:
        return false;
    }
  }

  /** Fails every pending call with `err`; the thread they ran in is gone or going. */
  failAll(err: Error): void {
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(err);
    // nothing left to watch
    for (const timer of this.cancelled.values()) clearTimeout(timer);
    this.cancelled.clear();
  }

  private settle(id: number): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    p.cleanup();
    this.lastActiveAt = performance.now();
    if (this.pending.size === 0) this.owner.drained();
    return p;
  }

  /**
   * A call's questions for its client: each goes to `onClientRequest` (all of them in this
   * loop, so the host sees the batch within one tick), and each answer goes back as it
   * settles, answers settling together in one message. Nothing goes back for a call that
   * has ended meanwhile.
   */
  private askClient(id: number, requests: ClientRequest[]) {
    const p = this.pending.get(id);
    if (!p) return;
    const opts = p.opts;
    let batch: ClientResponse[] = [];
    const answer = (r: ClientResponse) => {
      if (batch.push(r) > 1) return;
      queueMicrotask(() => {
        const responses = batch;
        batch = [];
        if (!this.pending.has(id)) return;
        const worker = this.owner.thread();
        if (!worker) return;
        try {
          this.post(worker, { type: "client-responses", id, responses });
        } catch (err) {
          // a result that cannot be cloned (it came from a client, so it never should)
          this.post(worker, { type: "client-responses", id, responses: responses.map((x) => ({ key: x.key, ok: false as const, error: { message: `the client's answer could not be passed to the plugin: ${messageOf(err)}` } })) });
        }
      });
    };
    for (const req of requests) {
      let asked: Promise<unknown>;
      try {
        // called as a method: the hooks may be an object's methods (mcp/call-context.ts)
        asked = opts.onClientRequest ? opts.onClientRequest(req) : Promise.reject(new ClientRequestError("this client cannot answer requests from plugins"));
      } catch (err) {
        asked = Promise.reject(err);
      }
      asked.then(
        (value) => answer({ key: req.key, ok: true, value }),
        (err: unknown) => answer({ key: req.key, ok: false, error: serializeError(err) }),
      );
    }
  }

  private onTimeout(id: number, timeoutMs: number, worker: PluginThread) {
    const p = this.settle(id);
    if (!p) return;
    this.post(worker, { type: "cancel", id, reason: "timeout" });
    p.reject(new CallTimeoutError(`plugin ${this.owner.name} did not answer within ${timeoutMs} ms`));
    this.owner.suspectStuck(worker, "stuck (did not answer after a call timeout)");
  }

  /**
   * A cancelled call keeps its deadline. A handler in a sync loop ignores the cancel as it
   * ignores everything, and with its caller gone no timeout would reveal the loop until some
   * later call timed out. So if the thread has not ended the call by the time its timeout
   * would have fired, the thread is checked as after a timeout. The same deadline, not a
   * shorter one: cancelling a call must not make legitimate work look stuck.
   */
  private watchCancelled(id: number, worker: PluginThread, remainingMs: number) {
    const timer = setTimeout(() => {
      this.cancelled.delete(id);
      this.owner.suspectStuck(worker, "stuck (a cancelled call did not end by its timeout)");
    }, Math.max(0, remainingMs));
    timer.unref();
    this.cancelled.set(id, timer);
  }

  /** The thread answered call `id`: if it was cancelled, nothing is left to watch. */
  private endCancelled(id: number) {
    const timer = this.cancelled.get(id);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.cancelled.delete(id);
  }
}

/** An error from the host or the client, as the plugin's rejected question sees it. */
function serializeError(err: unknown): SerializedError {
  const code = (err as { code?: unknown } | undefined)?.code;
  return {
    message: messageOf(err),
    name: err instanceof Error ? err.name : undefined,
    code: typeof code === "string" || typeof code === "number" ? code : undefined,
  };
}

/** Posts to a thread directly, outside the outbox (a worker's load). */
export function postTo(worker: PluginThread, msg: HostToWorker | HostToWorker[]): void {
  worker.postMessage(msg);
}
