/**
 * A plugin runtime's messages to the host. Results are batched: those of calls that end in
 * the same microtask drain (calls answered by one timer or one I/O event) go back as one
 * message, which wakes the main thread once. A microtask, not setImmediate, so that a
 * plugin's loop in a later callback cannot hold back an answer it already gave.
 */
import type { WorkerToHost } from "../worker-protocol.ts";

/** Where a runtime's messages to the host go: the thread's parentPort, or its own MessagePort in a shared thread. */
export interface RuntimePort {
  postMessage(msg: WorkerToHost | WorkerToHost[]): void;
}

/** The answer to one call. */
export type ResultMessage = Extract<WorkerToHost, { type: "result" }>;

export class HostOutbox {
  /** Results not yet posted. */
  private results: ResultMessage[] = [];
  private readonly flushResults = () => this.flush();

  constructor(private readonly port: RuntimePort) {}

  postResult(reply: ResultMessage): void {
    if (this.results.push(reply) === 1) queueMicrotask(this.flushResults);
  }

  /** Anything but a result goes at once, after the results queued before it. */
  post(msg: WorkerToHost): void {
    this.flush();
    this.port.postMessage(msg);
  }

  private flush(): void {
    const batch = this.results;
    if (batch.length === 0) return;
    this.results = [];
    try {
      this.port.postMessage(batch.length === 1 ? batch[0] : batch);
    } catch {
      for (const reply of batch) {
        try {
          this.port.postMessage(reply);
        } catch (err) {
          // A value that cannot be cloned across threads (a function, a class instance) must still answer.
          this.port.postMessage({ type: "result", id: reply.id, ok: false, error: { message: `result could not be sent: ${(err as Error).message}` }, span: reply.span } satisfies WorkerToHost);
        }
      }
    }
  }
}
