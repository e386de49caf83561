/**
 * Keeps plugin code away from the JSON-RPC stream in `patchbay stdio --standalone`.
 *
 * There the plugins run in worker threads of this process, and threads share the process's
 * file descriptors: `console.log` and `process.stdout.write` in a worker are piped to the
 * log, but `fs.writeSync(1, …)` writes straight into fd 1, which is the protocol stream.
 * Moving the protocol off fd 1 needs dup/dup2, which Node does not offer without a native
 * addon. A child process, though, can be given any descriptors: so the CLI runs the
 * session in a child whose fd 1 is our stderr and whose fd 3 is our stdout. The child
 * speaks JSON-RPC on fd 3; whatever anything writes to fd 1 lands on stderr. This process
 * only waits for the child, forwards signals and exits with its code.
 *
 * Windows passes extra descriptors differently, so there the session runs in-process and
 * a raw write to fd 1 still reaches stdout (console and process.stdout are redirected).
 */
import { spawn } from "node:child_process";
import { createWriteStream, fstatSync } from "node:fs";
import { Socket } from "node:net";
import { constants } from "node:os";
import type { Writable } from "node:stream";
import { WriteStream as TtyWriteStream, isatty } from "node:tty";

/** Set in the child: the descriptor that carries JSON-RPC. */
export const PROTOCOL_FD_ENV = "PATCHBAY_STDIO_PROTOCOL_FD";
const PROTOCOL_FD = 3;

export function canIsolateStdout(): boolean {
  return process.platform !== "win32";
}

/**
 * In the child: the protocol descriptor the parent arranged, removed from the environment
 * so processes that plugins start do not mistake themselves for it. Undefined in a parent.
 */
export function takeProtocolFd(): number | undefined {
  const raw = process.env[PROTOCOL_FD_ENV];
  if (raw === undefined) return undefined;
  delete process.env[PROTOCOL_FD_ENV];
  const fd = Number(raw);
  return Number.isInteger(fd) && fd > 2 ? fd : undefined;
}

/** A writable stream over the protocol descriptor, of the kind Node would use for stdout. */
export function protocolStream(fd: number): Writable {
  if (isatty(fd)) return new TtyWriteStream(fd);
  const st = fstatSync(fd);
  if (st.isFIFO() || st.isSocket()) return new Socket({ fd, readable: false, writable: true });
  return createWriteStream("", { fd, autoClose: false });
}

/**
 * In the parent: runs this same command line in a child with fd 1 → our stderr and fd 3 →
 * our stdout, and resolves with the child's exit code. stdin is the child's alone.
 */
export function runIsolated(): Promise<number> {
  // the same flags, except an inspector: its port is taken by this process
  const execArgv = process.execArgv.filter((a) => !/^--(inspect|debug)/.test(a));
  const child = spawn(process.execPath, [...execArgv, ...process.argv.slice(1)], {
    stdio: [0, 2, 2, 1],
    env: { ...process.env, [PROTOCOL_FD_ENV]: String(PROTOCOL_FD) },
  });
  const forward = (signal: NodeJS.Signals) => () => {
    if (child.exitCode === null) child.kill(signal);
  };
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, forward(signal));
  return new Promise((resolve) => {
    child.once("error", (err) => {
      process.stderr.write(`patchbay: could not start the stdio session process: ${err.message}\n`);
      resolve(1);
    });
    child.once("exit", (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] ?? 0 : 0)));
  });
}
