/**
 * The order a plugin runtime handles the host's messages in. The host sends the calls of one
 * turn of its event loop as one array. Each of them is handled as a task of its own, as if it
 * had come alone: the microtasks of one (a quick call answering) run before the next starts
 * (one that may loop forever), and a message that came later waits for the batch before it.
 */
import type { HostToWorker } from "../worker-protocol.ts";

export class HostInbox {
  private readonly queue: HostToWorker[] = [];
  private readonly handleNext = () => this.handle(this.queue.shift()!);

  constructor(private readonly handle: (msg: HostToWorker) => void) {}

  receive(msg: HostToWorker | HostToWorker[]): void {
    if (!Array.isArray(msg)) {
      if (this.queue.length > 0) this.enqueue(msg);
      else this.handle(msg);
      return;
    }
    let i = 0;
    if (this.queue.length === 0) this.handle(msg[i++]);
    for (; i < msg.length; i++) this.enqueue(msg[i]);
  }

  // one immediate per message: those queued together run in one check phase, with the
  // microtasks of each run before the next
  private enqueue(msg: HostToWorker): void {
    this.queue.push(msg);
    setImmediate(this.handleNext);
  }
}
