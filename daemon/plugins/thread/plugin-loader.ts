/**
 * Loads one plugin: imports its bundle, checks its shape, runs its setup(ctx), and tells the
 * host "loaded" with its manifest, or "load-error" with where it failed.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { pathToFileURL } from "node:url";
import type { BackgroundWork } from "./background-work.ts";
import type { CallsInFlight } from "./calls-in-flight.ts";
import type { ErrorSerializer } from "./error-serializer.ts";
import type { HostOutbox } from "./host-outbox.ts";
import { pluginContext } from "./plugin-context.ts";
import type { PluginInstance } from "./plugin-instance.ts";
import { loadPluginShape, preloadSchemaLibraries, PluginShapeError, type LoadedPlugin } from "./plugin-shape.ts";
import type { HostToWorker } from "../worker-protocol.ts";

export type LoadMessage = Extract<HostToWorker, { type: "load" }>;

/** Loads in this thread so far: each load of a shared thread imports its bundle under a URL of its own. */
let loadSeq = 0;

export interface LoaderParts {
  outbox: HostOutbox;
  errors: ErrorSerializer;
  calls: CallsInFlight;
  background: BackgroundWork;
  /** the thread's imports of the modules plugins most likely use, which the plugin's own import waits for */
  preloaded: Promise<unknown>;
  /** other plugins run in the same thread */
  shared: boolean;
}

export class PluginLoader {
  /** The plugin once its shape is known, whether or not its setup succeeds. */
  plugin?: LoadedPlugin;
  /** Calls that arrive while the plugin is still loading wait for it. */
  readonly loaded: Promise<PluginInstance>;
  private markLoaded!: (instance: PluginInstance) => void;
  private isLoaded = false;

  constructor(private readonly parts: LoaderParts) {
    this.loaded = new Promise((r) => (this.markLoaded = r));
  }

  async load(msg: LoadMessage): Promise<void> {
    const { outbox, errors, background } = this.parts;
    outbox.post({ type: "load-started" });
    errors.sourceDir = dirname(msg.file);
    background.countOwn();
    try {
      mkdirSync(msg.dataDir, { recursive: true });
    } catch {
      // the plugin will see the failure when it writes; loading must not fail for it
    }
    try {
      const plugin = (this.plugin = await this.importShape(msg));
      const instance = await this.setUp(plugin, msg.dataDir);
      outbox.post({ type: "loaded", manifest: plugin.manifest, keepAlive: plugin.keepAlive });
      this.isLoaded = true;
      this.markLoaded(instance);
    } catch (err) {
      this.reportFailure(msg.file, err);
    }
  }

  private async importShape(msg: LoadMessage): Promise<LoadedPlugin> {
    await this.parts.preloaded;
    // A shared thread may have imported this bundle before (a load that failed and is
    // tried again, an edit undone): a fresh URL evaluates it afresh, as a thread of its own would.
    const url = pathToFileURL(msg.bundlePath).href;
    const mod = await import(this.parts.shared ? `${url}?load=${++loadSeq}` : url);
    const def = mod.default ?? mod.plugin;
    await preloadSchemaLibraries(def);
    return loadPluginShape(def, msg.defaultName);
  }

  private async setUp(plugin: LoadedPlugin, dataDir: string): Promise<PluginInstance> {
    const { outbox, calls } = this.parts;
    // Neither loading (setup) nor answering a call: a notification now comes from work of the plugin's own.
    const inBackground = () => this.isLoaded && calls.size === 0;
    const ctx = pluginContext(plugin.manifest.name, dataDir, outbox, inBackground);
    const own = new Set(Object.keys(ctx));
    if (plugin.setup) await plugin.setup(ctx);
    return { plugin, ctx, setupKeys: Object.keys(ctx).filter((k) => !own.has(k)) };
  }

  private reportFailure(file: string, err: unknown): void {
    const { outbox, errors } = this.parts;
    try {
      if (err instanceof PluginShapeError) outbox.post({ type: "load-error", error: { message: `${file}: ${err.message}`, name: "PluginShapeError", location: { file, line: 1 } } });
      else outbox.post({ type: "load-error", error: errors.serialize(err) });
    } catch {
      // what it threw cannot be described or sent (a BigInt, a cycle, a function field)
      outbox.post({ type: "load-error", error: { message: `${file}: loading threw a value that cannot be shown (${typeof err})` } });
    }
  }
}
