import { PROTOCOL_VERSION_META_KEY, type JSONRPCMessage } from "@modelcontextprotocol/server";
import type { SessionInfo } from "../session-store.ts";
import { startRequestSpan, type SpanCaller } from "../telemetry/instrumentation.ts";

/**
 * One subscriptions/listen stream's span and resource interest, on every transport that
 * serves one (/mcp, WebSocket, stdio): the SDK answers listen requests before any server
 * instance (and so any call context) sees them, so the span covers the stream's life here,
 * and the resource URIs it names have a subscriber for as long (`interest` registers them
 * and returns their release). Returns the stream's end (`errorType` for its span).
 */
export function startListen(msg: { id?: string | number; params?: { _meta?: Record<string, unknown> } }, caller: SpanCaller, interest: () => () => void): (errorType?: string) => void {
  const span = startRequestSpan({ method: "subscriptions/listen", attributes: {}, meta: msg.params?._meta, caller, requestId: msg.id });
  const release = interest();
  return (errorType) => {
    release();
    span.end(errorType);
  };
}

/**
 * The listen streams of a WebSocket or stdio connection, found in its messages: each from
 * its request to its end (its graceful-close result, the client's notifications/cancelled,
 * or the connection closing).
 */
export class ListenSpans {
  private open = new Map<string | number, (errorType?: string) => void>();
  constructor(
    private readonly info: SessionInfo,
    private readonly interest: (params: unknown) => () => void,
  ) {}

  received(m: JSONRPCMessage): void {
    const msg = m as { id?: string | number; method?: string; params?: { _meta?: Record<string, unknown>; requestId?: string | number } };
    if (msg.method === "subscriptions/listen" && msg.id !== undefined && !this.open.has(msg.id) && this.open.size < 1_024) {
      const version = msg.params?._meta?.[PROTOCOL_VERSION_META_KEY];
      this.open.set(msg.id, startListen(msg, { transport: this.info.transport, protocolVersion: typeof version === "string" ? version : undefined }, () => this.interest(msg.params)));
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
    const end = this.open.get(id);
    if (!end) return;
    this.open.delete(id);
    end(errorType);
  }
}
