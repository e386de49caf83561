import type { JSONRPCMessage, MessageExtraInfo, Transport, TransportSendOptions } from "@modelcontextprotocol/server";

export interface TransportHooks {
  /** a message from the client; may answer it itself (a refusal) instead of passing it on */
  received?(m: JSONRPCMessage): JSONRPCMessage | void;
  /** a message to the client, before it goes */
  sent?(m: JSONRPCMessage): void;
  /** after the transport closed */
  closed?(): void;
}

/**
 * A transport seen from both sides: the connection's own transport, with hooks on what
 * comes in, what goes out and its close. The server (or serveStdio) installs its
 * callbacks here. `sessionId`: the one the SDK sees (what the inner transport's is, where
 * the SDK saw it before it was observed).
 */
export class ObservedTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;

  constructor(
    private readonly inner: Transport,
    private readonly hooks: TransportHooks,
    readonly sessionId?: string,
  ) {}

  async start(): Promise<void> {
    this.inner.onmessage = (m, extra) => {
      const refusal = this.hooks.received?.(m);
      if (refusal) {
        void this.inner.send(refusal).catch(() => undefined);
        return;
      }
      this.onmessage?.(m, extra);
    };
    this.inner.onerror = (e) => this.onerror?.(e);
    this.inner.onclose = () => {
      this.onclose?.();
      this.hooks.closed?.();
    };
    await this.inner.start();
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    this.hooks.sent?.(message);
    return this.inner.send(message, options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  setProtocolVersion = (version: string) => this.inner.setProtocolVersion?.(version);
}
