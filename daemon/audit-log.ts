/**
 * The audit log: one JSON line per tools/call, resources/read and prompts/get — time,
 * session, client, transport, name, outcome, duration; arguments redacted unless configured.
 * Rotates by size (file → file.1 → … → file.N). Lines are appended with one small
 * synchronous write each (O_APPEND), so order and rotation are exact and nothing is lost on
 * a crash; a failing disk is logged, never thrown into a request.
 */
import { closeSync, mkdirSync, openSync, statSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "pino";
import { shiftGenerations } from "./rotate-files.ts";

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
  private fd?: number;
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
      this.fd ??= openSync(this.file, "a", 0o600);
      writeSync(this.fd, line);
      this.size += Buffer.byteLength(line);
    } catch (err) {
      this.logger.error({ err }, "audit log write failed");
    }
  }

  private rotate() {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    shiftGenerations(this.file, this.opts.maxFiles);
    this.size = 0;
  }

  async close(): Promise<void> {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
