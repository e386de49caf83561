/**
 * Client messages the stdio bridge holds while it has no link to the daemon (starting it, or
 * reconnecting), sent in order once a link is ready. A held request must not wait forever if the
 * daemon never comes back: past a timeout it is dropped and the client told.
 */
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { isRequest } from "./bridge-relay-state.ts";

const HOLD_TIMEOUT_MS = 30_000;

export class HeldMessages {
  private readonly held: { msg: JSONRPCMessage; at: number }[] = [];

  /** `onExpired` gets the id of each request dropped for waiting too long. */
  constructor(private readonly onExpired: (id: string | number) => void) {
    // unref'd: a bridge whose input has ended must be free to exit
    setInterval(() => this.expire(Date.now()), 1_000).unref();
  }

  hold(msg: JSONRPCMessage): void {
    this.held.push({ msg, at: Date.now() });
  }

  /** Everything held, oldest first, and nothing left held. */
  takeAll(): JSONRPCMessage[] {
    return this.held.splice(0).map(({ msg }) => msg);
  }

  private expire(now: number): void {
    for (let i = this.held.length - 1; i >= 0; i--) {
      const { msg, at } = this.held[i];
      if (now - at <= HOLD_TIMEOUT_MS) continue;
      this.held.splice(i, 1);
      if (isRequest(msg)) this.onExpired(msg.id);
    }
  }
}
