/**
 * What every listed definition costs a model's context: each tool's, prompt's and resource
 * template's list item (the JSON a client receives) counted in tokens, summed per plugin, per
 * view (the default view and each profile) and for the whole listing, and each view's
 * effective way of exposing tools (`all` or `search`, `auto` resolved against its threshold).
 *
 * Computed lazily for the registry's current maps (the registry swaps its maps on every
 * change, so they are the version) and recounted on every reload. Exact counts come from the
 * counting process a moment after a change; until then a new definition is estimated at
 * bytes/4. When exact counts move a view across its `auto` threshold, `onModesChanged` says
 * so, and the caller tells that view's clients that their tool list changed.
 */
import { promptItem, templateItem, toolItem } from "../list-items.ts";
import type { Profile, Profiles } from "../profiles.ts";
import type { Registry } from "../registry.ts";
import type { BuiltinTools } from "./builtin-tools.ts";
import { resolveExposeSettings, type ExposeConfig, type ExposeMode, type ExposeSettings } from "./expose-settings.ts";
import { estimateTokens, type TokenCounter } from "./token-counter.ts";

/** How the view of clients without a profile is named in the gauge, the dashboard and status. */
export const DEFAULT_VIEW = "default";
/** …unless a profile has that name: then the no-profile view is this. */
export const DEFAULT_VIEW_FALLBACK = "(no profile)";
/** How long registry changes are gathered before their definitions are counted. */
const COUNT_AFTER_MS = 250;
/** Rows of the most expensive tools kept in a snapshot. */
const TOP_TOOLS = 10;

export interface ViewCost {
  /** the profile's name, or DEFAULT_VIEW */
  view: string;
  expose: ExposeMode;
  /** `auto` resolved */
  effective: "all" | "search";
  threshold: number;
  pins: readonly string[];
  /** tools this view may call */
  tools: number;
  /** tokens of the full tool listing */
  allTokens: number;
  /** tokens of the search-mode listing (pinned tools + the two search tools) */
  searchTokens: number;
  /** tokens of the listing this view's clients get now */
  listedTokens: number;
  /** tokens of its prompts and resource templates listings */
  promptTokens: number;
  templateTokens: number;
}

export interface ContextCostSnapshot {
  encoding: "o200k_base";
  /** false while some definitions are still estimated at bytes/4 */
  exact: boolean;
  totals: { tools: number; toolTokens: number; prompts: number; promptTokens: number; templates: number; templateTokens: number; definitionTokens: number };
  plugins: { plugin: string; tools: number; tokens: number }[];
  topTools: { name: string; plugin: string; tokens: number }[];
  views: ViewCost[];
}

interface State {
  tools: Map<string, number>;
  snapshot: ContextCostSnapshot;
  modes: Map<Profile | undefined, "all" | "search">;
}

export interface ContextCostsDeps {
  registry: Registry;
  profiles?: Profiles;
  /** the top-level `expose`, `pin`, `searchThresholdTokens` */
  top: ExposeConfig;
  counter: TokenCounter;
  builtins: BuiltinTools;
  /** exact counts moved some view across its `auto` threshold; `defaultView`: the no-profile view is one of them */
  onModesChanged?: (defaultView: boolean) => void;
}

export class ContextCosts {
  private state?: State;
  private key?: [unknown, unknown, unknown, number];
  private generation = 0;
  private readonly settingsOf = new Map<Profile | undefined, ExposeSettings>();
  private published?: Map<Profile | undefined, "all" | "search">;
  private readonly builtinTexts: string[];
  private readonly texts = new WeakMap<object, string>();
  private readonly onChanged = () => this.changed();
  private closed = false;
  private countTimer?: NodeJS.Timeout;

  constructor(private readonly deps: ContextCostsDeps) {
    this.builtinTexts = deps.builtins.items.map((t) => JSON.stringify(t));
  }

  /** Starts following the registry (counts what is there now, and every change). */
  start(): void {
    this.deps.registry.on("changed", this.onChanged);
    this.changed();
  }

  close(): void {
    this.closed = true;
    if (this.countTimer) clearTimeout(this.countTimer);
    this.deps.registry.off("changed", this.onChanged);
  }

  /** A view's resolved settings (a profile's keys over the top-level ones). */
  settings(profile: Profile | undefined): ExposeSettings {
    let s = this.settingsOf.get(profile);
    if (!s) this.settingsOf.set(profile, (s = resolveExposeSettings(profile?.config, this.deps.top)));
    return s;
  }

  /** How this view lists tools now. */
  mode(profile: Profile | undefined): "all" | "search" {
    const s = this.settings(profile);
    if (s.mode !== "auto") return s.mode;
    return this.current().modes.get(profile) ?? "all";
  }

  /** Tokens of one exposed tool's list item (0 for an unknown name). */
  toolTokens(name: string): number {
    return this.current().tools.get(name) ?? 0;
  }

  snapshot(): ContextCostSnapshot {
    return this.current().snapshot;
  }

  /** The label of a view in the gauge, the dashboard and status. */
  viewName(profile: Profile | undefined): string {
    if (profile) return profile.name;
    return this.deps.profiles?.get(DEFAULT_VIEW) ? DEFAULT_VIEW_FALLBACK : DEFAULT_VIEW;
  }

  private views(): (Profile | undefined)[] {
    const p = this.deps.profiles;
    return [undefined, ...(p ? p.names().map((n) => p.get(n)!) : [])];
  }

  private changed(): void {
    // the registry's change notified every view already; remember what it saw
    this.published = this.current().modes;
    // A start loads plugins one after another: gather their changes into one count, which
    // also keeps the counting process from competing with the first answers of a cold start.
    this.countTimer ??= setTimeout(() => this.count(), COUNT_AFTER_MS);
    this.countTimer.unref();
  }

  private count(): void {
    this.countTimer = undefined;
    if (this.closed) return;
    const { registry } = this.deps;
    const texts = [...this.builtinTexts, ...[...registry.tools.values()].map((t) => this.text(t, () => toolItem(t))), ...[...registry.prompts.values()].map((p) => this.text(p, () => promptItem(p))), ...registry.templates.map((t) => this.text(t, () => templateItem(t)))];
    void this.deps.counter.countAll(texts).then(() => {
      if (this.closed) return;
      this.generation++;
      const now = this.current().modes;
      const before = this.published;
      this.published = now;
      if (before && [...now].some(([v, m]) => before.get(v) !== m)) this.deps.onModesChanged?.(before.get(undefined) !== now.get(undefined));
    });
  }

  private text(entry: object, item: () => unknown): string {
    let t = this.texts.get(entry);
    if (t === undefined) this.texts.set(entry, (t = JSON.stringify(item())));
    return t;
  }

  private tokens(text: string): { n: number; exact: boolean } {
    const n = this.deps.counter.cached(text);
    return n === undefined ? { n: estimateTokens(Buffer.byteLength(text)), exact: false } : { n, exact: true };
  }

  private current(): State {
    const r = this.deps.registry;
    const k = this.key;
    if (this.state && k && k[0] === r.tools && k[1] === r.prompts && k[2] === r.templates && k[3] === this.generation) return this.state;
    this.key = [r.tools, r.prompts, r.templates, this.generation];
    return (this.state = this.compute());
  }

  private compute(): State {
    const r = this.deps.registry;
    let exact = true;
    const count = (text: string) => {
      const t = this.tokens(text);
      if (!t.exact) exact = false;
      return t.n;
    };
    const tools = new Map<string, number>();
    const toolRows: { name: string; plugin: string; tokens: number }[] = [];
    for (const t of r.tools.values()) {
      const tokens = count(this.text(t, () => toolItem(t)));
      tools.set(t.exposed, tokens);
      toolRows.push({ name: t.exposed, plugin: t.plugin.manifest.name, tokens });
    }
    const prompts = [...r.prompts.values()].map((p) => ({ name: p.exposed, tokens: count(this.text(p, () => promptItem(p))) }));
    const templates = r.templates.map((t) => ({ name: t.info.uriTemplate, tokens: count(this.text(t, () => templateItem(t))) }));
    const builtinTokens = this.builtinTexts.reduce((s, t) => s + count(t), 0);

    const byPlugin = new Map<string, { plugin: string; tools: number; tokens: number }>();
    for (const row of toolRows) {
      const p = byPlugin.get(row.plugin) ?? { plugin: row.plugin, tools: 0, tokens: 0 };
      p.tools++;
      p.tokens += row.tokens;
      byPlugin.set(row.plugin, p);
    }
    const sum = (xs: { tokens: number }[]) => xs.reduce((s, x) => s + x.tokens, 0);
    const toolTokens = sum(toolRows);
    const promptTokens = sum(prompts);
    const templateTokens = sum(templates);

    const modes = new Map<Profile | undefined, "all" | "search">();
    const views: ViewCost[] = [];
    for (const profile of this.views()) {
      const s = this.settings(profile);
      const allows = (n: string) => !profile || profile.allows(n);
      let all = 0;
      let pinned = 0;
      let n = 0;
      for (const row of toolRows) {
        if (!allows(row.name)) continue;
        n++;
        all += row.tokens;
        if (s.pinned(row.name)) pinned += row.tokens;
      }
      const search = builtinTokens + pinned;
      const effective = s.mode === "auto" ? (all > s.threshold ? "search" : "all") : s.mode;
      modes.set(profile, effective);
      views.push({
        view: this.viewName(profile),
        expose: s.mode,
        effective,
        threshold: s.threshold,
        pins: s.pins,
        tools: n,
        allTokens: all,
        searchTokens: search,
        listedTokens: effective === "search" ? search : all,
        promptTokens: sum(prompts.filter((p) => allows(p.name))),
        templateTokens: sum(templates.filter((t) => allows(t.name))),
      });
    }
    toolRows.sort((a, b) => b.tokens - a.tokens || (a.name < b.name ? -1 : 1));
    return {
      tools,
      modes,
      snapshot: {
        encoding: "o200k_base",
        exact,
        totals: { tools: toolRows.length, toolTokens, prompts: prompts.length, promptTokens, templates: templates.length, templateTokens, definitionTokens: toolTokens + promptTokens + templateTokens },
        plugins: [...byPlugin.values()].sort((a, b) => b.tokens - a.tokens || (a.plugin < b.plugin ? -1 : 1)),
        topTools: toolRows.slice(0, TOP_TOOLS),
        views,
      },
    };
  }
}
