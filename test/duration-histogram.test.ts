/**
 * The in-process duration histogram (daemon/telemetry/duration-histogram.ts) produces what
 * the SDK's own histogram instrument would have, value for value: same buckets (upper
 * inclusive), counts, sum, min and max, per attribute set; and it is bounded.
 */
import { TestMetricReader } from "./helpers/metrics.ts";
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { MeterProvider, type HistogramMetricData } from "@opentelemetry/sdk-metrics";
import { DurationHistogram } from "../daemon/telemetry/duration-histogram.ts";
import { DURATION_BUCKETS } from "../daemon/telemetry/instrumentation.ts";

test("same data points as the SDK's histogram instrument for the same measurements", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.constantFrom("a", "b", "c"), fc.oneof(fc.double({ min: 0, max: 400, noNaN: true }), fc.constantFrom(...DURATION_BUCKETS), fc.constant(0))), { maxLength: 200 }),
      async (measurements) => {
        const reader = new TestMetricReader();
        const provider = new MeterProvider({ readers: [reader] });
        const sdk = provider.getMeter("m").createHistogram("d", { unit: "s", description: "x", advice: { explicitBucketBoundaries: DURATION_BUCKETS } });
        const ours = new DurationHistogram({ name: "d", unit: "s", description: "x" }, DURATION_BUCKETS);
        for (const [k, v] of measurements) {
          sdk.record(v, { k });
          ours.record(ours.seriesFor(k, () => ({ k })), v);
        }
        const theirs = ((await reader.collect()).resourceMetrics.scopeMetrics[0]?.metrics[0] as HistogramMetricData | undefined)?.dataPoints ?? [];
        const mine = ((await ours.collect()).resourceMetrics.scopeMetrics[0]?.metrics[0] as HistogramMetricData | undefined)?.dataPoints ?? [];
        const shape = (ps: typeof mine) => ps.map((p) => ({ attributes: p.attributes, value: p.value })).sort((x, y) => String(x.attributes.k).localeCompare(String(y.attributes.k)));
        const a = shape(mine), b = shape(theirs);
        assert.equal(a.length, b.length);
        for (let i = 0; i < a.length; i++) {
          assert.deepEqual(a[i].attributes, b[i].attributes);
          assert.deepEqual(a[i].value.buckets, b[i].value.buckets);
          assert.equal(a[i].value.count, b[i].value.count);
          assert.equal(a[i].value.min, b[i].value.min);
          assert.equal(a[i].value.max, b[i].value.max);
          assert.ok(Math.abs((a[i].value.sum ?? 0) - (b[i].value.sum ?? 0)) < 1e-9);
        }
        await provider.shutdown();
      },
    ),
    { seed: 20261125, numRuns: 100 },
  );
});

test("past its series limit new attribute sets share one overflow series", async () => {
  const h = new DurationHistogram({ name: "d", unit: "s", description: "x" }, [1, 2], "s", 3);
  for (let i = 0; i < 10; i++) h.record(h.seriesFor(`k${i}`, () => ({ k: i })), 0.5);
  const points = ((await h.collect()).resourceMetrics.scopeMetrics[0].metrics[0] as HistogramMetricData).dataPoints;
  assert.equal(points.length, 3, "the overflow series counts toward the limit");
  const overflow = points.find((p) => p.attributes["otel.metric.overflow"] === true);
  assert.equal(overflow?.value.count, 8);
});
