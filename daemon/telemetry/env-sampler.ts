/**
 * The standard `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` settings, as the OpenTelemetry
 * SDK environment specification defines them. `@opentelemetry/sdk-node` reads them too, but it
 * exports only `NodeSDK`, whose import statically loads every exporter (gRPC, protobuf, logs,
 * Zipkin): ~20 MB of resident memory the daemon never uses. Patchbay sets the providers up
 * itself (sdk.ts), so it reads these two variables here.
 */
import { diag } from "@opentelemetry/api";
import { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler, type Sampler } from "@opentelemetry/sdk-trace";

function ratioFrom(env: NodeJS.ProcessEnv): number {
  const raw = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  const ratio = raw ? Number(raw) : NaN;
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    if (raw) diag.error(`OTEL_TRACES_SAMPLER_ARG=${raw} is not a number from 0 to 1; using 1`);
    return 1;
  }
  return ratio;
}

/** The sampler `OTEL_TRACES_SAMPLER` names, or undefined when it is unset or unknown. */
export function samplerFromEnv(env: NodeJS.ProcessEnv): Sampler | undefined {
  const name = env.OTEL_TRACES_SAMPLER?.trim();
  switch (name) {
    case undefined:
    case "":
      return undefined;
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "traceidratio":
      return new TraceIdRatioBasedSampler(ratioFrom(env));
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratioFrom(env)) });
    default:
      diag.error(`unknown OTEL_TRACES_SAMPLER value "${name}"; using the default sampler`);
      return undefined;
  }
}
