/**
 * Output lines copied to the daemon log — a stdio upstream's stderr, a plugin thread's console
 * — at most so many lines a second (a token bucket per stream: `ratePerSecond` refill,
 * `burst` capacity). A server that floods its stderr (one measured at ~18 MB/s) used to be
 * copied whole: the log grew as fast and the daemon spent a core on it; a plugin's
 * `console.log` in a loop did the same. Lines over the limit are only counted (the bytes are
 * scanned for newlines, never decoded), and once a second one line says how many were
 * dropped. The stream is always read to the end, so a flooding child never blocks on a full
 * pipe. Nothing here throws: a failing logger loses a line, not the connection.
 */
import type { Logger } from "pino";

/** a longer line is cut to this many characters, with a note of how long it was */
export const STDERR_LINE_MAX_CHARS = 2_000;
/** a line without a newline is logged (cut) once this many bytes of it have arrived */
const PARTIAL_MAX_BYTES = 8_192;

export interface StderrLimits {
  ratePerSecond: number;
  burst: number;
}

export const DEFAULT_STDERR_LIMITS: StderrLimits = { ratePerSecond: 50, burst: 200 };

/** How one stream's lines are logged, and what its drop summary names. */
export interface OutputStream {
  level: "info" | "warn";
  /** fields on every copied line ({ stderr: true } for an upstream, { console: true } for a plugin thread) */
  fields: Record<string, unknown>;
  /** the summary's first word and the setting that raises the limit, e.g. "stderr", "upstreamStderrLinesPerSecond" */
  what: string;
  setting?: string;
}

const UPSTREAM_STDERR: OutputStream = { level: "warn", fields: { stderr: true }, what: "stderr", setting: "upstreamStderrLinesPerSecond" };

export class OutputLimiter {
  private tokens: number;
  private last = performance.now();
  private dropped = 0;
  private droppedSince = 0;
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** the partial line is being dropped (it started over the limit) */
  private partialDropped = false;
  private timer?: NodeJS.Timeout;
  /** the last line logged, cut to 300 characters: why a child that exited at once said it failed */
  lastLine?: string;

  constructor(
    private readonly logger: Logger,
    private readonly limits: StderrLimits = DEFAULT_STDERR_LIMITS,
    private readonly stream: OutputStream = UPSTREAM_STDERR,
  ) {
    this.tokens = limits.burst;
  }

  /** One chunk of the child's stderr. */
  write(chunk: Buffer | string): void {
    try {
      const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(10, start);
        if (nl === -1) break;
        this.endLine(buf, start, nl);
        start = nl + 1;
      }
      if (start < buf.length) this.addPartial(buf.subarray(start));
    } catch {
      // never into the connection: a lost line is all this may cost
    }
  }

  /** The stream ended: what is left of a last line, and the last count of dropped lines. */
  end(): void {
    try {
      if (this.partialBytes > 0) this.flushPartial();
      this.report();
    } catch {
      // as in write
    }
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private take(): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.limits.burst, this.tokens + ((now - this.last) / 1000) * this.limits.ratePerSecond);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  private endLine(buf: Buffer, from: number, to: number) {
    if (this.partialBytes > 0 || this.partialDropped) {
      this.partial.push(buf.subarray(from, to));
      this.partialBytes += to - from;
      return this.flushPartial();
    }
    if (to === from) return;
    if (!this.take()) return this.drop();
    this.log(buf.toString("utf8", from, Math.min(to, from + STDERR_LINE_MAX_CHARS * 4)), to - from);
  }

  private addPartial(piece: Buffer) {
    if (this.partialDropped) return;
    if (this.partialBytes === 0 && !this.take()) {
      this.partialDropped = true;
      return this.drop();
    }
    // a copy: the chunk's buffer may be reused by the stream
    this.partial.push(Buffer.from(piece));
    this.partialBytes += piece.length;
    if (this.partialBytes > PARTIAL_MAX_BYTES) {
      // a "line" that never ends: log what came, drop the rest of it
      this.log(Buffer.concat(this.partial).toString("utf8", 0, STDERR_LINE_MAX_CHARS * 4), this.partialBytes, true);
      this.partial = [];
      this.partialBytes = 0;
      this.partialDropped = true;
    }
  }

  private flushPartial() {
    const wasDropped = this.partialDropped;
    const bytes = this.partialBytes;
    const text = wasDropped ? "" : Buffer.concat(this.partial).toString("utf8", 0, STDERR_LINE_MAX_CHARS * 4);
    this.partial = [];
    this.partialBytes = 0;
    this.partialDropped = false;
    // a partial line took its token when it started (or was counted as dropped then)
    if (!wasDropped && bytes > 0) this.log(text, bytes);
  }

  private log(text: string, bytes: number, unfinished = false) {
    const line = text.replace(/\r$/, "");
    if (!line.trim()) return;
    const cut = line.length > STDERR_LINE_MAX_CHARS || bytes > STDERR_LINE_MAX_CHARS * 4;
    this.lastLine = line.length > 300 ? `${line.slice(0, 300)}…` : line;
    this.logger[this.stream.level](this.stream.fields, cut || unfinished ? `${line.slice(0, STDERR_LINE_MAX_CHARS)}… (${bytes} bytes${unfinished ? " without a newline" : ""})` : line);
  }

  private drop() {
    if (this.dropped === 0) this.droppedSince = Date.now();
    this.dropped++;
    // one summary a second while lines are dropped (and a last one when the flood stops)
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.report();
      }, 1_000);
      this.timer.unref();
    }
  }

  private report() {
    if (this.dropped === 0) return;
    const n = this.dropped;
    const secs = Math.max(1, Math.round((Date.now() - this.droppedSince) / 1000));
    this.dropped = 0;
    const setting = this.stream.setting ? `; ${this.stream.setting}` : "";
    this.logger.warn({ [`${this.stream.what}Dropped`]: n }, `${this.stream.what}: dropped ${n} lines in ${secs} s (over ${this.limits.ratePerSecond} lines/s, bursts of ${this.limits.burst}${setting})`);
  }
}
