/**
 * pino logging. Logs go to stderr (fd 2) or a file, never stdout: in stdio mode stdout
 * belongs to JSON-RPC. Pretty when stderr is a terminal, JSON lines otherwise. A log file
 * rotates by size (file → file.1 → … → file.N): a daemon left running for weeks, or an
 * upstream that floods its stderr, must not fill the disk.
 */
import { closeSync, fstatSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { pino, type Logger } from "pino";
import pretty from "pino-pretty";
import { shiftGenerations } from "./rotate-files.ts";

export type { Logger };

export interface LoggerOptions {
  level: string;
  file?: string;
  /** rotate `file` once it would pass this many bytes (default 10 MiB) */
  maxBytes?: number;
  /** rotated generations kept beside `file` (default 3; 0 keeps none) */
  maxFiles?: number;
  /** Called with every record, for the dashboard's log tail. Must not throw. */
  tap?: (record: Record<string, unknown>) => void;
}

export const DEFAULT_LOG_MAX_BYTES = 10 * 1024 * 1024;
export const DEFAULT_LOG_MAX_FILES = 3;

/**
 * A log file that rotates by size. Each line is one synchronous append (O_APPEND), as the
 * audit log does, so lines from another writer of the same file (the raw stderr of a daemon
 * that `patchbay stdio` started, pointed at the same file) interleave whole, and rotation
 * happens at a line boundary. A failing disk loses lines, never throws into the caller.
 */
export class RotatingFile implements pino.DestinationStream {
  private fd?: number;
  private size = 0;

  constructor(
    private readonly file: string,
    private readonly maxBytes = DEFAULT_LOG_MAX_BYTES,
    private readonly maxFiles = DEFAULT_LOG_MAX_FILES,
  ) {
    mkdirSync(dirname(file), { recursive: true });
    this.open();
  }

  private open() {
    this.fd = openSync(this.file, "a");
    this.size = fstatSync(this.fd).size;
  }

  write(line: string): void {
    try {
      const bytes = Buffer.byteLength(line);
      if (this.size > 0 && this.size + bytes > this.maxBytes) this.rotate();
      if (this.fd === undefined) this.open();
      writeSync(this.fd!, line);
      this.size += bytes;
    } catch {
      // nowhere left to say it: the line is lost, the daemon goes on
    }
  }

  private rotate() {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    shiftGenerations(this.file, this.maxFiles);
    this.open();
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

export function createLogger(opts: LoggerOptions): Logger {
  const base = { level: opts.level, base: { pid: process.pid } };
  let stream: pino.DestinationStream;
  if (opts.file) stream = new RotatingFile(opts.file, opts.maxBytes, opts.maxFiles);
  else if (process.stderr.isTTY) stream = pretty({ destination: 2, sync: true, colorize: true, translateTime: "HH:MM:ss.l", ignore: "pid,hostname" });
  else stream = pino.destination({ fd: 2, sync: true });
  if (!opts.tap) return pino(base, stream);
  const tap = opts.tap;
  const teed: pino.DestinationStream = {
    write(line: string) {
      stream.write(line);
      try {
        tap(JSON.parse(line));
      } catch {
        // the tail is best-effort; a bad line must never break logging
      }
    },
  };
  // pretty streams expect JSON input too, so teeing the JSON line works for both.
  return pino(base, teed);
}
