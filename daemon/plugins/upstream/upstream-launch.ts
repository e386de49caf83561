/**
 * How a stdio upstream is started so that it cannot outlive the daemon, even after
 * `kill -9` (which runs no cleanup): Node cannot set PR_SET_PDEATHSIG, and many servers
 * ignore stdin EOF. So the command is started through a small `sh` launcher that
 * 1. forks a watchdog that polls the daemon's pid once a second and, when the daemon is
 *    gone, sends SIGTERM then SIGKILL to the server's process group, and exits by itself as
 *    soon as the server is gone;
 * 2. `exec`s the server under `setsid`, so the server keeps the launcher's pid (what the
 *    daemon reports and signals) and leads its own process group — grandchildren such as
 *    the real server behind `npx` or `uvx` are in that group and die with it.
 * Without `setsid` (macOS) only the server itself is signalled. On Windows the command is
 * spawned as is.
 */
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, isAbsolute, join, resolve } from "node:path";

/** how often the watchdog looks at the daemon (seconds) */
export const WATCHDOG_POLL_S = 1;

const LAUNCHER = [
  'd=$PPID; s=$$',
  // the launcher's own tools come from the system, not from the PATH the server's env sets
  // (a PATH without sleep would turn the watchdog into a busy loop)
  `( PATH=/usr/bin:/bin; while kill -0 "$d" 2>/dev/null && kill -0 "$s" 2>/dev/null; do sleep ${WATCHDOG_POLL_S}; done`,
  '  if kill -0 "$s" 2>/dev/null; then kill -s TERM -- "-$s" 2>/dev/null || kill -s TERM "$s"; sleep 2; kill -s KILL -- "-$s" 2>/dev/null || kill -s KILL "$s" 2>/dev/null; fi',
  ') </dev/null >/dev/null 2>&1 &',
  'sid=$(PATH=/usr/bin:/bin; command -v setsid)',
  'if [ -n "$sid" ]; then exec "$sid" "$@"; else exec "$@"; fi',
].join("\n");

export const GUARDED = process.platform !== "win32";

/** The command line that starts `command args` under the watchdog. */
export function guardedCommand(command: string, args: string[]): { command: string; args: string[] } {
  if (!GUARDED) return { command, args };
  return { command: "/bin/sh", args: ["-c", LAUNCHER, "patchbay-upstream", command, ...args] };
}

/** Where `command` resolves (PATH, or relative to cwd when it has a slash), or undefined. */
export function findCommand(command: string, path: string | undefined, cwd = process.cwd()): string | undefined {
  const runnable = (p: string) => {
    try {
      accessSync(p, constants.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (/[\\/]/.test(command)) {
    const p = isAbsolute(command) ? command : resolve(cwd, command);
    return runnable(p) ? p : undefined;
  }
  for (const dir of (path ?? "").split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, command);
    if (runnable(p)) return p;
  }
  return undefined;
}

/** Signals what is left of a stopped server's process group (children it started); never throws. */
export function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!GUARDED || !pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already empty
  }
}
