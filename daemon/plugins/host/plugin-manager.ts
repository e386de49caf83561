/**
 * The one place that decides what a file change means (as Vite's hmr.ts does): which plugin
 * it belongs to, and whether to load, reload or unload it. A reload compiles and starts the
 * new version in a fresh worker first; only if that works is it swapped into the registry,
 * and the old worker drains its in-flight calls before it is stopped. A failure keeps the
 * last good version serving and records a located error. Reloads of one plugin are
 * serialized, and saves that arrive meanwhile coalesce into one more reload, so the last
 * save always wins.
 *
 * Start-up never waits for plugins: `start` returns at once, every plugin in the folder is
 * listed as "loading" and loads in the background — several at a time (load-queue.ts), each
 * under its own deadline — and joins the registry as it arrives (clients hear list_changed).
 * `initialLoad` settles once they all have. The folder itself is watched from outside too
 * (watcher.ts FolderMonitor): deleted, moved away or unreadable it is reported, and when it
 * comes back it is watched and loaded again.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, relative, sep } from "node:path";
import type { Logger } from "pino";
import { messageOf, PluginCompileError, PluginLoadError, PluginLoadTimeoutError } from "../../errors.ts";
import type { SourceLocation } from "../worker-protocol.ts";
import type { RegisteredPlugin, Registry } from "../../registry.ts";
import { compilePlugin, discardBundle, forgetCompiled, pruneCompileCache, readParkedManifest, sweepStaleCaches, writeParkedManifest } from "./compiler.ts";
import { pluginNameFromPath } from "../naming.ts";
import { compareCodePoints } from "../../code-point-order.ts";
import { PluginWorker, type WorkerState } from "./plugin-worker.ts";
import { WorkerPool } from "./worker-pool.ts";
import { WorkerGroup } from "./worker-group.ts";
import { globToRegExp } from "../../name-glob.ts";
import { FolderMonitor, PluginWatcher, probeFolder, type FolderProbe, type FolderState, type WatchEvent } from "./watcher.ts";
import { notRegularFile, pluginEntryFor, scanPluginEntries } from "./plugin-files.ts";
import { LoadQueue } from "./load-queue.ts";
import type { PluginHost } from "./plugin-host.ts";
import { expansionEnv, isUpstreamFile, parseUpstreamConfig, readDotEnv } from "../upstream/upstream-config.ts";
import { UpstreamServer, type UpstreamServerOptions, type UpstreamStatus } from "../upstream/upstream-server.ts";


/** `skipped`: not a regular file (a FIFO, socket or device named like a plugin); never opened */
export type PluginStatus = "loading" | "loaded" | "error" | "skipped" | "unloaded";

/** The plugins folder as `/healthz`, `status` and the dashboard report it. */
export interface PluginsFolderStatus {
  path: string;
  state: FolderState;
  /** why nothing is served from it, when it is not "ok" */
  reason?: string;
  /** when it reached this state */
  since: string;
}

/** The first load of the folder after start. */
export interface StartupStatus {
  /** every plugin found at start has loaded or failed */
  done: boolean;
  /** plugins still loading (at start or since: a new file, a folder that came back) */
  loading: number;
  /** from `start` to the last first load, once done */
  ms?: number;
}

/** What the dashboard, `/healthz` and `status` show about one plugin source. */
export interface PluginState {
  key: string;
  file: string;
  name: string;
  status: PluginStatus;
  /** Increments on every successful (re)load. */
  version: number;
  pluginVersion?: string;
  hash?: string;
  lastReloadAt?: string;
  lastError?: { message: string; location?: SourceLocation; at: string };
  /** set when another plugin with the same name wins */
  shadowedBy?: string;
  inputs: string[];
  restarts: number;
  /** for a `NAME.mcp.json` plugin: its connection (never its env, args or headers) */
  upstream?: UpstreamStatus;
  /** for a code plugin: whether its worker thread is up, or parked until the next call */
  worker?: WorkerState;
  /** the worker group whose thread the plugin shares (config `workerGroups`) */
  workerGroup?: string;
  /** why an idle code plugin's thread is kept running (keepAlive, background work) */
  keptAliveBy?: string;
}

export interface ManagerEvents {
  onReload?: (info: { plugin: string; file: string; ok: boolean; durationMs: number; error?: string; kind: "load" | "reload" | "unload" | "restart" }) => void;
}

export interface PluginManagerOptions {
  pluginsDir: string;
  cacheDir: string;
  dataDir: string;
  heapMb: number;
  callTimeoutMs: number;
  debounceMs: number;
  drainMs: number;
  logger: Logger;
  registry: Registry;
  events?: ManagerEvents;
  /** keep one thread booted ahead of the next (re)load (default true) */
  warmWorker?: boolean;
  /** `${VAR}` values for upstream servers (default: `.env` beside dataDir, i.e. in $PATCHBAY_HOME) */
  envFile?: string;
  /** park a code plugin's thread after this long without calls; 0 (the default here) never parks */
  workerIdleMs?: number;
  /** plugin names whose thread is never parked */
  keepAlivePlugins?: readonly string[];
  /** plugins sharing one thread per group: group name → file-name globs (first match wins) */
  workerGroups?: Readonly<Record<string, readonly string[]>>;
  /** upstream servers' connect deadline, message size limit and stderr rate (defaults in upstream-server.ts) */
  upstream?: Pick<UpstreamServerOptions, "connectTimeoutMs" | "maxMessageBytes" | "stderrLimits">;
  /** at most this many code plugins' threads run at once (with parking on): starting one parks the least recently used idle one; 0: no limit */
  maxRunningPlugins?: number;
  /** plugin loads (compile + first start) running at once (default: 2 per core, 4–16) */
  loadConcurrency?: number;
}

interface Slot {
  state: PluginState;
  worker?: PluginHost;
  bundlePath?: string;
  running?: Promise<void>;
  dirty: boolean;
  timer?: NodeJS.Timeout;
  /** a run has read (or begun to read) the plugin's files */
  began?: boolean;
}

/** how a parked plugin's failed start shows in `lastError` (cleared by the next start that works) */
const WAKE_FAILED = "could not be started again: ";

/** when to look at a new top-level folder again for an index the watcher may have missed */
const NEW_FOLDER_RECHECKS_MS = [100, 500, 2_000];
/** a load still running after this long gives its place in the queue to the next one (it goes on) */
const LOAD_TURN_MS = 2_000;
/**
 * While the folder loads at start, plugins join the registry in batches this far apart:
 * each join rebuilds the registry and tells every client its lists changed, which for 500
 * plugins one by one would be 500 rebuilds and 500 notifications per client.
 */
const STARTUP_PUBLISH_MS = 100;

/**
 * Whether any of `files` was modified at or after `since` (or cannot be read now). The kernel
 * stamps a write with a coarse clock (a few ms behind `Date.now()`), and some file systems keep
 * whole seconds only: the margin takes both into account, at worst loading a plugin once more.
 */
function changedSince(files: string[], since: number): boolean {
  return files.some((f) => {
    try {
      const { mtimeMs } = statSync(f);
      return mtimeMs >= since - (mtimeMs % 1000 === 0 ? 2_000 : 50);
    } catch {
      return true;
    }
  });
}

export class PluginManager {
  private slots = new Map<string, Slot>();
  private watcher?: PluginWatcher;
  private monitor?: FolderMonitor;
  private folder: PluginsFolderStatus;
  private closed = false;
  private readonly queue: LoadQueue;
  /** settles once every plugin found at start has loaded or failed (see `start`) */
  initialLoad: Promise<void> = Promise.resolve();
  private startedAt?: number;
  private startupMs?: number;
  /** first loads gathered for one registry swap while the folder loads at start */
  private pendingPuts = new Map<string, RegisteredPlugin>();
  private publishTimer?: NodeJS.Timeout;
  private readonly pool: WorkerPool;
  private readonly groupPatterns: { name: string; patterns: RegExp[] }[];
  private readonly groups = new Map<string, WorkerGroup>();

  constructor(private readonly opts: PluginManagerOptions) {
    this.pool = new WorkerPool({ heapMb: opts.heapMb, warm: opts.warmWorker ?? true });
    this.groupPatterns = Object.entries(opts.workerGroups ?? {}).map(([name, globs]) => ({ name, patterns: globs.map(globToRegExp) }));
    this.queue = new LoadQueue(opts.loadConcurrency ?? Math.min(16, Math.max(4, 2 * availableParallelism())), LOAD_TURN_MS);
    this.folder = { path: opts.pluginsDir, state: "ok", since: new Date().toISOString() };
  }

  /** The worker group a plugin file's thread is shared in, if the config puts it in one. */
  private groupFor(defaultName: string): WorkerGroup | undefined {
    const name = this.groupPatterns.find((g) => g.patterns.some((re) => re.test(defaultName)))?.name;
    if (name === undefined) return undefined;
    let group = this.groups.get(name);
    if (!group) this.groups.set(name, (group = new WorkerGroup({ name, heapMb: this.opts.heapMb, logger: this.opts.logger, patienceMs: this.opts.callTimeoutMs })));
    return group;
  }

  /**
   * Keeps at most `maxRunningPlugins` code plugins' threads running: a plugin just started
   * for a call parks the least recently used idle ones beyond the limit (each thread holds
   * about 15 MB whatever the plugin does). Plugins that must stay up (calls in flight,
   * subscribers, keepAlive) are passed over, so the limit can be exceeded by those.
   */
  private capRunning(started: PluginWorker): void {
    const cap = this.opts.maxRunningPlugins ?? 0;
    if (cap <= 0) return;
    const running: PluginWorker[] = [];
    // a plugin in a worker group holds no thread of its own
    for (const s of this.slots.values()) if (s.worker instanceof PluginWorker && s.worker.running && !s.worker.group) running.push(s.worker);
    let excess = running.length - cap;
    if (excess <= 0) return;
    running.sort((a, b) => a.lastActiveAt - b.lastActiveAt);
    for (const w of running) {
      if (excess <= 0) break;
      if (w !== started && w.parkIfIdle()) excess--;
    }
  }

  /**
   * Starts watching and loading the folder and returns at once: nothing here waits for a
   * plugin. Every plugin found is listed as "loading" and joins the registry when it has
   * loaded; `initialLoad` settles once all of them have loaded or failed.
   */
  start(watch = true): void {
    if (this.startedAt !== undefined) return;
    this.startedAt = performance.now();
    sweepStaleCaches(this.opts.cacheDir);
    this.initialLoad = this.loadFolder(watch)
      .catch((err) => this.opts.logger.error({ err: messageOf(err) }, "loading the plugins folder failed"))
      .finally(() => this.finishStartup());
  }

  private async loadFolder(watch: boolean): Promise<void> {
    const dir = this.opts.pluginsDir;
    if (watch) this.monitor = new FolderMonitor(dir, (now, before) => this.onFolderChange(now, before), this.opts.logger);
    const probe = this.monitor?.current ?? probeFolder(dir);
    this.setFolder(probe);
    if (probe.state !== "ok") {
      this.opts.logger.warn({ dir }, `${probe.reason}; serving no plugins from it until it is there${watch ? " (watching for it)" : ""}`);
      return;
    }
    // listed at once, so /healthz and the dashboard show what is still loading
    const scannedAt = Date.now();
    const entries = scanPluginEntries(dir);
    for (const e of entries) this.slotFor(e);
    const loads = entries.map((e) => this.schedule(e, 0));
    if (watch) {
      this.watcher = new PluginWatcher(dir, (e) => this.onWatchEvent(e), this.opts.logger);
      await this.watcher.ready();
      this.lookAgainAfterWatching(scannedAt);
    }
    await Promise.all(loads);
    await this.settled();
  }

  /**
   * The folder was read before the watcher was ready (so that loading need not wait for it
   * either): a file added or saved in between raised no event. Look again: new entries load,
   * and a plugin whose known files changed since the folder was read loads once more. (Loading
   * every plugin again restarted a failed upstream server's connection and its backoff, and
   * loaded a failed plugin twice.)
   */
  private lookAgainAfterWatching(scannedAt: number) {
    if (this.closed) return;
    let entries: string[] = [];
    try {
      entries = scanPluginEntries(this.opts.pluginsDir);
    } catch {
      // gone meanwhile: the folder monitor reports it
    }
    for (const e of entries) if (!this.slots.has(e)) void this.schedule(e, 0);
    for (const [key, slot] of this.slots) {
      if (!slot.began || !changedSince(slot.state.inputs, scannedAt)) continue;
      if (slot.running) slot.dirty = true;
      else void this.schedule(key, 0);
    }
  }

  private finishStartup() {
    this.flushPublish();
    if (this.startupMs !== undefined) return;
    this.startupMs = performance.now() - (this.startedAt ?? 0);
    const states = this.states();
    this.opts.logger.info({ plugins: states.length, loaded: states.filter((p) => p.status === "loaded").length, failed: states.filter((p) => p.status === "error").length, ms: Math.round(this.startupMs) }, "plugins folder loaded");
    // what restarts no longer need (entries of deleted plugins, old bundles), off the start path
    if (!this.closed) setImmediate(() => pruneCompileCache(this.opts.cacheDir)).unref();
  }

  /** How far the first load of the folder has come. */
  startup(): StartupStatus {
    let loading = 0;
    for (const s of this.slots.values()) if (s.state.status === "loading") loading++;
    return { done: this.startupMs !== undefined, loading, ms: this.startupMs === undefined ? undefined : Math.round(this.startupMs) };
  }

  /** Whether the plugins folder is there and readable. */
  folderStatus(): PluginsFolderStatus {
    return { ...this.folder };
  }

  private setFolder(probe: FolderProbe) {
    if (probe.state === this.folder.state && probe.reason === this.folder.reason) return;
    this.folder = { path: this.opts.pluginsDir, state: probe.state, reason: probe.reason, since: new Date().toISOString() };
  }

  /**
   * The folder went missing, stopped being readable, came back, or is another folder now
   * (deleted and made again, moved into place). Missing: its plugins are unloaded, as if
   * each file were deleted. Unreadable: nothing can be known, so the last loaded versions
   * keep serving. Back (or replaced): watched afresh and loaded again.
   */
  private onFolderChange(now: FolderProbe, before: FolderProbe) {
    if (this.closed) return;
    this.setFolder(now);
    const log = this.opts.logger;
    if (now.state !== "ok") {
      log.warn({ dir: this.opts.pluginsDir, state: now.state }, `${now.reason}; ${now.state === "unreadable" ? "the plugins loaded from it keep serving" : "its plugins are unloaded"} until it is back`);
      if (now.state !== "unreadable") for (const key of this.slots.keys()) void this.schedule(key, 0);
      return;
    }
    log.info({ dir: this.opts.pluginsDir, was: before.state === "ok" ? "replaced by another folder" : before.state }, "plugins folder is back; loading it again");
    void this.rearm().catch((err) => log.error({ err: messageOf(err) }, "could not watch the plugins folder again"));
  }

  private async rearm(): Promise<void> {
    if (this.monitor === undefined) return;
    if (this.watcher) await this.watcher.restart();
    else {
      this.watcher = new PluginWatcher(this.opts.pluginsDir, (e) => this.onWatchEvent(e), this.opts.logger);
      await this.watcher.ready();
    }
    if (this.closed) return;
    let entries: string[] = [];
    try {
      entries = scanPluginEntries(this.opts.pluginsDir);
    } catch {
      return; // gone again: the monitor says so
    }
    // new files load; known ones load again if they changed (and unload if they are gone)
    for (const e of entries) void this.schedule(e, 0);
    for (const key of this.slots.keys()) if (!entries.includes(key)) void this.schedule(key, 0);
  }

  /** Waits until no reload is pending or running. */
  async settled(): Promise<void> {
    for (;;) {
      const busy = [...this.slots.values()].filter((s) => s.running || s.timer);
      if (busy.length === 0) return;
      await Promise.all(busy.map((s) => s.running ?? new Promise((r) => setTimeout(r, this.opts.debounceMs + 5))));
    }
  }

  states(): PluginState[] {
    // conflicts depend on every plugin, so they are read from the registry now, not stored
    return [...this.slots.values()]
      .map((s) => ({
        ...s.state,
        shadowedBy: this.opts.registry.shadowed.get(s.state.key),
        upstream: s.worker instanceof UpstreamServer ? s.worker.status() : undefined,
        worker: s.worker instanceof PluginWorker ? s.worker.state : undefined,
        keptAliveBy: s.worker instanceof PluginWorker ? s.worker.keptAliveBy : undefined,
        workerGroup: s.worker instanceof PluginWorker ? s.worker.group : undefined,
      }))
      .sort((a, b) => compareCodePoints(a.key, b.key));
  }

  workers(): { name: string; worker: PluginHost }[] {
    return [...this.slots.values()].filter((s) => s.worker).map((s) => ({ name: s.state.name, worker: s.worker! }));
  }

  /** Calls in flight on every worker, the serving ones and the ones draining after a reload. */
  inflight(): number {
    let n = 0;
    for (const s of this.slots.values()) n += s.worker?.inflight ?? 0;
    for (const w of this.retiring.keys()) n += w.inflight;
    return n;
  }

  /**
   * Stops watching and loading, then drains every worker — serving and retiring alike —
   * for at most `graceMs` in total (default `drainMs`): calls in flight may answer, calls
   * still running at the end fail with `failWith`, new calls fail with it at once. The
   * compile cache stays for the next start.
   */
  async close(opts: { graceMs?: number; failWith?: Error } = {}): Promise<void> {
    this.closed = true;
    const deadline = Date.now() + (opts.graceMs ?? this.opts.drainMs);
    const left = () => Math.max(0, deadline - Date.now());
    this.pool.close();
    this.queue.close();
    this.monitor?.close();
    clearTimeout(this.publishTimer);
    this.pendingPuts.clear();
    for (const s of this.slots.values()) if (s.timer) clearTimeout(s.timer);
    // Every worker refuses new calls from this moment; the ones in flight get until the deadline.
    const stopped = Promise.all([
      ...[...this.slots.values()].map((s) => s.worker?.stop(left(), opts.failWith)),
      ...[...this.retiring.keys()].map((w) => w.stop(left(), opts.failWith)),
    ]);
    await this.watcher?.close();
    // a reload in progress stops its own new worker once it sees `closed`
    const running = Promise.allSettled([...this.slots.values()].map((s) => s.running));
    await stopped;
    await Promise.allSettled([...this.retiring.values()]);
    await Promise.race([running, delay(2_000)]);
    await Promise.all([...this.groups.values()].map((g) => g.close()));
  }

  private entryFor(path: string): string | undefined {
    return pluginEntryFor(this.opts.pluginsDir, path);
  }

  private onWatchEvent(e: WatchEvent) {
    if (this.closed) return;
    this.opts.logger.debug({ event: e.kind, path: e.path }, "plugins folder changed");
    const rel = relative(this.opts.pluginsDir, e.path);
    const parts = rel.split(sep);
    const touched = new Set<string>();
    if (e.kind === "unlinkDir" && parts.length === 1) {
      for (const key of this.slots.keys()) if (key.startsWith(e.path + sep)) touched.add(key);
    }
    if (e.kind === "addDir" && parts.length === 1) {
      // chokidar reads a new folder before it watches it: a file written in between raises
      // no event at all (paulmillr/chokidar#1471). Look again once the watch is surely up.
      for (const ms of NEW_FOLDER_RECHECKS_MS) setTimeout(() => this.recheckFolder(e.path), ms).unref();
    }
    // a top-level file, or a top-level folder (its index), or a folder's index itself
    const entry = this.entryFor(e.path);
    if (entry) touched.add(entry);
    // A file inside a new top-level folder: the folder's index may have been written right
    // after the folder was created, before the watcher saw the folder; look for it now.
    if (parts.length > 1 && e.kind !== "unlink" && e.kind !== "unlinkDir") {
      const idx = this.entryFor(join(this.opts.pluginsDir, parts[0]));
      if (idx && !this.slots.has(idx)) touched.add(idx);
    }
    // a helper file: every plugin that bundled it, and a folder plugin it sits in
    for (const [key, slot] of this.slots) {
      if (slot.state.inputs.includes(e.path)) touched.add(key);
      if (parts.length > 1 && key.startsWith(join(this.opts.pluginsDir, parts[0]) + sep)) touched.add(key);
    }
    // A late event for a file that is gone and was never (or is no longer) loaded means
    // nothing; scheduling it would show a ghost "loading" plugin until the run unloads it.
    for (const key of touched) if (this.slots.has(key) || existsSync(key)) void this.schedule(key, this.opts.debounceMs);
  }

  /**
   * The manifest a plugin reported the last time this very bundle loaded and then parked, if
   * it may be listed from that without starting its thread: parking is on, nothing keeps it
   * running (keepAlive, keepAlivePlugins, a worker group) and it parked last time (no
   * background work held it). A restart over hundreds of unchanged plugins then boots no
   * thread at all; each starts on its first call, as a parked plugin does. The price: a
   * plugin whose tools depend on something outside its files (its data folder, the
   * environment) is listed as it was until that first call, when a different manifest
   * replaces the listing (list_changed) as after any wake.
   */
  private parkedManifest(defaultName: string, bundlePath: string, group: WorkerGroup | undefined) {
    if (!this.opts.workerIdleMs || group) return undefined;
    const alwaysOn = this.opts.keepAlivePlugins ?? [];
    if (alwaysOn.includes(defaultName)) return undefined;
    const record = readParkedManifest(this.opts.cacheDir, bundlePath);
    if (!record || record.keepAlive === true || alwaysOn.includes(record.manifest.name)) return undefined;
    return record;
  }

  /** Loads a top-level folder plugin whose index appeared without an event. */
  private recheckFolder(dir: string) {
    if (this.closed) return;
    const idx = this.entryFor(dir);
    if (idx && !this.slots.has(idx)) {
      this.opts.logger.debug({ dir }, "found a folder plugin the watcher did not report");
      void this.schedule(idx, 0);
    }
  }

  private slotFor(key: string): Slot {
    let slot = this.slots.get(key);
    if (!slot) {
      const rel = relative(this.opts.pluginsDir, key);
      const name = pluginNameFromPath(rel);
      slot = { state: { key, file: key, name, status: "loading", version: 0, inputs: [key], restarts: 0 }, dirty: false };
      this.slots.set(key, slot);
    }
    return slot;
  }

  private schedule(key: string, delayMs: number): Promise<void> {
    const slot = this.slotFor(key);
    if (slot.timer) clearTimeout(slot.timer);
    return new Promise((resolve) => {
      slot.timer = setTimeout(() => {
        slot.timer = undefined;
        if (slot.running) {
          slot.dirty = true;
          resolve();
          return;
        }
        slot.running = this.queue.run(() => this.run(slot)).finally(() => {
          slot.running = undefined;
          if (slot.dirty && !this.closed) {
            slot.dirty = false;
            void this.schedule(key, 0);
          }
        });
        void slot.running.then(resolve);
      }, delayMs);
    });
  }

  private async run(slot: Slot): Promise<void> {
    if (this.closed) return;
    const { key } = slot.state;
    const started = performance.now();
    slot.began = true;
    if (!existsSync(key)) {
      // in a folder that cannot be read every file looks absent: that says nothing about the plugin
      if (probeFolder(this.opts.pluginsDir).state === "unreadable") return;
      return this.unload(slot, started);
    }
    const irregular = await notRegularFile(key);
    if (irregular) return this.skip(slot, irregular, started);
    if (isUpstreamFile(key)) return this.runUpstream(slot, started);
    const defaultName = slot.state.name;
    const log = this.opts.logger.child({ plugin: defaultName });
    let compiled;
    try {
      compiled = await withDeadline(compilePlugin(key, this.opts.cacheDir, defaultName), this.opts.callTimeoutMs, () => new PluginLoadTimeoutError(`${key}: compiling took longer than ${this.opts.callTimeoutMs} ms`));
    } catch (err) {
      if (err instanceof PluginCompileError) this.watcher?.watchFiles([key]);
      return this.fail(slot, err, started);
    }
    const compileMs = performance.now() - started;
    slot.state.inputs = compiled.inputs;
    this.watcher?.watchFiles(compiled.inputs);
    if (compiled.hash === slot.state.hash && slot.worker && slot.state.status === "loaded") {
      log.debug("bundle unchanged; nothing to reload");
      return;
    }
    const group = this.groupFor(defaultName);
    const worker = new PluginWorker({
      file: key,
      bundlePath: compiled.bundlePath,
      defaultName,
      dataDir: join(this.opts.dataDir, defaultName),
      heapMb: this.opts.heapMb,
      callTimeoutMs: this.opts.callTimeoutMs,
      logger: log,
      pool: group ?? this.pool,
      group: group?.name,
      idleMs: this.opts.workerIdleMs ?? 0,
      // A plugin nobody has called lately is parked as soon as it has reported its manifest;
      // one in use (its old version running) stays up for the next call.
      firstIdleMs: slot.worker instanceof PluginWorker && slot.worker.inUse ? this.opts.workerIdleMs : 0,
      alwaysOn: this.opts.keepAlivePlugins,
    });
    let manifest;
    const parked = !slot.worker && compiled.cached ? this.parkedManifest(defaultName, compiled.bundlePath, group) : undefined;
    if (parked) {
      // unchanged since it last loaded and parked: listed without a thread (see parkedManifest)
      manifest = worker.startParked(parked.manifest, parked.keepAlive);
    } else {
      try {
        manifest = await worker.start();
      } catch (err) {
        // the bundle stays: it is the compile cache's, and a restart would fail the same way
        await worker.stop(0);
        return this.fail(slot, err, started);
      }
    }
    // what it reported when it parked: the next start lists it from this (see parkedManifest)
    let recorded = parked ? JSON.stringify(parked) : undefined;
    worker.on("parked", () => {
      if (slot.worker !== worker || !worker.manifest) return;
      const record = { manifest: worker.manifest, keepAlive: worker.keepAlive };
      const text = JSON.stringify(record);
      if (text === recorded) return;
      recorded = text;
      writeParkedManifest(this.opts.cacheDir, compiled.bundlePath, record);
    });
    if (this.closed) {
      await worker.stop(0);
      return;
    }
    worker.on("resources-changed", () => this.opts.registry.resourcesChanged());
    worker.on("resource-updated", (uri) => this.opts.registry.resourceUpdated(uri));
    worker.on("manifest", (m) => {
      if (slot.worker !== worker) return;
      log.warn("the plugin reported other tools, resources or prompts when it was started again; listing those");
      this.publish({ key, file: key, manifest: m, worker }, true);
    });
    worker.on("wake-failed", (error) => {
      log.error({ error }, "parked plugin could not be started (for a call or a subscriber)");
      if (slot.worker === worker) slot.state.lastError = { message: `${WAKE_FAILED}${error}`, at: new Date().toISOString() };
    });
    worker.on("woken", () => {
      if (slot.worker === worker && slot.state.lastError?.message.startsWith(WAKE_FAILED)) slot.state.lastError = undefined;
      this.capRunning(worker);
    });
    worker.on("restarted", (info) => {
      // a version already replaced by a newer one no longer speaks for the slot
      if (slot.worker !== worker) return;
      log[info.ok ? "warn" : "error"]({ reason: info.reason, error: info.error }, info.ok ? "plugin worker restarted" : "plugin worker could not be restarted");
      slot.state.restarts++;
      if (!info.ok) {
        slot.state.status = "error";
        slot.state.lastError = { message: `worker restart failed: ${info.error}`, at: new Date().toISOString() };
        this.unpublish(key);
      }
      this.opts.events?.onReload?.({ plugin: slot.state.name, file: key, ok: info.ok, durationMs: 0, error: info.ok ? undefined : info.error, kind: "restart" });
    });
    const old = slot.worker;
    const oldBundle = slot.bundlePath;
    const kind = old ? "reload" : "load";
    slot.worker = worker;
    slot.bundlePath = compiled.bundlePath;
    Object.assign(slot.state, {
      name: manifest.name,
      status: "loaded" as const,
      version: slot.state.version + 1,
      pluginVersion: manifest.version,
      hash: compiled.hash,
      lastReloadAt: new Date().toISOString(),
      lastError: undefined,
    });
    // the swap: from here new calls go to the new worker (a first load at start may join
    // with others a moment later; a reload swaps at once, before the old one is retired)
    this.publish({ key, file: key, manifest, worker }, old !== undefined);
    const durationMs = performance.now() - started;
    log.info({ version: slot.state.version, tools: manifest.tools.length, ms: Math.round(durationMs), compileMs: Math.round(compileMs), cached: compiled.cached ?? false, parked: parked !== undefined }, kind === "load" ? "plugin loaded" : "plugin reloaded");
    this.opts.events?.onReload?.({ plugin: manifest.name, file: key, ok: true, durationMs, kind });
    // The old version drains in the background, so the next save need not wait for it.
    if (old) this.retire(old, oldBundle !== compiled.bundlePath ? oldBundle : undefined, worker);
  }

  /**
   * A `NAME.mcp.json` file: parse it, connect to the server it names and list it; only then
   * swap it in (the previous connection drains and closes). A broken file or a server that
   * does not start keeps the last good connection serving.
   */
  private async runUpstream(slot: Slot, started: number): Promise<void> {
    const { key } = slot.state;
    const name = slot.state.name;
    const log = this.opts.logger.child({ plugin: name });
    let config;
    let hash;
    let env;
    try {
      const text = readFileSync(key, "utf8");
      const envFile = this.opts.envFile ?? join(dirname(this.opts.dataDir), ".env");
      const dotEnv = readDotEnv(envFile);
      env = expansionEnv(process.env, dotEnv);
      // .env is part of what this connection was made from: saving the file after editing
      // .env reconnects with the new values (only a digest of them is kept)
      hash = createHash("sha256").update(text).update("\0").update(JSON.stringify(dotEnv)).digest("hex").slice(0, 16);
      config = parseUpstreamConfig(key, text);
    } catch (err) {
      return this.fail(slot, err, started);
    }
    if (hash === slot.state.hash && slot.worker && slot.state.status === "loaded") {
      log.debug("upstream config unchanged; nothing to reconnect");
      return;
    }
    // the last listing survives a restart of the daemon ($PATCHBAY_HOME/data/.upstreams; a
    // dot folder is never a plugin's data folder)
    const cache = { file: join(this.opts.dataDir, ".upstreams", `${name}.json`), key: hash };
    const server = new UpstreamServer({ file: key, name, config, env, cache, callTimeoutMs: this.opts.callTimeoutMs, ...this.opts.upstream, logger: log });
    let manifest;
    try {
      // a first load keeps retrying an unreachable server; a reload keeps the last good one
      manifest = slot.worker && slot.state.status === "loaded" ? await server.start() : await server.startRetrying();
    } catch (err) {
      await server.stop(0);
      return this.fail(slot, err, started);
    }
    if (this.closed) {
      await server.stop(0);
      return;
    }
    server.on("manifest", (m) => {
      if (slot.worker !== server) return;
      this.publish({ key, file: key, manifest: m, worker: server }, true);
    });
    server.on("resource-updated", (uri) => this.opts.registry.resourceUpdated(uri));
    server.on("restarted", (info) => {
      if (slot.worker !== server) return;
      if (info.ok) {
        if (slot.state.status === "error") slot.state.status = "loaded";
        else slot.state.restarts++;
        slot.state.lastError = undefined;
      } else {
        slot.state.lastError = { message: `upstream server: ${info.error}`, at: new Date().toISOString() };
        // a loop refused on a live connection is not retried: the plugin has failed
        if (info.refused) slot.state.status = "error";
      }
      this.opts.events?.onReload?.({ plugin: name, file: key, ok: info.ok, durationMs: 0, error: info.ok ? undefined : info.error, kind: "restart" });
    });
    const old = slot.worker;
    const kind = old ? "reload" : "load";
    slot.worker = server;
    Object.assign(slot.state, {
      status: "loaded" as const,
      version: slot.state.version + 1,
      pluginVersion: manifest.version,
      hash,
      lastReloadAt: new Date().toISOString(),
      lastError: undefined,
    });
    this.publish({ key, file: key, manifest, worker: server }, old !== undefined);
    const durationMs = performance.now() - started;
    const up = server.status();
    if (up.state !== "connected") {
      // registered with its last listing, or nothing, until it connects (its "manifest" event follows)
      slot.state.status = "error";
      slot.state.lastError = { message: `upstream server: ${up.lastExit ?? "not connected"}; retrying`, at: new Date().toISOString() };
      this.opts.events?.onReload?.({ plugin: name, file: key, ok: false, durationMs, error: slot.state.lastError.message, kind });
      if (old) this.retire(old);
      return;
    }
    log.info({ version: slot.state.version, tools: manifest.tools.length, ms: Math.round(durationMs) }, kind === "load" ? "upstream server loaded" : "upstream server reconnected");
    this.opts.events?.onReload?.({ plugin: name, file: key, ok: true, durationMs, kind });
    if (old) this.retire(old);
  }

  /** old versions draining their in-flight calls after a reload */
  private retiring = new Map<PluginHost, Promise<void>>();

  private retire(worker: PluginHost, bundlePath?: string, successor?: PluginHost) {
    // Calls already sent to the old version finish there: each has its own call timeout, so
    // the drain waits that long (a reload must not cut a long call short at shutdown's grace).
    const graceMs = Math.max(this.opts.drainMs, this.opts.callTimeoutMs);
    const stopped = worker instanceof PluginWorker && successor ? worker.retire(successor, graceMs) : worker.stop(graceMs);
    const p = stopped.then(() => {
      if (bundlePath) discardBundle(bundlePath);
    });
    this.retiring.set(worker, p);
    void p.finally(() => this.retiring.delete(worker));
  }

  /**
   * Puts a plugin version into the registry: at once for a reload (the old version is
   * retired right after) or once start-up is over; a first load during start-up joins the
   * others of the next STARTUP_PUBLISH_MS in one swap.
   */
  private publish(p: RegisteredPlugin, now: boolean) {
    if (now || this.startupMs !== undefined || this.closed) {
      this.pendingPuts.delete(p.key);
      this.opts.registry.put(p);
      this.logConflicts();
      return;
    }
    this.pendingPuts.set(p.key, p);
    this.publishTimer ??= setTimeout(() => this.flushPublish(), STARTUP_PUBLISH_MS);
  }

  private flushPublish() {
    clearTimeout(this.publishTimer);
    this.publishTimer = undefined;
    if (this.pendingPuts.size === 0 || this.closed) return;
    const batch = [...this.pendingPuts.values()];
    this.pendingPuts.clear();
    this.opts.registry.putMany(batch);
    this.logConflicts();
  }

  private logConflicts() {
    for (const c of this.opts.registry.conflicts) this.opts.logger.warn(c);
  }

  private unpublish(key: string) {
    this.pendingPuts.delete(key);
    this.opts.registry.remove(key);
  }

  /** A FIFO, socket or device named like a plugin: never opened (a FIFO would block the read), shown as skipped. */
  private async skip(slot: Slot, why: string, started: number) {
    const { key } = slot.state;
    const had = slot.worker;
    if (slot.state.status !== "skipped") this.opts.logger.warn({ plugin: slot.state.name, file: key }, why);
    slot.worker = undefined;
    slot.state.status = "skipped";
    slot.state.hash = undefined;
    slot.state.lastError = { message: why, at: new Date().toISOString() };
    this.unpublish(key);
    this.opts.events?.onReload?.({ plugin: slot.state.name, file: key, ok: false, durationMs: performance.now() - started, error: why, kind: had ? "unload" : "load" });
    if (had) this.retire(had);
  }

  private fail(slot: Slot, err: unknown, started: number) {
    const location = err instanceof PluginCompileError || err instanceof PluginLoadError ? err.location : undefined;
    slot.state.lastError = { message: messageOf(err), location, at: new Date().toISOString() };
    if (!slot.worker) slot.state.status = "error";
    this.opts.logger.error({ plugin: slot.state.name, file: slot.state.key, location }, `plugin failed: ${messageOf(err)}${slot.worker ? " (last good version keeps serving)" : ""}`);
    this.opts.events?.onReload?.({ plugin: slot.state.name, file: slot.state.key, ok: false, durationMs: performance.now() - started, error: messageOf(err), kind: slot.worker ? "reload" : "load" });
  }

  private async unload(slot: Slot, started: number) {
    const { key } = slot.state;
    this.unpublish(key);
    this.slots.delete(key);
    forgetCompiled(this.opts.cacheDir, key);
    this.opts.logger.info({ plugin: slot.state.name }, "plugin unloaded");
    this.opts.events?.onReload?.({ plugin: slot.state.name, file: key, ok: true, durationMs: performance.now() - started, kind: "unload" });
    await slot.worker?.stop(this.opts.drainMs);
    if (slot.bundlePath) discardBundle(slot.bundlePath);
  }
}

function delay(ms: number) {
  return new Promise<void>((r) => setTimeout(r, ms).unref());
}

/** `p`, or `error()` if it has not settled within `ms` (it goes on; its outcome is ignored). */
function withDeadline<T>(p: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), ms);
    timer.unref();
  });
  p.catch(() => undefined);
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
