/**
 * One daemon per `$PATCHBAY_HOME`. The state file (state-file.ts) says where a daemon
 * listens, but it is written only once the daemon listens, so two daemons starting at once
 * (two `patchbay start`, or two `patchbay stdio` cold starts) both found none and both ran,
 * sharing the data folder, one of them invisible to `status`. So the daemon takes an
 * exclusive lock on the home before anything else: the file `daemon.lock`, created
 * atomically, holding the holder's pid and (on Linux) its start time.
 *
 * - Creation is atomic with its content: the content goes to a temp file first, which is
 *   then hard-linked to the lock's name (link fails if the name exists), so nobody ever
 *   reads a half-written lock. Where hard links are not supported, `open(…, "wx")` instead.
 * - A lock whose holder is dead is stale and taken over. A pid is reused after a reboot or
 *   a `kill -9`, so where the kernel says when a process started (Linux /proc), the lock
 *   also records that, and a live pid that started at another time is not the holder.
 * - Two starters may both find the same stale lock. Only the one that holds the short-lived
 *   guard `daemon.lock.takeover` may remove it, and it removes it only if it is still the
 *   stale one it judged; the other then finds the winner's lock. (A starter killed while
 *   holding the guard leaves a guard whose pid is dead, which the next one removes.)
 * - The lock is removed when the process exits (exit-hooks.ts: a clean stop, an error, a
 *   SIGINT/SIGTERM/SIGHUP that nothing else handles). After `kill -9` it stays, stale.
 *
 * Used for the daemon's lock and for `stdio-start.lock` (one bridge at a time starts a
 * daemon, see transports/find-or-start-daemon.ts). `patchbay stdio --standalone` takes no lock:
 * see docs/configuration.md "One daemon per home".
 */
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import { AlreadyRunningError, HomeUnusableError, messageOf } from "./errors.ts";
import { isPidAlive, readState, readStateFile } from "./state-file.ts";
import { atExit } from "./exit-hooks.ts";

export interface LockOwner {
  pid: number;
  /** when the process started (Linux: boot id and start time in clock ticks); absent elsewhere */
  start?: string;
  /** when the lock was taken (ISO) */
  since?: string;
}

export interface HeldLock {
  readonly path: string;
  /** Removes the lock if it is still ours. Idempotent. */
  release(): void;
}

export type LockAttempt = { ok: true; lock: HeldLock } | { ok: false; owner: LockOwner };

/** A lock younger than this whose content cannot be read is being written by the fallback (`wx`) path: held. */
const UNREADABLE_GRACE_MS = 5_000;
/** A takeover guard older than this is left over by a starter that died holding it. */
const GUARD_STALE_MS = 10_000;
/** How long one attempt keeps retrying while another starter takes a stale lock over. */
const TAKEOVER_WAIT_MS = 3_000;

export function homeLockPath(home: string): string {
  return join(home, "daemon.lock");
}

let bootId: string | undefined | null = null;
/**
 * When the process `pid` started, in a form equal for the same process and different for a
 * later one with the same pid; undefined where the system does not say (then the pid alone
 * decides). Linux: the boot id and field 22 of /proc/PID/stat (start time in ticks since boot).
 */
export function processStartTime(pid: number): string | undefined {
  if (process.platform !== "linux") return undefined;
  try {
    if (bootId === null) {
      try {
        bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
      } catch {
        bootId = undefined;
      }
    }
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // the command name (field 2) is in parentheses and may itself hold spaces or ")"
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = fields[19]; // field 22 overall: fields 3.. start at index 0
    return ticks ? `${bootId ?? "?"}:${ticks}` : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the process that wrote `owner` still runs (a dead pid, or a live one that started at another time, does not). */
export function isOwnerAlive(owner: LockOwner): boolean {
  if (!isPidAlive(owner.pid)) return false;
  if (owner.start === undefined) return true;
  const now = processStartTime(owner.pid);
  // no /proc entry for a pid that answers signals: another pid namespace; trust the pid
  return now === undefined || now === owner.start;
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const o = JSON.parse(text) as LockOwner;
    return typeof o === "object" && o !== null && Number.isInteger(o.pid) && o.pid > 0 ? o : undefined;
  } catch {
    return undefined;
  }
}

type Found = { kind: "none" } | { kind: "owner"; owner: LockOwner; text: string; ageMs: number } | { kind: "unreadable"; text: string; ageMs: number };

function readLock(path: string): Found {
  let text: string;
  let ageMs: number;
  try {
    ageMs = Date.now() - statSync(path).mtimeMs;
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { kind: "none" };
    throw err;
  }
  const owner = parseOwner(text);
  return owner ? { kind: "owner", owner, text, ageMs } : { kind: "unreadable", text, ageMs };
}

/** Creates `path` holding `content` if it does not exist; false if it does. */
function createExclusive(path: string, content: string): boolean {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  try {
    linkSync(tmp, path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw err;
    // no hard links here (some network and FUSE file systems): exclusive create, then write
    let fd: number;
    try {
      fd = openSync(path, "wx", 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw e;
    }
    try {
      writeSync(fd, content);
    } finally {
      closeSync(fd);
    }
    return true;
  } finally {
    rmSync(tmp, { force: true });
  }
}

function sleepSync(ms: number) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const held = new Set<HeldLock>();
let exitHooked = false;
/** Locks go when the process goes (exit-hooks.ts: also on a signal nothing else handles). */
function hookExit() {
  if (exitHooked) return;
  exitHooked = true;
  atExit(() => {
    for (const l of [...held]) l.release();
  });
}

/**
 * One attempt to take the lock at `path` (its folder is created). Returns the lock, or the
 * live process that holds it. A stale lock (dead holder) is taken over.
 */
export function tryLock(path: string, extra: Record<string, unknown> = {}): LockAttempt {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const me: LockOwner = { pid: process.pid, start: processStartTime(process.pid), since: new Date().toISOString() };
  const content = JSON.stringify({ ...me, ...extra });
  const deadline = Date.now() + TAKEOVER_WAIT_MS;
  for (;;) {
    if (createExclusive(path, content)) {
      let released = false;
      const lock: HeldLock = {
        path,
        release() {
          if (released) return;
          released = true;
          held.delete(lock);
          // only our own: a lock another process took over after ours was judged stale stays
          const now = readLock(path);
          if (now.kind === "owner" && now.text === content) rmSync(path, { force: true });
        },
      };
      held.add(lock);
      hookExit();
      return { ok: true, lock };
    }
    const found = readLock(path);
    if (found.kind === "none") continue; // released meanwhile: try again
    if (found.kind === "owner" && isOwnerAlive(found.owner)) return { ok: false, owner: found.owner };
    if (found.kind === "unreadable" && found.ageMs < UNREADABLE_GRACE_MS) {
      // being written through the `wx` fallback: held by someone we cannot name yet
      if (Date.now() > deadline) return { ok: false, owner: { pid: 0 } };
      sleepSync(20);
      continue;
    }
    // stale: take it over under the guard, so two starters cannot both remove a lock
    if (!takeOverStale(path, found.text) && Date.now() > deadline) {
      const again = readLock(path);
      return { ok: false, owner: again.kind === "owner" ? again.owner : { pid: 0 } };
    }
    sleepSync(5 + Math.floor(Math.random() * 20));
  }
}

/** Removes the stale lock whose content is `staleText`, under the takeover guard; false if another starter holds the guard. */
function takeOverStale(path: string, staleText: string): boolean {
  const guard = `${path}.takeover`;
  const mine = JSON.stringify({ pid: process.pid, start: processStartTime(process.pid) });
  if (!createExclusive(guard, mine)) {
    const g = readLock(guard);
    const dead = g.kind === "owner" ? !isOwnerAlive(g.owner) : g.kind === "unreadable" && g.ageMs > UNREADABLE_GRACE_MS;
    const old = g.kind !== "none" && g.ageMs > GUARD_STALE_MS;
    // a starter died holding the guard (it holds it for microseconds): clear it
    if (dead || old) rmSync(guard, { force: true });
    return false;
  }
  try {
    // still the one judged stale? (it may have been taken over and released meanwhile)
    const now = readLock(path);
    if (now.kind !== "none" && now.text === staleText) unlinkSync(path);
    return true;
  } finally {
    rmSync(guard, { force: true });
  }
}

/** The live process holding the daemon's lock on `home`, if any (without taking it). */
export function homeLockOwner(home: string): LockOwner | undefined {
  try {
    const found = readLock(homeLockPath(home));
    if (found.kind === "owner") return isOwnerAlive(found.owner) ? found.owner : undefined;
    if (found.kind === "unreadable" && found.ageMs < UNREADABLE_GRACE_MS) return { pid: 0 };
  } catch {
    // unreadable home: whoever starts a daemon there will say why
  }
  return undefined;
}

/**
 * Takes the daemon's lock on `home`, or throws AlreadyRunningError naming where the daemon
 * that holds it runs (pid, and its URL once its state file says). Also refuses when a
 * daemon of an earlier version, which took no lock, answers at the state file's port.
 */
export async function takeHomeLock(home: string): Promise<HeldLock> {
  let attempt: LockAttempt;
  try {
    attempt = tryLock(homeLockPath(home));
  } catch (err) {
    throw new HomeUnusableError(`cannot use PATCHBAY_HOME ${home}: it cannot hold the daemon's lock file (${messageOf(err)}). Point PATCHBAY_HOME at a folder you can write, or fix that path's permissions.`, { cause: err });
  }
  if (!attempt.ok) throw new AlreadyRunningError(alreadyRunning(home, attempt.owner));
  const earlier = await readState(home);
  if (earlier && earlier.pid !== process.pid) {
    attempt.lock.release();
    throw new AlreadyRunningError(alreadyRunning(home, { pid: earlier.pid }));
  }
  return attempt.lock;
}

/** One line: where the daemon that holds the home runs. */
export function alreadyRunning(home: string, owner: LockOwner): string {
  const state = readStateFile(home);
  const where = state && state.pid === owner.pid ? `at ${state.url}` : "still starting (no URL yet)";
  const who = owner.pid > 0 ? `(pid ${owner.pid}) ${where}` : "(starting)";
  // Outside Linux a lock records no start time, so a crashed daemon's pid reused by another
  // program looks alive: say how to get out of that
  const stale = state && state.pid === owner.pid ? "" : ` (if pid ${owner.pid} is not a patchbay daemon, delete ${homeLockPath(home)})`;
  return `a daemon is already running ${who} for PATCHBAY_HOME ${home}; stop it first, or use another PATCHBAY_HOME${stale}`;
}
