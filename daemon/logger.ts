/**
 * pino logging. Logs go to stderr (fd 2) or a file, never stdout: in stdio mode stdout
 * belongs to JSON-RPC. Pretty when stderr is a terminal, JSON lines otherwise.
 */
import { pino, type Logger } from "pino";
import pretty from "pino-pretty";

export type { Logger };

export interface LoggerOptions {
  level: string;
  file?: string;
  /** Called with every record, for the dashboard's log tail. Must not throw. */
  tap?: (record: Record<string, unknown>) => void;
}

export function createLogger(opts: LoggerOptions): Logger {
  const base = { level: opts.level, base: { pid: process.pid } };
  let stream: pino.DestinationStream;
  if (opts.file) stream = pino.destination({ dest: opts.file, mkdir: true, sync: false });
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
