/** A metric reader tests collect from on demand (the SDK's MetricReader with nothing to flush). */
import { MetricReader } from "@opentelemetry/sdk-metrics";

export class TestMetricReader extends MetricReader {
  protected async onForceFlush() {}
  protected async onShutdown() {}
}
