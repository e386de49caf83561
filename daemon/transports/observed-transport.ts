import type { JSONRPCMessage, MessageExtraInfo, Transport, TransportSendOptions } from "@modelcontextprotocol/server";

/**
 * A legacy SSE session's transport seen from the inbound pipeline's side: what goes out
 * passes `sent` first (its SessionInbound ends the request an answer is for). Its messages
 * come in by POST (legacy-sse.ts hands them to the pipeline), so nothing inbound is hooked.
 * `sessionId`: the one the SDK sees (the inner transport's).
 */
export class ObservedTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;

  constructor(
    private readonly inner: Transport,
    private readonly sent: (m: JSONRPCMessage) => void,
    readonly sessionId?: string,
  ) {}

  async start(): Promise<void> {
    this.inner.onmessage = (m, extra) => this.onmessage?.(m, extra);
    this.inner.onerror = (e) => this.onerror?.(e);
    this.inner.onclose = () => this.onclose?.();
    await this.inner.start();
  }

  async send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    this.sent(message);
    return this.inner.send(message, options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  setProtocolVersion = (version: string) => this.inner.setProtocolVersion?.(version);
}
