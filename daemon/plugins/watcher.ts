/**
 * Watches the plugins folder (and helper files outside it that a plugin bundled) with
 * chokidar. chokidar ≥ 5 has no globs, so filtering is an `ignored` function. Callbacks
 * never throw: a failing listener is logged, the watcher keeps going (as Vite's does).
 */
import { watch, type FSWatcher } from "chokidar";
import { basename } from "node:path";
import type { Logger } from "pino";

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
    onEvent: (e: WatchEvent) => void,
    private readonly logger: Logger,
    stabilityMs = 25,
  ) {
    this.watcher = watch(root, {
      ignored: (p) => p !== root && isIgnoredPath(p),
      ignoreInitial: true,
      depth: 4,
      awaitWriteFinish: { stabilityThreshold: stabilityMs, pollInterval: 5 },
    });
    const handler = (kind: WatchEvent["kind"]) => (path: string) => {
      try {
        onEvent({ kind, path });
      } catch (err) {
        this.logger.error({ err, path }, "watch listener failed");
      }
    };
    for (const kind of ["add", "change", "unlink", "addDir", "unlinkDir"] as const) this.watcher.on(kind, handler(kind));
    this.watcher.on("error", (err) => this.logger.error({ err }, "file watcher error"));
  }

  ready(): Promise<void> {
    return new Promise((resolve) => this.watcher.once("ready", () => resolve()));
  }

  /** Also watch files outside the root that some plugin bundled. */
  watchFiles(files: string[]): void {
    const fresh = files.filter((f) => !f.startsWith(this.root) && !this.extra.has(f));
    for (const f of fresh) this.extra.add(f);
    if (fresh.length) this.watcher.add(fresh);
  }

  close(): Promise<void> {
    return this.watcher.close();
  }
}
