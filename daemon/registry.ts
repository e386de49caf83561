/**
 * The live registry: which plugin version serves each exposed tool, resource, template and
 * prompt. A plugin version is swapped in one step (`put`), and listeners hear which lists
 * changed, computed by comparing what a client would list before and after, so a reload
 * that changes nothing visible notifies nobody. Conflicts get a deterministic winner
 * (the plugin whose source path sorts first by code point, whatever the locale) and are reported, never silent.
 */
import { EventEmitter } from "node:events";
import { compareCodePoints } from "./code-point-order.ts";
import { exposedName } from "./plugins/naming.ts";
import type { PluginManifest, PromptInfo, ResourceInfo, ResourceTemplateInfo, ToolInfo } from "./plugins/worker-protocol.ts";
import type { PluginHost } from "./plugins/host/plugin-host.ts";
import { matchUriTemplate, UriTemplate } from "./plugins/uri-template.ts";

export interface RegisteredPlugin {
  /** Stable key: the plugin's entry file (or its `NAME.mcp.json`). */
  key: string;
  file: string;
  manifest: PluginManifest;
  /** a code plugin's worker thread or an upstream MCP server */
  worker: PluginHost;
}

export interface ExposedTool { exposed: string; plugin: RegisteredPlugin; info: ToolInfo }
export interface ExposedPrompt { exposed: string; plugin: RegisteredPlugin; info: PromptInfo }
export interface ExposedResource { plugin: RegisteredPlugin; info: ResourceInfo }
export interface ExposedTemplate { plugin: RegisteredPlugin; info: ResourceTemplateInfo; template: UriTemplate }

/**
 * Whether a client's URI matches a template, as the plugin's thread will decide it
 * (plugins/uri-template.ts). A URI over the matcher's length limit matches nothing, so it is
 * an unknown resource like any other, not an internal error.
 */
export function templateMatches(t: ExposedTemplate, uri: string): boolean {
  return matchUriTemplate(t.template, uri) !== null;
}

export interface ListChanges {
  tools: boolean;
  resources: boolean;
  prompts: boolean;
  /**
   * Set only by `toolViewsChanged`: whether the view of clients without a profile switched.
   * Profiled views work out their own switch from their signatures (profiles.ts).
   */
  defaultViewTools?: boolean;
}

export interface RegistryEvents {
  changed: [changes: ListChanges];
  /** One resource's content changed (a plugin called `ctx.resourceUpdated(uri)`); coalesced per URI. */
  updated: [uri: string];
}

/**
 * How long `ctx.resourcesChanged()` calls are gathered into one notification. A plugin may
 * call it in a loop (once per item it writes); each client should hear about it a few
 * times, not once per call, much as a burst of file saves gives one list_changed.
 */
export const RESOURCES_CHANGED_COALESCE_MS = 50;
/** Distinct URIs whose "updated" notice may be gathering at once; past it, new URIs are dropped (a plugin in a loop over fresh URIs must not grow this map without bound). */
export const MAX_PENDING_UPDATES = 10_000;

export class Registry extends EventEmitter<RegistryEvents> {
  /**
   * Tells every listener that tool lists may have changed although no plugin did: a view's
   * expose mode switched (context/definition-costs.ts). Profiles work out whose view moved.
   */
  toolViewsChanged(defaultView: boolean): void {
    this.emit("changed", { tools: true, resources: false, prompts: false, defaultViewTools: defaultView });
  }

  private plugins = new Map<string, RegisteredPlugin>();
  tools = new Map<string, ExposedTool>();
  prompts = new Map<string, ExposedPrompt>();
  resources = new Map<string, ExposedResource>();
  templates: ExposedTemplate[] = [];
  /** Human-readable conflict reports, shown in /healthz, the dashboard and the log. */
  conflicts: string[] = [];
  /** Plugin keys that lost a name conflict and are not served. */
  shadowed = new Map<string, string>();
  private pendingResources?: NodeJS.Timeout;
  /** URIs with an "updated" notice gathering (see resourceUpdated). */
  private pendingUpdates = new Map<string, NodeJS.Timeout>();
  /**
   * Subscribers per resource URI across every client, and the host that was told of them
   * (none while no plugin serves the URI). An entry lives while its count is above zero.
   */
  private interest = new Map<string, { count: number; host?: PluginHost }>();

  constructor(private readonly separator = "__") {
    super();
  }

  /** All plugins, winners and losers, sorted by key. */
  list(): RegisteredPlugin[] {
    return [...this.plugins.values()].sort((a, b) => compareCodePoints(a.key, b.key));
  }

  get(key: string): RegisteredPlugin | undefined {
    return this.plugins.get(key);
  }

  /** Swaps a plugin version in (or adds it) in one step. */
  put(plugin: RegisteredPlugin): void {
    this.mutate(() => this.plugins.set(plugin.key, plugin));
  }

  /** Swaps several plugin versions in (or adds them) in one step: one rebuild, one "changed" (a folder loading at start). */
  putMany(plugins: RegisteredPlugin[]): void {
    if (plugins.length === 0) return;
    this.mutate(() => {
      for (const p of plugins) this.plugins.set(p.key, p);
    });
  }

  remove(key: string): void {
    if (!this.plugins.has(key)) return;
    this.mutate(() => this.plugins.delete(key));
  }

  /**
   * A plugin's dynamic resource list changed (it called ctx.resourcesChanged()). Calls within
   * RESOURCES_CHANGED_COALESCE_MS of the first become one "changed" event at its end. The
   * SDK's debouncedNotificationMethods only merges notifications of one tick, and the calls
   * arrive as separate worker messages, so the gathering has to happen here.
   */
  resourcesChanged(): void {
    if (this.pendingResources) return;
    this.pendingResources = setTimeout(() => {
      this.pendingResources = undefined;
      this.emit("changed", { tools: false, resources: true, prompts: false });
    }, RESOURCES_CHANGED_COALESCE_MS);
    // a pending notice must not keep a stopping daemon alive
    this.pendingResources.unref();
  }

  /**
   * One resource's content changed (a plugin called ctx.resourceUpdated(uri)). Gathered per
   * URI like resourcesChanged: calls for the same URI within RESOURCES_CHANGED_COALESCE_MS of
   * the first become one "updated" event at its end; different URIs never merge. Only
   * clients subscribed to the URI hear it (resources/subscribe, or a listen stream's
   * resourceSubscriptions), so the event carries the URI as given.
   */
  resourceUpdated(uri: string): void {
    if (this.pendingUpdates.has(uri) || this.pendingUpdates.size >= MAX_PENDING_UPDATES) return;
    const timer = setTimeout(() => {
      this.pendingUpdates.delete(uri);
      this.emit("updated", uri);
    }, RESOURCES_CHANGED_COALESCE_MS);
    timer.unref();
    this.pendingUpdates.set(uri, timer);
  }

  /**
   * A client subscribed to `uri` (resources/subscribe, or a listen stream naming it). The
   * plugin serving the URI hears of the first subscriber only; a URI nobody serves yet is
   * counted, and its plugin hears of it when it is loaded. Pair every call with one
   * `removeSubscriber`.
   */
  addSubscriber(uri: string): void {
    const e = this.interest.get(uri);
    if (e) {
      e.count++;
      return;
    }
    const host = this.ownerOf(uri);
    this.interest.set(uri, { count: 1, host });
    tell(host, "subscribe", uri);
  }

  /** A subscriber of `uri` left; the plugin serving it hears of the last one leaving. */
  removeSubscriber(uri: string): void {
    const e = this.interest.get(uri);
    if (!e) return;
    if (--e.count > 0) return;
    this.interest.delete(uri);
    tell(e.host, "unsubscribe", uri);
  }

  /** How many subscribers `uri` has across every client. */
  subscribers(uri: string): number {
    return this.interest.get(uri)?.count ?? 0;
  }

  /** The host serving `uri` now: a listed resource, else the first template matching it. */
  private ownerOf(uri: string): PluginHost | undefined {
    return (this.resources.get(uri)?.plugin ?? this.findTemplate(uri)?.plugin)?.worker;
  }

  /**
   * After a swap, each subscribed URI's plugin may have changed (a reload is a new host, an
   * unload none, a conflict another winner): the new one hears of its subscribers, the old
   * one that they are gone.
   */
  private moveInterest() {
    for (const [uri, e] of this.interest) {
      const host = this.ownerOf(uri);
      if (host === e.host) continue;
      tell(e.host, "unsubscribe", uri);
      e.host = host;
      tell(host, "subscribe", uri);
    }
  }

  /** The first template (in plugin order) whose pattern matches the URI. */
  findTemplate(uri: string): ExposedTemplate | undefined {
    return this.templates.find((t) => templateMatches(t, uri));
  }

  private mutate(fn: () => void) {
    const before = this.signatures();
    fn();
    this.rebuild();
    this.moveInterest();
    const after = this.signatures();
    // A pending resourcesChanged() rides along now, so no notice overtakes an earlier one.
    const pending = this.pendingResources !== undefined;
    clearTimeout(this.pendingResources);
    this.pendingResources = undefined;
    const changes = { tools: before.tools !== after.tools, resources: pending || before.resources !== after.resources, prompts: before.prompts !== after.prompts };
    if (changes.tools || changes.resources || changes.prompts) this.emit("changed", changes);
  }

  private rebuild() {
    this.tools = new Map();
    this.prompts = new Map();
    this.resources = new Map();
    this.templates = [];
    this.conflicts = [];
    this.shadowed = new Map();
    const byName = new Map<string, RegisteredPlugin>();
    for (const p of this.list()) {
      const owner = byName.get(p.manifest.name);
      if (owner) {
        const msg = `plugin name "${p.manifest.name}" is used by ${owner.file} and ${p.file}; serving ${owner.file}`;
        this.conflicts.push(msg);
        this.shadowed.set(p.key, msg);
        continue;
      }
      byName.set(p.manifest.name, p);
    }
    for (const p of byName.values()) {
      for (const info of p.manifest.tools) {
        const exposed = exposedName(p.manifest.name, info.name, this.separator);
        const prior = this.tools.get(exposed);
        if (prior) this.conflicts.push(`tool name "${exposed}" from ${p.file} collides with ${prior.plugin.file}; serving ${prior.plugin.file}`);
        else this.tools.set(exposed, { exposed, plugin: p, info });
      }
      for (const info of p.manifest.prompts) {
        const exposed = exposedName(p.manifest.name, info.name, this.separator);
        const prior = this.prompts.get(exposed);
        if (prior) this.conflicts.push(`prompt name "${exposed}" from ${p.file} collides with ${prior.plugin.file}; serving ${prior.plugin.file}`);
        else this.prompts.set(exposed, { exposed, plugin: p, info });
      }
      for (const info of p.manifest.resources) {
        const prior = this.resources.get(info.uri);
        if (prior) this.conflicts.push(`resource "${info.uri}" is defined by ${prior.plugin.file} and ${p.file}; serving ${prior.plugin.file}`);
        else this.resources.set(info.uri, { plugin: p, info });
      }
      for (const info of p.manifest.resourceTemplates) {
        const prior = this.templates.find((t) => t.info.uriTemplate === info.uriTemplate);
        if (prior) this.conflicts.push(`resource template "${info.uriTemplate}" is defined by ${prior.plugin.file} and ${p.file}; serving ${prior.plugin.file}`);
        else this.templates.push({ plugin: p, info, template: new UriTemplate(info.uriTemplate) });
      }
    }
  }

  private signatures() {
    const tools = [...this.tools.values()].map((t) => [t.exposed, t.info.title, t.info.description, t.info.inputSchema, t.info.outputSchema, t.info.annotations]);
    const prompts = [...this.prompts.values()].map((p) => [p.exposed, p.info.title, p.info.description, p.info.arguments]);
    const resources = [
      [...this.resources.values()].map((r) => r.info),
      this.templates.map((t) => [t.info, t.plugin.key]),
    ];
    return { tools: JSON.stringify(tools.sort()), prompts: JSON.stringify(prompts.sort()), resources: JSON.stringify(resources) };
  }
}

/** Hosts promise not to throw; a subscription must not fail a client's request if one does. */
function tell(host: PluginHost | undefined, what: "subscribe" | "unsubscribe", uri: string): void {
  try {
    host?.[what]?.(uri);
  } catch {
    // the host's own log says why
  }
}
