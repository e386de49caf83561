/**
 * The last log records, for the dashboard's log tail. Fixed size; never throws.
 *
 * An upstream server's stderr lines (records marked `stderr: true`) are kept apart, in a
 * smaller ring: even rate-limited, a flooding server writes 50 lines a second, and in one
 * shared ring they pushed out everything the daemon itself said within seconds — the
 * dashboard showed nothing but the flood. The daemon's own records (the "dropped N lines"
 * summaries among them) stay in the main ring; `recent()` merges both in time order.
 */
export interface LogLine {
  time: number;
  level: string;
  msg: string;
  plugin?: string;
  session?: string;
  /** a line an upstream server wrote on its stderr */
  stderr?: boolean;
}

const LEVELS: Record<number, string> = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" };

/** the share of the tail that upstream stderr lines may hold */
const STDERR_SHARE = 1 / 3;

export class LogTail {
  private lines: LogLine[] = [];
  private stderrLines: LogLine[] = [];
  private listeners = new Set<(l: LogLine) => void>();
  private readonly stderrSize: number;

  constructor(private readonly size = 300) {
    this.stderrSize = Math.max(1, Math.floor(size * STDERR_SHARE));
  }

  push(record: Record<string, unknown>): void {
    const line: LogLine = {
      time: typeof record.time === "number" ? record.time : Date.now(),
      level: LEVELS[record.level as number] ?? String(record.level),
      msg: String(record.msg ?? ""),
      plugin: typeof record.plugin === "string" ? record.plugin : undefined,
      session: typeof record.session === "string" ? record.session : undefined,
    };
    const ring = record.stderr === true ? this.stderrLines : this.lines;
    const max = record.stderr === true ? this.stderrSize : this.size;
    if (record.stderr === true) line.stderr = true;
    ring.push(line);
    if (ring.length > max) ring.splice(0, ring.length - max);
    for (const l of this.listeners) {
      try {
        l(line);
      } catch {
        // a failing listener must not break logging
      }
    }
  }

  /** The last `size` lines, oldest first; upstream stderr lines are at most a third of `size`. */
  recent(): LogLine[] {
    if (this.stderrLines.length === 0) return [...this.lines];
    const merged = [...this.lines, ...this.stderrLines].sort((a, b) => a.time - b.time);
    return merged.slice(-this.size);
  }

  subscribe(l: (line: LogLine) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}
