/** The last log records, for the dashboard's log tail. Fixed size; never throws. */
export interface LogLine {
  time: number;
  level: string;
  msg: string;
  plugin?: string;
  session?: string;
}

const LEVELS: Record<number, string> = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" };

export class LogTail {
  private lines: LogLine[] = [];
  private listeners = new Set<(l: LogLine) => void>();

  constructor(private readonly size = 300) {}

  push(record: Record<string, unknown>): void {
    const line: LogLine = {
      time: typeof record.time === "number" ? record.time : Date.now(),
      level: LEVELS[record.level as number] ?? String(record.level),
      msg: String(record.msg ?? ""),
      plugin: typeof record.plugin === "string" ? record.plugin : undefined,
      session: typeof record.session === "string" ? record.session : undefined,
    };
    this.lines.push(line);
    if (this.lines.length > this.size) this.lines.splice(0, this.lines.length - this.size);
    for (const l of this.listeners) l(line);
  }

  recent(): LogLine[] {
    return [...this.lines];
  }

  subscribe(l: (line: LogLine) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}
