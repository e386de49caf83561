/** A plugin once loaded and set up: what its calls are answered with. */
import type { LoadedPlugin } from "./plugin-shape.ts";
import type { PluginContext } from "../../api.ts";

export interface PluginInstance {
  plugin: LoadedPlugin;
  /** The context its setup(ctx) received (and may have added to); list() and complete() get it. */
  ctx: PluginContext;
  /** Keys the plugin's setup added to its context, copied onto every call's context. */
  setupKeys: string[];
}
