/**
 * Server-sent events as every SSE stream Patchbay writes itself frames them (a 2025 session's
 * POST answers and GET stream, the stateless fast path's answers, the keepalive of legacy
 * `/sse`): one JSON-RPC message per `message` event, and a comment line every
 * `sseKeepAliveMs` so that proxies do not cut an idle stream.
 */
import type { ServerResponse } from "node:http";

/** The SDK's streams' headers: no caching or transforms, and no buffering in nginx-style proxies. */
export const SSE_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache, no-transform", connection: "keep-alive", "x-accel-buffering": "no" };

/** The keepalive interval when none is configured (the SDK's default, and `sseKeepAliveMs`'s). */
export const DEFAULT_SSE_KEEPALIVE_MS = 15_000;

export function sseEvent(message: unknown): string {
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}

/** Writes a comment line every `ms` while the stream is open; clear the timer when it ends. */
export function sseKeepAlive(res: ServerResponse, ms: number): NodeJS.Timeout {
  const timer = setInterval(() => {
    if (!res.writableEnded) res.write(": keepalive\n\n");
  }, ms);
  timer.unref();
  return timer;
}
