/**
 * Trace and span ids cut from one block of random hex, refilled every 4,096 bytes. The SDK's
 * own generator makes every id with Math.random and a Buffer-to-hex conversion, and it runs
 * for every request span, sampled or not (the sampler is handed the new trace id): about a
 * quarter of what telemetry costs a call that is not traced. A substring of a pooled string
 * costs next to nothing, and the ids are cryptographically random besides. The plugin thread
 * pools its own span ids the same way (plugins/thread/plugin-runtime.ts).
 */
import { randomBytes } from "node:crypto";
import type { IdGenerator } from "@opentelemetry/sdk-trace";

const POOL_BYTES = 4096;
const INVALID = /^0+$/;

export class PooledIdGenerator implements IdGenerator {
  private pool = "";
  private offset = 0;

  generateTraceId(): string {
    return this.take(32);
  }

  generateSpanId(): string {
    return this.take(16);
  }

  private take(chars: number): string {
    for (;;) {
      if (this.offset + chars > this.pool.length) {
        this.pool = randomBytes(POOL_BYTES).toString("hex");
        this.offset = 0;
      }
      const id = this.pool.slice(this.offset, (this.offset += chars));
      // all zeros is the W3C "invalid" id (one chance in 2^64 or 2^128)
      if (id.charCodeAt(0) !== 48 || !INVALID.test(id)) return id;
    }
  }
}
