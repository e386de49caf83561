/**
 * The upstream leg of a relayed call (an `NAME.mcp.json` server): a CLIENT span, child of
 * the request's SERVER span, and the `mcp.client.operation.duration` histogram, named and
 * attributed per the OpenTelemetry MCP semantic conventions. Its traceparent is what the
 * upstream receives in `_meta`, so the upstream's own spans hang under this one.
 *
 * Like instrumentation.ts: `@opentelemetry/api` only, never throws into the call path.
 * Metric attributes stay bounded: methods come from a fixed set, tool and prompt names from
 * the upstream's own listing, and URIs are kept off metrics.
 */
import { metrics, propagation, trace, ROOT_CONTEXT, SpanKind, SpanStatusCode, type Attributes, type Histogram, type MeterProvider } from "@opentelemetry/api";
import { DURATION_BUCKETS, MAX_SPAN_STRING } from "./instrumentation.ts";
import { clipString } from "../clip-string.ts";

const tracer = trace.getTracer("mcp-patchbay");

// A meter taken before the SDK is registered is a no-op forever (see instrumentation.ts):
// the histogram is remade whenever the global provider is another one.
let histogram: { provider: MeterProvider; h: Histogram } | undefined;
function clientDuration(): Histogram {
  const provider = metrics.getMeterProvider();
  if (histogram?.provider !== provider) {
    const h = provider.getMeter("mcp-patchbay").createHistogram("mcp.client.operation.duration", {
      unit: "s",
      description: "Duration of MCP requests Patchbay sent to upstream servers",
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
    histogram = { provider, h };
  }
  return histogram.h;
}

export interface UpstreamLeg {
  method: "tools/call" | "resources/read" | "prompts/get" | "completion/complete";
  /** the upstream's own name for the tool or prompt, or the resource URI */
  target: string;
  /** the SERVER span's traceparent (absent when telemetry is off) */
  parent?: string;
  plugin: string;
  transport: "stdio" | "streamable-http" | "sse";
  url?: string;
  protocolVersion?: string;
  sessionId?: string;
}

export interface UpstreamSpan {
  /** for the upstream's `_meta`: this CLIENT span's context */
  traceparent?: string;
  end(errorType?: string): void;
}

export const NOOP_LEG: UpstreamSpan = { end() {} };

const clip = (s: string) => clipString(s, MAX_SPAN_STRING, "");

function network(leg: UpstreamLeg): Attributes {
  if (leg.transport === "stdio") return { "network.transport": "pipe" };
  const a: Attributes = { "network.transport": "tcp", "network.protocol.name": "http" };
  try {
    const u = new URL(leg.url ?? "");
    a["server.address"] = u.hostname;
    a["server.port"] = Number(u.port || (u.protocol === "https:" ? 443 : 80));
  } catch {
    // no address to report
  }
  return a;
}

export function startUpstreamSpan(leg: UpstreamLeg): UpstreamSpan {
  try {
    if (!leg.parent) return NOOP_LEG;
    const started = performance.now();
    const carrier: Record<string, string> = { traceparent: leg.parent };
    const parent = propagation.extract(ROOT_CONTEXT, carrier, { keys: (c) => Object.keys(c), get: (c, k) => c[k] });
    const kindAttrs: Attributes =
      leg.method === "tools/call" ? { "gen_ai.tool.name": clip(leg.target), "gen_ai.operation.name": "execute_tool" } : leg.method === "prompts/get" ? { "gen_ai.prompt.name": clip(leg.target) } : {};
    const base: Attributes = { "mcp.method.name": leg.method, ...kindAttrs, ...network(leg) };
    if (leg.protocolVersion) base["mcp.protocol.version"] = leg.protocolVersion;
    const spanAttrs: Attributes = { ...base, "patchbay.plugin.name": leg.plugin };
    if (leg.method === "resources/read") spanAttrs["mcp.resource.uri"] = clip(leg.target);
    if (leg.sessionId) spanAttrs["mcp.session.id"] = leg.sessionId;
    const span = tracer.startSpan(`${leg.method} ${clip(leg.target)}`, { kind: SpanKind.CLIENT, attributes: spanAttrs }, parent);
    const sc = span.spanContext();
    return {
      traceparent: trace.isSpanContextValid(sc) ? `00-${sc.traceId}-${sc.spanId}-0${sc.traceFlags.toString(16)}` : leg.parent,
      end(errorType) {
        try {
          if (errorType) {
            span.setAttribute("error.type", errorType);
            span.setStatus({ code: SpanStatusCode.ERROR });
          }
          span.end();
          const m: Attributes = { ...base, "patchbay.plugin.name": leg.plugin };
          if (errorType) m["error.type"] = errorType;
          clientDuration().record((performance.now() - started) / 1000, m);
        } catch {
          // telemetry is best-effort
        }
      },
    };
  } catch {
    return NOOP_LEG;
  }
}
