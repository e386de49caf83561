/**
 * The daemon's state file under `$PATCHBAY_HOME` (port, pid, token, started-at), written
 * with mode 0600 because it may hold the token. `stdio`, `status`, `doctor` and a second
 * `start` find the daemon through it.
 *
 * A recorded pid proves nothing after a reboot or a `kill -9`: pids are reused, so the pid
 * may now belong to any process. A daemon counts as running only when the recorded port
 * answers `/healthz` with the recorded pid; otherwise the file is stale and ignored.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync, renameSync } from "node:fs";
import { join } from "node:path";

export interface DaemonState {
  pid: number;
  host: string;
  port: number;
  url: string;
  token?: string;
  /** secret that marks `patchbay stdio` bridges on /ws (see transports/websocket.ts) */
  bridgeKey?: string;
  startedAt: string;
  version: string;
  pluginsDir: string;
  /** the daemon's instance id (instance.ts): a bridge started as its upstream must not attach to it */
  instance?: string;
}

/** How long one liveness probe of the recorded port may take. */
const PROBE_TIMEOUT_MS = 2_000;

export function stateFilePath(home: string): string {
  return join(home, "daemon.json");
}

/** Whether some process has this pid (not necessarily ours: pids are reused). */
export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The state file as written, without asking whether that daemon still runs; undefined if missing or unreadable. */
export function readStateFile(home: string): DaemonState | undefined {
  try {
    const s = JSON.parse(readFileSync(stateFilePath(home), "utf8")) as DaemonState;
    if (typeof s !== "object" || s === null || typeof s.pid !== "number" || typeof s.port !== "number" || typeof s.url !== "string") return undefined;
    return s;
  } catch {
    return undefined;
  }
}

/**
 * Whether the daemon a state file describes is the one answering at its port: `/healthz`
 * (with the recorded token, so it gives the full report) must name the recorded pid. A dead
 * pid is decided without a request.
 */
export async function isDaemonAlive(state: DaemonState, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  if (!isPidAlive(state.pid)) return false;
  try {
    const res = await fetch(`${state.url}/healthz`, {
      headers: state.token ? { authorization: `Bearer ${state.token}` } : {},
      signal: AbortSignal.timeout(timeoutMs),
    });
    // 503 while draining or loading still names the pid
    const body = (await res.json()) as { pid?: unknown };
    return body?.pid === state.pid;
  } catch {
    return false;
  }
}

/** The running daemon's state, or undefined when none runs (missing, unreadable or stale file). */
export async function readState(home: string): Promise<DaemonState | undefined> {
  const s = readStateFile(home);
  return s && (await isDaemonAlive(s)) ? s : undefined;
}

export function writeState(home: string, state: DaemonState): void {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const tmp = `${stateFilePath(home)}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2), { mode: 0o600 });
  renameSync(tmp, stateFilePath(home));
}

/** Removes the state file if it is ours. */
export function removeState(home: string, pid = process.pid): void {
  if (readStateFile(home)?.pid !== pid) return;
  rmSync(stateFilePath(home), { force: true });
}
