/**
 * Keeps tracing affordable under load: at most `perSecond` new traces are recorded each
 * second (a token bucket that refills continuously, with one second's worth of burst), the
 * rest are not recorded — as Jaeger's rate-limiting and X-Ray's reservoir samplers do. Wrapped
 * Only SERVER spans (requests) spend the budget. Wrapped
 * in the SDK's parent-based sampler, so a request that arrives with a sampled `traceparent`
 * is always recorded and the upstream's decision holds across the hop. Metrics and the
 * dashboard's per-tool stats count every call whatever this decides (see instrumentation.ts).
 */
import { SamplingDecision, SpanKind, type Attributes, type Context, type Link } from "@opentelemetry/api";
import type { Sampler, SamplingResult } from "@opentelemetry/sdk-trace";

export class RateLimitedSampler implements Sampler {
  private tokens: number;
  private last: number;

  /** `now` is injectable for tests; milliseconds. */
  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = perSecond;
    this.last = now();
  }

  shouldSample(_context: Context, _traceId: string, _name: string, kind: SpanKind, _attributes: Attributes, _links: Link[]): SamplingResult {
    // only requests come at the rate clients choose; plugin loads, reloads and restarts
    // (INTERNAL spans) are rare and always recorded
    if (kind !== SpanKind.SERVER) return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    if (this.wouldSample()) {
      this.tokens -= 1;
      return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    }
    return { decision: SamplingDecision.NOT_RECORD };
  }

  /**
   * Whether a request span started now would be recorded, without spending the budget: the
   * instrumentation asks first and starts no SDK span at all for a request that would not be
   * (see startRequestSpan); one that would goes through shouldSample as always.
   */
  wouldSample(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.perSecond, this.tokens + ((t - this.last) / 1000) * this.perSecond);
    this.last = t;
    return this.tokens >= 1;
  }

  toString(): string {
    return `RateLimitedSampler{${this.perSecond}/s}`;
  }
}
