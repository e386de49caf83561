/**
 * The client's requests not yet answered on one session or connection, by id: what lets a
 * transport refuse a request whose id is still in flight (the protocol would map both
 * answers to one id, and a cancel of it to whichever it found first), and, where the
 * transport asks for it, mark the session busy meanwhile so that neither the idle timeout
 * nor eviction closes it. A request ends with its response, the client's cancel of it, or
 * `endAll` when the connection goes.
 */
import type { JSONRPCMessage } from "@modelcontextprotocol/server";
import { Refusal } from "../errors.ts";
import { refusalMessage } from "./json-rpc-message.ts";

export const DUPLICATE_ID_MESSAGE = "Invalid Request: duplicate request id in flight";

/** bounded: a client cannot grow this past what it could have in flight anyway */
const MAX_TRACKED_REQUESTS = 4_096;

type Id = string | number;

export class RequestsInFlight {
  private open = new Map<Id, (() => void) | undefined>();

  /** `busy`: marks the session busy for one request; returns its release */
  constructor(private readonly busy?: () => () => void) {}

  /** The refusal of a request whose id is still in flight here, or undefined. */
  duplicate(m: JSONRPCMessage): JSONRPCMessage | undefined {
    const msg = m as { id?: Id; method?: string };
    if (msg.method === undefined || msg.id === undefined || !this.open.has(msg.id)) return undefined;
    return refusalMessage(Refusal.DuplicateRequestId, DUPLICATE_ID_MESSAGE, msg.id);
  }

  /** A message from the client: a request opens its id, a cancel ends the one it names. */
  received(m: JSONRPCMessage): void {
    const msg = m as { id?: Id; method?: string; params?: { requestId?: Id } };
    if (msg.method === undefined) return;
    if (msg.id !== undefined) {
      if (!this.open.has(msg.id) && this.open.size < MAX_TRACKED_REQUESTS) this.open.set(msg.id, this.busy?.());
    } else if (msg.method === "notifications/cancelled" && msg.params?.requestId !== undefined) this.end(msg.params.requestId);
  }

  /** A message to the client: a response ends its request. */
  sent(m: JSONRPCMessage): void {
    const msg = m as { id?: Id; method?: string };
    if (msg.method === undefined && msg.id !== undefined) this.end(msg.id);
  }

  endAll(): void {
    for (const id of [...this.open.keys()]) this.end(id);
  }

  /** Ends request `id`: answered, cancelled, or never taken by the transport. */
  end(id: Id): void {
    if (!this.open.has(id)) return;
    const release = this.open.get(id);
    this.open.delete(id);
    release?.();
  }
}
