import { PROTOCOL_VERSION_META_KEY, type JSONRPCMessage } from "@modelcontextprotocol/server";
import type { SessionInfo } from "../session-store.ts";
import { startRequestSpan, type RequestSpan } from "../telemetry/instrumentation.ts";

/**
 * Spans for subscriptions/listen on a WebSocket or stdio connection, which serveStdio
 * answers before any server instance sees it: from the request to the stream's end (its
 * graceful-close result, the client's notifications/cancelled, or the connection closing).
 * The resource URIs a stream names count as subscribed for the same time (`interest`).
 */
export class ListenSpans {
  private open = new Map<string | number, { span: RequestSpan; release: () => void }>();
  constructor(
    private readonly info: SessionInfo,
    private readonly interest: (params: unknown) => () => void,
  ) {}

  received(m: JSONRPCMessage): void {
    const msg = m as { id?: string | number; method?: string; params?: { _meta?: Record<string, unknown>; requestId?: string | number } };
    if (msg.method === "subscriptions/listen" && msg.id !== undefined && !this.open.has(msg.id) && this.open.size < 1_024) {
      const version = msg.params?._meta?.[PROTOCOL_VERSION_META_KEY];
      const span = startRequestSpan({ method: "subscriptions/listen", attributes: {}, meta: msg.params?._meta, caller: { transport: this.info.transport, protocolVersion: typeof version === "string" ? version : undefined }, requestId: msg.id });
      this.open.set(msg.id, { span, release: this.interest(msg.params) });
    } else if (msg.method === "notifications/cancelled" && msg.params?.requestId !== undefined) {
      this.end(msg.params.requestId);
    }
  }

  sent(m: JSONRPCMessage): void {
    const msg = m as { id?: string | number; method?: string; error?: { code: number } };
    if (msg.method === undefined && msg.id !== undefined) this.end(msg.id, msg.error ? String(msg.error.code) : undefined);
  }

  endAll(): void {
    for (const id of [...this.open.keys()]) this.end(id);
  }

  private end(id: string | number, errorType?: string) {
    const open = this.open.get(id);
    if (!open) return;
    this.open.delete(id);
    open.release();
    open.span.end(errorType);
  }
}
