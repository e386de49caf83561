/**
 * `mcp.server.operation.duration`, aggregated here and handed to the SDK's metric readers as
 * a `MetricProducer` (the SDK's extension point for metrics aggregated elsewhere), instead of
 * through a histogram instrument. The instrument hashes the attribute set of every
 * measurement (its keys sorted and JSON-stringified) to find the series: several percent of
 * the daemon's time and a good share of its allocations per call under load. Here the caller
 * finds its series once per distinct attribute set (see `seriesFor`) and a measurement is a
 * few array writes. The data is the SDK's own shape — explicit-bucket histogram, cumulative,
 * upper-inclusive buckets, min and max — so Prometheus and OTLP see what the instrument
 * would have produced.
 */
import { ValueType, type Attributes, type HrTime } from "@opentelemetry/api";
import { AggregationTemporality, DataPointType, type CollectionResult, type HistogramMetricData, type MetricProducer } from "@opentelemetry/sdk-metrics";

/** One attribute set's accumulated measurements. */
export interface HistogramSeries {
  readonly attributes: Attributes;
  readonly counts: number[];
  count: number;
  sum: number;
  min: number;
  max: number;
}

export interface HistogramDescriptor {
  name: string;
  description: string;
  unit: string;
}

/** As the SDK's default cardinality limit: past it, new attribute sets share one overflow series. */
const MAX_SERIES = 2000;
const OVERFLOW: Attributes = Object.freeze({ "otel.metric.overflow": true });

function hrTime(epochMs: number): HrTime {
  const seconds = Math.floor(epochMs / 1000);
  return [seconds, Math.round((epochMs - seconds * 1000) * 1e6)];
}

export class DurationHistogram implements MetricProducer {
  private readonly series = new Map<string, HistogramSeries>();
  private overflow?: HistogramSeries;
  private startTime = hrTime(Date.now());
  /** Counts resets: a series found before a reset is no longer this histogram's. */
  generation = 0;

  constructor(
    private readonly descriptor: HistogramDescriptor,
    private readonly boundaries: readonly number[],
    private readonly scope = "mcp-patchbay",
    private readonly maxSeries = MAX_SERIES,
  ) {}

  /**
   * The series of one attribute set, by a key the caller derives from the same values
   * (`attributes` is only called for a set not seen before, and must not change after).
   */
  seriesFor(key: string, attributes: () => Attributes): HistogramSeries {
    const found = this.series.get(key);
    if (found) return found;
    // the overflow series counts toward the limit, as in the SDK
    if (this.series.size >= this.maxSeries - 1) return (this.overflow ??= this.newSeries(OVERFLOW));
    const made = this.newSeries(Object.freeze(attributes()));
    this.series.set(key, made);
    return made;
  }

  /** Forgets every series (a new SDK start in the same process starts from zero). */
  reset(): void {
    this.series.clear();
    this.overflow = undefined;
    this.generation++;
    this.startTime = hrTime(Date.now());
  }

  /** One measurement; NaN is ignored, as the SDK does. */
  record(s: HistogramSeries, value: number): void {
    if (Number.isNaN(value)) return;
    s.count++;
    s.sum += value;
    if (value < s.min) s.min = value;
    if (value > s.max) s.max = value;
    // upper-inclusive buckets: the first boundary >= value (the SDK's binary search, linear here for 14 boundaries)
    const b = this.boundaries;
    let i = 0;
    while (i < b.length && b[i] < value) i++;
    s.counts[i]++;
  }

  async collect(): Promise<CollectionResult> {
    const endTime = hrTime(Date.now());
    const all = [...this.series.values()];
    if (this.overflow) all.push(this.overflow);
    const data: HistogramMetricData = {
      descriptor: { ...this.descriptor, valueType: ValueType.DOUBLE },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.HISTOGRAM,
      dataPoints: all
        .filter((s) => s.count > 0)
        .map((s) => ({
          attributes: s.attributes,
          startTime: this.startTime,
          endTime,
          value: { buckets: { boundaries: [...this.boundaries], counts: [...s.counts] }, count: s.count, sum: s.sum, min: s.min, max: s.max },
        })),
    };
    return {
      // readers keep the SDK's own resource and take only the scope metrics from a producer
      resourceMetrics: { resource: undefined as never, scopeMetrics: data.dataPoints.length ? [{ scope: { name: this.scope }, metrics: [data] }] : [] },
      errors: [],
    };
  }

  private newSeries(attributes: Attributes): HistogramSeries {
    return { attributes, counts: new Array<number>(this.boundaries.length + 1).fill(0), count: 0, sum: 0, min: Infinity, max: -Infinity };
  }
}
