/**
 * The one place the OpenTelemetry SDK is configured. Telemetry goes three ways at once:
 * the in-process dashboard store (spans) and Prometheus reader (`/metrics` on the daemon's
 * own port), plus OTLP when the standard `OTEL_EXPORTER_OTLP_*` variables are set. The rest
 * of Patchbay uses only `@opentelemetry/api`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { context, diag, DiagLogLevel, metrics, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { BatchSpanProcessor, ParentBasedSampler, TracerProvider, type Sampler, type SpanExporter, type SpanProcessor } from "@opentelemetry/sdk-trace";
import { AggregationTemporality, AggregationType, InstrumentType, MeterProvider, PeriodicExportingMetricReader, type IMetricReader, type PushMetricExporter } from "@opentelemetry/sdk-metrics";
import { samplerFromEnv } from "./env-sampler.ts";
import { PooledIdGenerator } from "./pooled-id-generator.ts";
import type { Logger } from "pino";
import { DashboardStore } from "./dashboard-store.ts";
import { operationDurations, resetInstruments, setCallSink, setDurationSink, setKnownNames, setRootSampling, type DurationSink } from "./instrumentation.ts";
import { RateLimitedSampler } from "./rate-limited-sampler.ts";
import type { ListChanges, Registry } from "../registry.ts";

export interface TelemetryOptions {
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  /**
   * New traces recorded per second at most (the rest are counted in metrics and stats but
   * not traced); 0 records every one. Ignored when `OTEL_TRACES_SAMPLER` is set: then the
   * SDK's standard sampler from the environment decides.
   */
  tracesPerSecond?: number;
  /** extra processors/readers, e.g. in-memory exporters in tests */
  extraSpanProcessors?: SpanProcessor[];
  extraMetricReaders?: IMetricReader[];
}

export interface Telemetry {
  store: DashboardStore;
  /** serves `/metrics` in Prometheus text format */
  metricsHandler(req: IncomingMessage, res: ServerResponse): void;
  otlp: { protocol: string; endpoint: string } | undefined;
  /**
   * Bounds per-name telemetry by the registry: only its tool and prompt names get their own
   * metric series and dashboard stats (other names count as `_OTHER` / `(unknown)`), and a
   * tool's dashboard stats go when the tool does. Until bound, every name is unknown.
   */
  /** ownTools: Patchbay's own tool names (the search tools), known like the registry's */
  bindRegistry(registry: Registry, ownTools?: readonly string[]): void;
  shutdown(): Promise<void>;
}

async function otlpExporters(protocol: string): Promise<{ spans: SpanExporter; metrics: PushMetricExporter }> {
  switch (protocol) {
    case "http/json": {
      const [{ OTLPTraceExporter }, { OTLPMetricExporter }] = await Promise.all([import("@opentelemetry/exporter-trace-otlp-http"), import("@opentelemetry/exporter-metrics-otlp-http")]);
      return { spans: new OTLPTraceExporter(), metrics: new OTLPMetricExporter() };
    }
    case "grpc": {
      const [{ OTLPTraceExporter }, { OTLPMetricExporter }] = await Promise.all([import("@opentelemetry/exporter-trace-otlp-grpc"), import("@opentelemetry/exporter-metrics-otlp-grpc")]);
      return { spans: new OTLPTraceExporter(), metrics: new OTLPMetricExporter() };
    }
    default: {
      const [{ OTLPTraceExporter }, { OTLPMetricExporter }] = await Promise.all([import("@opentelemetry/exporter-trace-otlp-proto"), import("@opentelemetry/exporter-metrics-otlp-proto")]);
      return { spans: new OTLPTraceExporter(), metrics: new OTLPMetricExporter() };
    }
  }
}

export async function startTelemetry(opts: TelemetryOptions): Promise<Telemetry> {
  const env = opts.env ?? process.env;
  // SDK diagnostics (e.g. an unreachable collector) go to our log, never to stdout.
  diag.setLogger(
    {
      error: (m, ...a) => opts.logger.warn({ otel: a }, `otel: ${m}`),
      warn: (m, ...a) => opts.logger.debug({ otel: a }, `otel: ${m}`),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    DiagLogLevel.WARN,
  );
  const store = new DashboardStore();
  // the duration histogram is aggregated by Patchbay (see duration-histogram.ts): every reader
  // made here reads it as a producer; extra readers (tests) pass `metricProducers` themselves
  const producers = [operationDurations];
  const prometheus = new PrometheusExporter({ preventServerStart: true, metricProducers: producers });
  const spanProcessors: SpanProcessor[] = [store, ...(opts.extraSpanProcessors ?? [])];
  const metricReaders: IMetricReader[] = [prometheus, ...(opts.extraMetricReaders ?? [])];
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  let durationSink: DurationSink = "producer";
  let otlp: Telemetry["otlp"];
  if (endpoint) {
    const protocol = env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? "http/protobuf";
    const exporters = await otlpExporters(protocol);
    // The in-process duration histogram is cumulative with explicit buckets; an exporter set up
    // for delta temporality or another histogram aggregation gets the SDK's instrument instead.
    const temporality = exporters.metrics.selectAggregationTemporality?.(InstrumentType.HISTOGRAM) ?? AggregationTemporality.CUMULATIVE;
    const aggregation = exporters.metrics.selectAggregation?.(InstrumentType.HISTOGRAM)?.type ?? AggregationType.DEFAULT;
    if (temporality !== AggregationTemporality.CUMULATIVE || (aggregation !== AggregationType.DEFAULT && aggregation !== AggregationType.EXPLICIT_BUCKET_HISTOGRAM)) durationSink = "instrument";
    spanProcessors.push(new BatchSpanProcessor({ exporter: exporters.spans, scheduledDelayMillis: Number(env.OTEL_BSP_SCHEDULE_DELAY ?? 5_000) }));
    metricReaders.push(new PeriodicExportingMetricReader({ exporter: exporters.metrics, exportIntervalMillis: Number(env.OTEL_METRIC_EXPORT_INTERVAL ?? 60_000), metricProducers: producers }));
    otlp = { protocol, endpoint };
    opts.logger.info({ endpoint, protocol }, "exporting OTLP traces and metrics");
  }
  const perSecond = opts.tracesPerSecond ?? 0;
  const limiter = env.OTEL_TRACES_SAMPLER || perSecond <= 0 ? undefined : new RateLimitedSampler(perSecond);
  const sampler: Sampler | undefined = limiter ? new ParentBasedSampler({ root: limiter }) : undefined;
  const envSampler = samplerFromEnv(env);
  const ids = new PooledIdGenerator();
  // What NodeSDK.start() does for a daemon with no auto-instrumentation: the providers, an
  // AsyncLocalStorage context manager and the W3C propagators, registered globally. NodeSDK
  // itself is not used because importing it loads every exporter it might build from the
  // environment (see env-sampler.ts); ours are loaded only when OTLP is configured.
  const resource = defaultResource().merge(resourceFromAttributes({ "service.name": env.OTEL_SERVICE_NAME ?? "patchbay" }));
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
  const meterProvider = new MeterProvider({ resource, readers: metricReaders });
  metrics.setGlobalMeterProvider(meterProvider);
  const tracerProvider = new TracerProvider({ resource, spanProcessors, sampler: envSampler ?? sampler, idGenerator: ids });
  trace.setGlobalTracerProvider(tracerProvider);
  // untraced requests skip the SDK only when our limiter is the one deciding (instrumentation.ts)
  setRootSampling(limiter && !envSampler ? { wouldSample: () => limiter.wouldSample(), ids } : undefined);
  resetInstruments();
  setDurationSink(durationSink);
  setCallSink({ toolCall: (tool, plugin, ms, error, at, bytes) => store.recordToolCall(tool, plugin, ms, error, at, bytes) });
  let unbind: (() => void) | undefined;
  return {
    store,
    otlp,
    metricsHandler: (req, res) => prometheus.getMetricsRequestHandler(req, res),
    bindRegistry(registry, ownTools = []) {
      unbind?.();
      const own = new Set(ownTools);
      // `registry.tools` is replaced on every change, so look it up at call time.
      const knownTool = (n: string) => registry.tools.has(n) || own.has(n);
      setKnownNames({ tool: knownTool, prompt: (n) => registry.prompts.has(n) });
      store.bindKnownTools(knownTool);
      const onChanged = (c: ListChanges) => {
        if (c.tools) store.retainKnownTools();
      };
      registry.on("changed", onChanged);
      unbind = () => registry.off("changed", onChanged);
    },
    async shutdown() {
      unbind?.();
      setCallSink(undefined);
      setRootSampling(undefined);
      setDurationSink("off");
      try {
        await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
        // a later startTelemetry in the same process (tests) registers its own providers
        trace.disable();
        metrics.disable();
        propagation.disable();
        context.disable();
      } catch (err) {
        opts.logger.debug({ err }, "telemetry shutdown");
      }
    },
  };
}
