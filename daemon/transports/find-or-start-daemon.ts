/**
 * Finding the running daemon for `patchbay stdio` (attached), or starting one: its state
 * file, the home's lock, a detached spawn and the wait until it answers /healthz. Apart from
 * the WebSocket relay because the bridge needs it twice (at start and after losing the
 * daemon) and it knows nothing of JSON-RPC.
 */
import { spawn } from "node:child_process";
import { openSync, closeSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config.ts";
import { DaemonUnreachableError, messageOf } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { distDir } from "../package-root.ts";
import { readState, type DaemonState } from "../state-file.ts";
import { ensureHome } from "../home-dir.ts";
import { homeLockOwner, homeLockPath, tryLock, type HeldLock, type LockAttempt, type LockOwner } from "../home-lock.ts";

const START_TIMEOUT_MS = 20_000;
/** after the daemon we started exits, how long another bridge's daemon may take to appear */
const LOST_RACE_GRACE_MS = 2_000;

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

async function healthy(state: DaemonState): Promise<boolean> {
  try {
    const res = await fetch(`${state.url}/healthz`, { signal: AbortSignal.timeout(2_000) });
    // up is enough: a daemon still loading its plugins (status "loading"), or missing its
    // folder ("degraded"), serves, and the client hears of plugins as they arrive
    return res.ok && typeof ((await res.json()) as { status?: unknown }).status === "string";
  } catch {
    return false;
  }
}

/**
 * Returns the running daemon's state, starting a detached daemon first if none runs.
 *
 * The home's lock (home-lock.ts) says whether a daemon runs there even before it listens:
 * while a live process holds it, the bridge waits for that daemon's state file and health
 * instead of starting another (a slow daemon still loading, as Claude Desktop's retries
 * found). When nobody holds it, one bridge at a time starts a daemon: the one that takes
 * `stdio-start.lock`; the others wait for the daemon it starts.
 */
export async function ensureDaemon(config: Config, logger: Logger): Promise<DaemonState> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let child: SpawnedDaemon | undefined;
  let starting: HeldLock | undefined;
  let waitedOn: LockOwner | undefined;
  try {
    // Re-read on every round: a state file counts only while its port answers with its pid
    // (see readState), and the lock's holder may change.
    while (Date.now() < deadline) {
      const s = await readState(config.home);
      if (s && (await healthy(s))) return s;
      const owner = homeLockOwner(config.home);
      if (owner) waitedOn = owner;
      else if (!child) {
        const attempt = tryStartLock(config);
        if (attempt.ok) {
          starting = attempt.lock;
          // the lock may have been taken between our look and our start lock
          if (!homeLockOwner(config.home)) child = spawnDaemon(config, logger);
        }
      }
      // The daemon we started died and no live daemon holds the home: it could not start.
      // (Ours exits with "already running" when another daemon won the home: then wait on that one.)
      if (child?.exit && !owner && Date.now() - child.exit.at > LOST_RACE_GRACE_MS) {
        throw new DaemonUnreachableError(`could not start the daemon: it exited (${child.exit.how})${child.exit.detail ? `: ${child.exit.detail}` : ""}\nIts output: ${child.rawFile}; its log: ${child.logFile}`);
      }
      await sleep(100);
    }
  } finally {
    starting?.release();
  }
  const who = waitedOn && waitedOn.pid > 0 ? `the daemon (pid ${waitedOn.pid}) that holds ${homeLockPath(config.home)}` : "the daemon";
  throw new DaemonUnreachableError(`${who} did not become healthy within ${START_TIMEOUT_MS / 1000} s; see ${join(config.home, "daemon.log")}`);
}

/**
 * One attempt at `stdio-start.lock`. A home that cannot hold it (not a folder, not
 * writable) counts as taken by us: spawnDaemon then fails on the same home and says why.
 */
function tryStartLock(config: Config): LockAttempt {
  try {
    return tryLock(join(config.home, "stdio-start.lock"));
  } catch {
    return { ok: true, lock: { path: "", release: () => undefined } };
  }
}

interface SpawnedDaemon {
  logFile: string;
  /** the daemon's raw stdout and stderr */
  rawFile: string;
  exit?: { at: number; how: string; detail?: string };
}

/** The last lines of the daemon's log: where a daemon that failed to start said why. */
function logTail(file: string, from: number): string | undefined {
  try {
    const text = readFileSync(file, "utf8").slice(from);
    const lines = text.split("\n").filter((l) => l.trim());
    return lines.slice(-5).join("\n").slice(-2_000) || undefined;
  } catch {
    return undefined;
  }
}

function spawnDaemon(config: Config, logger: Logger): SpawnedDaemon {
  const logFile = join(config.home, "daemon.log");
  // The daemon writes its log to daemon.log itself, so that it rotates it (logMaxBytes). Its raw
  // stdout and stderr (start-up failures, Node's own warnings, output of children a plugin
  // starts with inherited stdio) go to a file of their own, emptied at each start: appended to
  // daemon.log through a descriptor the child holds, they would keep growing a file rotation
  // had already renamed and deleted, out of sight until the daemon exits.
  const rawFile = join(config.home, "daemon.stdio.log");
  let rawFd: number;
  ensureHome(config.home);
  try {
    rawFd = openSync(rawFile, "w");
  } catch (err) {
    throw new DaemonUnreachableError(`cannot start the daemon: cannot open ${rawFile}: ${messageOf(err)}`, { cause: err });
  }
  const args = [join(distDir, "cli.js"), "start", "--port", String(config.port), "--host", config.host, "--plugins", config.pluginsDir];
  if (config.configFile) args.push("--config", config.configFile);
  if (config.token) args.push("--token", config.token);
  logger.info({ args }, "no daemon running; starting one in the background");
  const spawned: SpawnedDaemon = { logFile: config.logFile ?? logFile, rawFile };
  const logEnv = config.logFile ? {} : { PATCHBAY_LOG_FILE: logFile };
  const child = spawn(process.execPath, args, { detached: true, windowsHide: true, stdio: ["ignore", rawFd, rawFd], env: { ...process.env, ...logEnv, PATCHBAY_HOME: config.home } });
  const exited = (how: string) => {
    spawned.exit ??= { at: Date.now(), how, detail: logTail(rawFile, 0) };
  };
  child.once("exit", (code, signal) => exited(signal ? `signal ${signal}` : `exit code ${code}`));
  child.once("error", (err) => exited(messageOf(err)));
  child.unref();
  closeSync(rawFd);
  return spawned;
}
