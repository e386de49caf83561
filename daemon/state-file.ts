/**
 * The daemon's state file under `$PATCHBAY_HOME` (port, pid, token, started-at), written
 * with mode 0600 because it may hold the token. `stdio` and `status` find the daemon
 * through it; a file whose pid is dead is stale and ignored.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync, renameSync } from "node:fs";
import { join } from "node:path";

export interface DaemonState {
  pid: number;
  host: string;
  port: number;
  url: string;
  token?: string;
  startedAt: string;
  version: string;
  pluginsDir: string;
}

export function stateFilePath(home: string): string {
  return join(home, "daemon.json");
}

export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The running daemon's state, or undefined when none runs (missing, unreadable or stale file). */
export function readState(home: string): DaemonState | undefined {
  try {
    const s = JSON.parse(readFileSync(stateFilePath(home), "utf8")) as DaemonState;
    if (typeof s.pid !== "number" || typeof s.port !== "number") return undefined;
    return isPidAlive(s.pid) ? s : undefined;
  } catch {
    return undefined;
  }
}

export function writeState(home: string, state: DaemonState): void {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const tmp = `${stateFilePath(home)}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2), { mode: 0o600 });
  renameSync(tmp, stateFilePath(home));
}

/** Removes the state file if it is ours. */
export function removeState(home: string, pid = process.pid): void {
  try {
    const s = JSON.parse(readFileSync(stateFilePath(home), "utf8")) as DaemonState;
    if (s.pid !== pid) return;
  } catch {
    return;
  }
  rmSync(stateFilePath(home), { force: true });
}
