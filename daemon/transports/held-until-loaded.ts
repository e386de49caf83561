/**
 * `patchbay stdio --standalone` answers `initialize`, `server/discover` and `ping` at once, before its
 * plugins have loaded, so a client sees a live server within a second however many plugins
 * the folder holds. Every other request waits here until the first load has settled (or
 * `maxHoldMs` passed): a client's first `tools/list` then holds the plugins' tools rather
 * than none, which matters for clients that do not re-list on `list_changed`. Plugins that
 * arrive later still announce themselves with `list_changed`; those that arrive during the
 * hold do not (see send).
 *
 * Once one message is held, every later one is held behind it, so order is kept (a
 * `notifications/cancelled` cannot overtake the request it cancels).
 */
import type { JSONRPCMessage, Transport, TransportSendOptions } from "@modelcontextprotocol/server";

type Extra = Parameters<NonNullable<Transport["onmessage"]>>[1];

/** Answered before the plugins have loaded: they need nothing from them (server/discover is 2026-07-28's initialize). */
const NOT_HELD = new Set(["initialize", "server/discover", "ping"]);
const LIST_CHANGED = /^notifications\/(tools|resources|prompts)\/list_changed$/;

export class HeldUntilLoaded implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: Transport["onmessage"];
  private held: [JSONRPCMessage, Extra][] | undefined = [];

  constructor(
    private readonly inner: Transport,
    loaded: Promise<unknown>,
    maxHoldMs: number,
  ) {
    const timer = setTimeout(() => this.release(), maxHoldMs);
    timer.unref();
    void loaded.finally(() => {
      clearTimeout(timer);
      this.release();
    });
  }

  async start(): Promise<void> {
    this.inner.onmessage = (m, extra) => {
      const isRequest = "method" in m && "id" in m;
      if (this.held && (this.held.length > 0 || (isRequest && !NOT_HELD.has(m.method)))) this.held.push([m, extra]);
      else this.onmessage?.(m, extra);
    };
    this.inner.onerror = (e) => this.onerror?.(e);
    this.inner.onclose = () => this.onclose?.();
    await this.inner.start();
  }

  private release() {
    const held = this.held;
    if (!held) return;
    this.held = undefined;
    for (const [m, extra] of held) this.onmessage?.(m, extra);
  }

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    // Plugins arriving during the first load announce themselves, but no list has been
    // answered yet (every list request is held until the load settles, and so are 2026-07-28
    // listen streams): the client's first list will hold them, so telling it is noise that
    // would make it list once per plugin.
    if (this.held && "method" in message && LIST_CHANGED.test(message.method)) return Promise.resolve();
    return this.inner.send(message, options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
