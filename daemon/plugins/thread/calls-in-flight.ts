/**
 * The calls a plugin is answering, by call id: each one's cancellation, and the questions of
 * those that asked their client something (call-asks.ts).
 */
import { CallAsks } from "./call-asks.ts";
import { CallCancel } from "./call-cancel.ts";
import type { HostOutbox } from "./host-outbox.ts";
import type { CallRequest, ClientResponse } from "../worker-protocol.ts";

export class CallsInFlight {
  private readonly cancels = new Map<number, CallCancel>();
  /** the questions of calls that asked their client something, by call id */
  private readonly asking = new Map<number, CallAsks>();

  constructor(private readonly outbox: HostOutbox) {}

  get size(): number {
    return this.cancels.size;
  }

  open(id: number): CallCancel {
    const cancel = new CallCancel();
    this.cancels.set(id, cancel);
    return cancel;
  }

  close(id: number): void {
    this.cancels.delete(id);
    this.asking.get(id)?.end();
    this.asking.delete(id);
  }

  cancel(id: number, reason: unknown): void {
    this.cancels.get(id)?.abort(reason);
  }

  /** The call's questions, opened on its first ask (most calls never ask). */
  asksOf(req: CallRequest, signal: AbortSignal): CallAsks {
    let asks = this.asking.get(req.id);
    if (!asks) {
      asks = new CallAsks(req.answers, signal, (requests) => this.outbox.post({ type: "client-requests", id: req.id, requests }));
      // an ask made after the call answered (from a timer the handler left behind) goes nowhere
      if (this.cancels.has(req.id)) this.asking.set(req.id, asks);
      else asks.end();
    }
    return asks;
  }

  /** The client's answers to a call's questions; a call that already ended ignores them. */
  receive(id: number, responses: ClientResponse[]): void {
    this.asking.get(id)?.receive(responses);
  }
}
