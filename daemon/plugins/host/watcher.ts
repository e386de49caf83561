/**
 * Watches the plugins folder (and helper files outside it that a plugin bundled) with
 * chokidar. chokidar ≥ 5 has no globs, so filtering is an `ignored` function. Callbacks
 * never throw: a failing listener is logged, the watcher keeps going (as Vite's does).
 *
 * chokidar follows the folder it was given, not its path: once the folder is deleted,
 * moved away or made unreadable it reports nothing more, even after a folder appears at
 * that path again. So the folder itself is watched from outside (`FolderMonitor`: its
 * parent, and a slow poll), and the manager re-arms this watcher when it comes back.
 */
import { watch, type FSWatcher } from "chokidar";
import { opendirSync, statSync, watch as fsWatch, type FSWatcher as NodeFsWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import type { Logger } from "pino";
import { messageOf } from "../../errors.ts";

export type WatchEvent = { kind: "add" | "change" | "unlink" | "addDir" | "unlinkDir"; path: string };

/** Dotfiles, editor temp/backup files and node_modules are never plugins or helpers. */
export function isIgnoredPath(path: string): boolean {
  const name = basename(path);
  if (path.split(/[\\/]/).includes("node_modules")) return true;
  if (name.startsWith(".") && name !== ".") return true;
  return /~$|\.sw[a-p]$|\.tmp$|^#.*#$|\.bak$|\.orig$|^4913$/.test(name);
}

export class PluginWatcher {
  private watcher: FSWatcher;
  private extra = new Set<string>();

  constructor(
    private readonly root: string,
    private readonly onEvent: (e: WatchEvent) => void,
    private readonly logger: Logger,
    private readonly stabilityMs = 25,
  ) {
    this.watcher = this.open([]);
  }

  private open(extra: string[]): FSWatcher {
    const w = watch([this.root, ...extra], {
      ignored: (p) => p !== this.root && isIgnoredPath(p),
      ignoreInitial: true,
      depth: 4,
      awaitWriteFinish: { stabilityThreshold: this.stabilityMs, pollInterval: 5 },
    });
    const handler = (kind: WatchEvent["kind"]) => (path: string) => {
      // a late event of a watcher already replaced (see restart) is not about the current folder
      if (this.watcher !== w) return;
      try {
        this.onEvent({ kind, path });
      } catch (err) {
        this.logger.error({ err, path }, "watch listener failed");
      }
    };
    for (const kind of ["add", "change", "unlink", "addDir", "unlinkDir"] as const) w.on(kind, handler(kind));
    w.on("error", (err) => this.logger.error({ err }, "file watcher error"));
    return w;
  }

  ready(): Promise<void> {
    const w = this.watcher;
    return new Promise((resolve) => w.once("ready", () => resolve()));
  }

  /** Also watch files outside the root that some plugin bundled. */
  watchFiles(files: string[]): void {
    const fresh = files.filter((f) => !f.startsWith(this.root) && !this.extra.has(f));
    for (const f of fresh) this.extra.add(f);
    if (fresh.length) this.watcher.add(fresh);
  }

  /**
   * Watches the folder at `root` afresh (the folder there now, which may not be the one the
   * old watcher followed), with the helper files outside it; resolves once it is ready.
   */
  async restart(): Promise<void> {
    const old = this.watcher;
    this.watcher = this.open([...this.extra]);
    await old.close().catch(() => undefined);
    await this.ready();
  }

  close(): Promise<void> {
    return this.watcher.close();
  }
}

/** Whether the plugins folder can be served from, as `/healthz`, `status` and the dashboard say it. */
export type FolderState = "ok" | "missing" | "not-a-folder" | "unreadable";

export interface FolderProbe {
  state: FolderState;
  /** why it cannot be served from, for people */
  reason?: string;
  /** device and inode: a folder deleted and made again at the same path is another folder */
  identity?: string;
}

/** Looks at the plugins folder once. Never throws. */
export function probeFolder(dir: string): FolderProbe {
  let st;
  try {
    st = statSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { state: "missing", reason: `the plugins folder ${dir} does not exist` };
    return { state: "unreadable", reason: `the plugins folder ${dir} cannot be read: ${messageOf(err)}` };
  }
  if (!st.isDirectory()) return { state: "not-a-folder", reason: `${dir} is not a folder` };
  try {
    // listing is what loading needs (stat succeeds on a folder with mode 000)
    opendirSync(dir).closeSync();
  } catch (err) {
    return { state: "unreadable", reason: `the plugins folder ${dir} cannot be read: ${messageOf(err)}`, identity: `${st.dev}:${st.ino}` };
  }
  return { state: "ok", identity: `${st.dev}:${st.ino}` };
}

/** how often the folder is looked at when nothing was heard from its parent */
const FOLDER_POLL_MS = 1_000;
/** events from the parent folder come in bursts (an `mv` is two); one look after the burst */
const FOLDER_SETTLE_MS = 50;

/**
 * Watches the plugins folder from outside: it reports when the folder goes missing, stops
 * being readable or a folder, comes back, or is replaced by another folder at the same path
 * (deleted and made again, moved into place). Hears the parent folder (fs.watch) for a quick
 * answer and polls as well, since the parent may itself be missing or unwatchable. Never
 * throws; its timers do not keep the process alive.
 */
export class FolderMonitor {
  private last: FolderProbe;
  private timer?: NodeJS.Timeout;
  private settle?: NodeJS.Timeout;
  private parentWatch?: NodeFsWatcher;
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly onChange: (now: FolderProbe, before: FolderProbe) => void,
    private readonly logger: Logger,
    private readonly pollMs = FOLDER_POLL_MS,
  ) {
    this.last = probeFolder(dir);
    this.timer = setInterval(() => this.check(), pollMs);
    this.timer.unref();
    this.watchParent();
  }

  get current(): FolderProbe {
    return this.last;
  }

  /** Looks again soon (something hinted that the folder changed). */
  nudge(): void {
    if (this.closed || this.settle) return;
    this.settle = setTimeout(() => {
      this.settle = undefined;
      this.check();
    }, FOLDER_SETTLE_MS);
    this.settle.unref();
  }

  private watchParent() {
    if (this.closed || this.parentWatch) return;
    try {
      const name = basename(this.dir);
      const w = fsWatch(dirname(this.dir), { persistent: false }, (_event, file) => {
        if (file === null || file === name) this.nudge();
      });
      w.on("error", () => {
        // the parent went away: the poll goes on, and a later check watches it again
        w.close();
        if (this.parentWatch === w) this.parentWatch = undefined;
      });
      this.parentWatch = w;
    } catch {
      // no parent to watch (yet): the poll covers it
    }
  }

  private check() {
    if (this.closed) return;
    this.watchParent();
    const now = probeFolder(this.dir);
    const before = this.last;
    if (now.state === before.state && now.identity === before.identity) return;
    this.last = now;
    try {
      this.onChange(now, before);
    } catch (err) {
      this.logger.error({ err: messageOf(err) }, "plugins folder listener failed");
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.settle);
    this.parentWatch?.close();
  }
}
