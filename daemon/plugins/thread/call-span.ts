/**
 * The span a plugin records for each call, so the host can show plugin time apart from host
 * time. Only a call whose host span records (telemetry on, sampled) gets one.
 */
import { randomBytes } from "node:crypto";
import type { CallRequest, WorkerSpan } from "../worker-protocol.ts";

/** The host span a call's traceparent names. */
export interface ParentSpan {
  traceId: string;
  spanId: string;
  sampled: boolean;
}

// Span ids come from one random block refilled every 512 spans: a randomBytes call per id
// was a tenth of this thread's time per call.
let idPool = Buffer.alloc(0);
let idOffset = 0;
function randomHex(bytes: number): string {
  if (idOffset + bytes > idPool.length) {
    idPool = randomBytes(8192);
    idOffset = 0;
  }
  const hex = idPool.toString("hex", idOffset, idOffset + bytes);
  idOffset += bytes;
  return hex;
}

export function parseTraceparent(tp: string | undefined): ParentSpan | undefined {
  const m = tp ? /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(tp) : null;
  return m ? { traceId: m[1], spanId: m[2], sampled: (parseInt(m[3], 16) & 1) === 1 } : undefined;
}

/** Now, in epoch milliseconds with the precision of `performance.now()`. */
export function spanClock(): number {
  return performance.timeOrigin + performance.now();
}

/** The plugin's child span of `parent` for a call that started at `startTime` and ends now. */
export function callSpan(req: CallRequest, parent: ParentSpan, startTime: number, ok: boolean, pluginName: string): WorkerSpan {
  return {
    name: `plugin ${req.kind} ${req.target}`,
    traceId: parent.traceId,
    spanId: randomHex(8),
    parentSpanId: parent.spanId,
    startTime,
    endTime: spanClock(),
    ok,
    attributes: { "patchbay.plugin.name": pluginName, "patchbay.call.kind": req.kind },
  };
}
