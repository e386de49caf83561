/**
 * The client's requests not yet answered on one session or connection, by id — the one
 * place every transport keeps them: what lets it refuse a request whose id is still in
 * flight (the protocol would map both answers to one id, and a cancel of it to whichever it
 * found first), what marks the session busy meanwhile so that neither the idle timeout nor
 * eviction closes it, and (Streamable HTTP) what finds the POST an answer belongs to. A
 * request ends with its response, the client's cancel of it, or `endAll` when the
 * connection goes.
 *
 * The busy mark spans exactly that: from the request's acceptance (the transport took it)
 * until its answer is sent (or it is cancelled, or the connection ends). It covers what a
 * handler's own span does not: a request waiting for the plugins to load, a 2026-07-28
 * listen stream (answered by the SDK before any handler), and the answer's way out.
 */
import type { JSONRPCMessage } from "@modelcontextprotocol/server";

export const DUPLICATE_ID_MESSAGE = "Invalid Request: duplicate request id in flight";

/** bounded: a client cannot grow this past what it could have in flight anyway */
const MAX_TRACKED_REQUESTS = 4_096;

export type RequestId = string | number;

interface Open<T> {
  value: T;
  release?: () => void;
}

export interface RequestsInFlightOptions {
  /** marks the session busy for one request; returns its release */
  busy?: () => () => void;
  /**
   * requests tracked at most (default 4,096; past it a request is served untracked). A
   * transport that routes answers by this table (Streamable HTTP) passes Infinity: an
   * untracked request there could never be answered.
   */
  max?: number;
}

/** `T`: what the transport keeps with each request (the POST it came on), handed back when it ends. */
export class RequestsInFlight<T = undefined> {
  private open = new Map<RequestId, Open<T>>();
  private readonly max: number;

  constructor(private readonly opts: RequestsInFlightOptions = {}) {
    this.max = opts.max ?? MAX_TRACKED_REQUESTS;
  }

  /** The first request id of these messages (one POST, maybe a batch) in flight here or repeated among them, or undefined. */
  duplicateIn(messages: readonly JSONRPCMessage[]): RequestId | undefined {
    const seen = new Set<RequestId>();
    for (const m of messages) {
      const msg = m as { id?: RequestId; method?: unknown };
      if (msg.method === undefined || msg.id === undefined) continue;
      if (this.open.has(msg.id) || seen.has(msg.id)) return msg.id;
      seen.add(msg.id);
    }
    return undefined;
  }

  /**
   * A message from the client: a request opens its id (with `value`), a cancel ends the one
   * it names and returns that request's value.
   */
  received(m: JSONRPCMessage, value?: T): T | undefined {
    const msg = m as { id?: RequestId; method?: string; params?: { requestId?: RequestId } };
    if (msg.method === undefined) return undefined;
    if (msg.id !== undefined) {
      if (!this.open.has(msg.id) && this.open.size < this.max) this.open.set(msg.id, { value: value as T, release: this.opts.busy?.() });
    } else if (msg.method === "notifications/cancelled" && msg.params?.requestId !== undefined) {
      const ended = this.open.get(msg.params.requestId);
      this.end(msg.params.requestId);
      return ended?.value;
    }
    return undefined;
  }

  /** A message to the client: a response ends its request. */
  sent(m: JSONRPCMessage): void {
    const msg = m as { id?: RequestId; method?: string };
    if (msg.method === undefined && msg.id !== undefined) this.end(msg.id);
  }

  has(id: RequestId): boolean {
    return this.open.has(id);
  }

  /** What was kept with request `id`, while it is in flight. */
  get(id: RequestId): T | undefined {
    return this.open.get(id)?.value;
  }

  /** Ends every request (the connection went); returns what was kept with them. */
  endAll(): T[] {
    const values = [...this.open.values()].map((o) => o.value);
    for (const id of [...this.open.keys()]) this.end(id);
    return values;
  }

  /** Ends request `id`: answered, cancelled, or never taken by the transport. */
  end(id: RequestId): void {
    const o = this.open.get(id);
    if (!o) return;
    this.open.delete(id);
    o.release?.();
  }
}
