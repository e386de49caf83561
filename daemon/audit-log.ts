/**
 * The audit log: one JSON line per tools/call, resources/read and prompts/get — time,
 * session, client, transport, name, outcome, duration; arguments redacted unless configured.
 * Rotates by size (file → file.1 → … → file.N). Writes are appended in order on one stream;
 * a failing disk is logged, never thrown into a request.
 */
import { createWriteStream, mkdirSync, renameSync, rmSync, statSync, type WriteStream } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "pino";

export interface AuditEntry {
  time: string;
  session: string;
  client?: string;
  transport: string;
  method: string;
  name: string;
  outcome: "ok" | "error";
  durationMs: number;
  error?: string;
  arguments?: unknown;
}

export class AuditLog {
  private stream?: WriteStream;
  private size = 0;

  constructor(
    private readonly file: string,
    private readonly opts: { includeArguments: boolean; maxBytes: number; maxFiles: number },
    private readonly logger: Logger,
  ) {
    mkdirSync(dirname(file), { recursive: true });
    try {
      this.size = statSync(file).size;
    } catch {
      this.size = 0;
    }
  }

  write(entry: Omit<AuditEntry, "arguments"> & { arguments?: unknown }): void {
    try {
      const record: AuditEntry = { ...entry, arguments: this.opts.includeArguments ? entry.arguments : entry.arguments === undefined ? undefined : "[redacted]" };
      const line = JSON.stringify(record) + "\n";
      if (this.size + line.length > this.opts.maxBytes && this.size > 0) this.rotate();
      this.stream ??= this.open();
      this.stream.write(line);
      this.size += Buffer.byteLength(line);
    } catch (err) {
      this.logger.error({ err }, "audit log write failed");
    }
  }

  private open(): WriteStream {
    const s = createWriteStream(this.file, { flags: "a", mode: 0o600 });
    s.on("error", (err) => this.logger.error({ err }, "audit log stream error"));
    return s;
  }

  private rotate() {
    this.stream?.end();
    this.stream = undefined;
    rmSync(`${this.file}.${this.opts.maxFiles}`, { force: true });
    for (let i = this.opts.maxFiles - 1; i >= 1; i--) {
      try {
        renameSync(`${this.file}.${i}`, `${this.file}.${i + 1}`);
      } catch {
        // that generation does not exist yet
      }
    }
    try {
      renameSync(this.file, `${this.file}.1`);
    } catch {
      // nothing to rotate
    }
    this.size = 0;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.stream) return resolve();
      this.stream.end(() => resolve());
    });
  }
}
