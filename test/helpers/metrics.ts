/** How tests read the daemon's telemetry: finished spans in memory, metrics collected on demand. */
import { MetricReader, type HistogramMetricData } from "@opentelemetry/sdk-metrics";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";
import { operationDurations } from "../../daemon/telemetry/instrumentation.ts";

/** A metric reader tests collect from on demand (the SDK's MetricReader with nothing to flush). */
export class TestMetricReader extends MetricReader {
  protected async onForceFlush() {}
  protected async onShutdown() {}

  /** The named histogram from one collection, if anything was recorded in it. */
  async histogram(name: string): Promise<HistogramMetricData | undefined> {
    const { resourceMetrics } = await this.collect();
    return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name) as HistogramMetricData | undefined;
  }
}

/**
 * An in-memory span exporter and a metric reader for a daemon started in the test's process,
 * and the `telemetry` options that attach them. The reader reads the in-process duration
 * histogram as the daemon's own readers do (its producer attached).
 */
export function telemetryProbes() {
  const spans = new InMemorySpanExporter();
  const metrics = new TestMetricReader({ metricProducers: [operationDurations] });
  return { spans, metrics, telemetry: { extraSpanProcessors: [new SimpleSpanProcessor({ exporter: spans })], extraMetricReaders: [metrics] } };
}
