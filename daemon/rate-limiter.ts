/**
 * Call limits per minute and per hour (each off when unset), keyed on what a client cannot
 * choose. Over a limit a call gets a clear JSON-RPC error saying when to retry; the
 * connection is never dropped.
 *
 * Keys come from the caller (see `createGuard` in main.ts): one per session (a server-made
 * id, so neither a chosen `clientInfo.name` nor skipping `notifications/initialized` moves a
 * client to a fresh quota) plus one global key over every session, which bounds what a client
 * gains by opening new sessions. With one shared token every authorized client has the same
 * identity, so the global limit is also the per-token limit.
 *
 * Sliding windows of timestamps; a key whose last call is older than the longest window is
 * forgotten, so keys from sessions long gone do not accumulate.
 */
import { RateLimitedError, RpcCode } from "./errors.ts";

export const RATE_LIMITED = RpcCode.RateLimited;

export interface RateLimit {
  perMinute?: number;
  perHour?: number;
}

/** A key and the limits that apply to it; `label` names it in the error ("this session"). */
export interface RateLimitKey {
  key: string;
  limits: RateLimit;
  label: string;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;

/** The longest window a key's limits look at: how long its timestamps matter. */
const spanOf = (l: RateLimit) => (l.perHour !== undefined ? HOUR : MINUTE);

export class RateLimiter {
  private hits = new Map<string, { times: number[]; span: number }>();
  private lastSweep = 0;

  /** `defaults` apply to keys given as plain strings; `clock` is injectable for tests. */
  constructor(private readonly defaults: RateLimit = {}, private readonly clock: () => number = Date.now) {}

  /** Keys currently remembered (for tests and health). */
  get size(): number {
    return this.hits.size;
  }

  /**
   * Records one call against every key, or throws a RateLimitedError (-32029) naming the
   * first limit it is over. A refused call counts against no key, so being refused never extends the wait.
   */
  take(keys: string | RateLimitKey[], now = this.clock()): void {
    if (typeof keys === "string") keys = [{ key: keys, limits: this.defaults, label: "for this client" }];
    // a key with no limit set is not remembered at all
    keys = keys.filter((k) => k.limits.perMinute !== undefined || k.limits.perHour !== undefined);
    this.sweep(now);
    const windows: number[][] = [];
    for (const k of keys) {
      const window = (this.hits.get(k.key)?.times ?? []).filter((t) => now - t < spanOf(k.limits));
      windows.push(window);
      for (const [limit, span, unit] of [
        [k.limits.perMinute, MINUTE, "minute"],
        [k.limits.perHour, HOUR, "hour"],
      ] as const) {
        if (limit === undefined) continue;
        const recent = window.filter((t) => now - t < span);
        if (recent.length >= limit) {
          const retryAfterSeconds = Math.max(1, Math.ceil((span - (now - recent[0])) / 1000));
          throw new RateLimitedError(`Rate limit exceeded: at most ${limit} calls per ${unit} ${k.label}; retry in ${retryAfterSeconds} s`, { retryAfterSeconds, scope: k.label });
        }
      }
    }
    keys.forEach((k, i) => {
      windows[i].push(now);
      this.hits.set(k.key, { times: windows[i], span: spanOf(k.limits) });
    });
  }

  /** Drops a key at once (its session closed). */
  forget(key: string): void {
    this.hits.delete(key);
  }

  /** At most once a minute: forget keys with no call inside their longest window. */
  private sweep(now: number) {
    if (now - this.lastSweep < MINUTE) return;
    this.lastSweep = now;
    for (const [key, { times, span }] of this.hits) {
      if (times.length === 0 || now - times[times.length - 1] >= span) this.hits.delete(key);
    }
  }
}
