/**
 * Per-client call limits (per minute and per hour; off when unset). Over the limit a call
 * gets a clear JSON-RPC error saying when to retry; the connection is never dropped.
 * Sliding windows of timestamps, one per client, forgotten when empty.
 */
import { McpError } from "@modelcontextprotocol/sdk/types.js";

export const RATE_LIMITED = -32029;

export class RateLimiter {
  private hits = new Map<string, number[]>();

  constructor(private readonly limits: { perMinute?: number; perHour?: number }) {}

  get enabled(): boolean {
    return this.limits.perMinute !== undefined || this.limits.perHour !== undefined;
  }

  /** Records a call by `client`, or throws an McpError when it is over a limit. */
  take(client: string, now = Date.now()): void {
    if (!this.enabled) return;
    const window = (this.hits.get(client) ?? []).filter((t) => now - t < 3_600_000);
    for (const [limit, span, label] of [
      [this.limits.perMinute, 60_000, "minute"],
      [this.limits.perHour, 3_600_000, "hour"],
    ] as const) {
      if (limit === undefined) continue;
      const recent = window.filter((t) => now - t < span);
      if (recent.length >= limit) {
        const retryMs = span - (now - recent[0]);
        this.hits.set(client, window);
        throw new McpError(RATE_LIMITED, `Rate limit exceeded: at most ${limit} calls per ${label} for this client; retry in ${Math.ceil(retryMs / 1000)} s`, { retryAfterSeconds: Math.ceil(retryMs / 1000) });
      }
    }
    window.push(now);
    this.hits.set(client, window);
  }
}
