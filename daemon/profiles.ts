/**
 * Named profiles: the part of the registry one client sees. A profile (config key
 * `profiles`) has `include` and `exclude` globs (`*` any run of characters, `?` one)
 * matched against exposed names: tool names, prompt names, resource URIs and resource
 * template URI templates. `include` defaults to everything; `exclude` wins.
 *
 * A client picks its profile when it connects (`?profile=NAME` on /mcp, /ws, /sse;
 * `patchbay stdio --profile NAME`) and sees and can call only that part: lists are filtered
 * before pagination, and a name outside the profile is answered exactly as an unknown one.
 * `list_changed` reaches a profiled client only when its filtered view changed: `split`
 * compares per-profile signatures on every registry change.
 */
import { z } from "zod";
import type { ExposedPrompt, ExposedTemplate, ExposedTool, ListChanges, Registry } from "./registry.ts";
import { templateMatches } from "./registry.ts";
import { globToRegExp } from "./name-glob.ts";
import { exposeFields } from "./context/expose-settings.ts";

export const ProfileSchema = z
  .object({
    include: z.array(z.string().min(1)).optional(),
    exclude: z.array(z.string().min(1)).optional(),
    // how this profile's clients see tools (context/expose-settings.ts); unset: the top-level keys
    ...exposeFields,
  })
  .strict();
export type ProfileConfig = z.infer<typeof ProfileSchema>;

/** Profile names: what fits in a query string and a command line unescaped. */
export const PROFILE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export class Profile {
  private readonly include?: RegExp[];
  private readonly exclude: RegExp[];
  private readonly cache = new Map<string, boolean>();

  constructor(readonly name: string, readonly config: ProfileConfig) {
    this.include = config.include?.map(globToRegExp);
    this.exclude = (config.exclude ?? []).map(globToRegExp);
  }

  /** Whether an exposed name (tool, prompt, resource URI, URI template) is in this profile. */
  allows(name: string): boolean {
    let ok = this.cache.get(name);
    if (ok === undefined) {
      ok = (this.include === undefined || this.include.some((r) => r.test(name))) && !this.exclude.some((r) => r.test(name));
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(name, ok);
    }
    return ok;
  }
}

/** The registry as one profile (or no profile: everything) sees it. */
export function visibleTool(registry: Registry, profile: Profile | undefined, name: string): ExposedTool | undefined {
  return profile && !profile.allows(name) ? undefined : registry.tools.get(name);
}
export function visiblePrompt(registry: Registry, profile: Profile | undefined, name: string): ExposedPrompt | undefined {
  return profile && !profile.allows(name) ? undefined : registry.prompts.get(name);
}
export function visibleTemplates(registry: Registry, profile: Profile | undefined): ExposedTemplate[] {
  return profile ? registry.templates.filter((t) => profile.allows(t.info.uriTemplate)) : registry.templates;
}
/** What resources/read serves for a URI: a fixed resource in the profile, else the first template in the profile that matches. */
export function visibleResource(registry: Registry, profile: Profile | undefined, uri: string) {
  const f = registry.resources.get(uri);
  const fixed = f && (!profile || profile.allows(uri)) ? f : undefined;
  const tpl = fixed ? undefined : profile ? visibleTemplates(registry, profile).find((t) => templateMatches(t, uri)) : registry.findTemplate(uri);
  return { fixed, tpl, plugin: fixed?.plugin ?? tpl?.plugin };
}

/** A registry change, with what changed in each profile's view. */
export interface ProfiledChanges extends ListChanges {
  byProfile?: ReadonlyMap<string, ListChanges>;
}

/** What a client with this profile should hear of a change (everything without a profile). */
export function changesFor(c: ProfiledChanges, profile: Profile | undefined): ListChanges {
  if (profile) return c.byProfile?.get(profile.name) || c;
  // an expose switch of some views only: the no-profile view hears it only if it switched
  return c.defaultViewTools === false ? { ...c, tools: false } : c;
}

interface Signatures {
  tools: string;
  prompts: string;
  resources: string;
  dynamic: boolean;
}

export class Profiles {
  private readonly profiles = new Map<string, Profile>();
  private last = new Map<string, Signatures>();
  private lastAll?: string;
  /** how each profile exposes tools now (search mode changes its tool list); see exposeModeOf */
  private modeOf?: (p: Profile) => string;

  constructor(configs: Record<string, ProfileConfig> = {}, private readonly registry?: Registry) {
    for (const [name, cfg] of Object.entries(configs)) this.profiles.set(name, new Profile(name, cfg));
    this.snapshot();
  }

  /**
   * Makes a profile's expose mode part of its tool-list signature, so that a switch between
   * `all` and `search` (context/definition-costs.ts) tells that profile's clients their list
   * changed, and only them.
   */
  exposeModeOf(fn: (p: Profile) => string): void {
    this.modeOf = fn;
    this.snapshot();
  }

  names(): string[] {
    return [...this.profiles.keys()].sort();
  }

  get(name: string): Profile | undefined {
    return this.profiles.get(name);
  }

  /** Per-profile view changes for one registry change; call it once per "changed" event, before fanning out. */
  split(changes: ListChanges): ProfiledChanges {
    if (!this.registry || this.profiles.size === 0) return changes;
    const beforeAll = this.lastAll;
    const before = this.last;
    this.snapshot();
    // the registry's list signature did not move: a plugin's dynamic resource list changed (ctx.resourcesChanged)
    const dynamicOnly = changes.resources && beforeAll === this.lastAll;
    const byProfile = new Map<string, ListChanges>();
    for (const [name, now] of this.last) {
      const was = before.get(name);
      byProfile.set(name, {
        tools: changes.tools && was?.tools !== now.tools,
        prompts: changes.prompts && was?.prompts !== now.prompts,
        resources: changes.resources && (was?.resources !== now.resources || (dynamicOnly && now.dynamic)),
      });
    }
    return { ...changes, byProfile };
  }

  private snapshot(): void {
    const r = this.registry;
    if (!r || this.profiles.size === 0) return;
    this.lastAll = JSON.stringify([[...r.resources.values()].map((x) => x.info), r.templates.map((t) => [t.info, t.plugin.key])]);
    const next = new Map<string, Signatures>();
    for (const p of this.profiles.values()) {
      const tools = [...r.tools.values()].filter((t) => p.allows(t.exposed)).map((t) => [t.exposed, t.info.title, t.info.description, t.info.inputSchema, t.info.outputSchema, t.info.annotations]);
      const prompts = [...r.prompts.values()].filter((x) => p.allows(x.exposed)).map((x) => [x.exposed, x.info.title, x.info.description, x.info.arguments]);
      const templates = visibleTemplates(r, p);
      const resources = [[...r.resources.values()].filter((x) => p.allows(x.info.uri)).map((x) => x.info), templates.map((t) => [t.info, t.plugin.key])];
      next.set(p.name, { tools: JSON.stringify(tools.sort()) + (this.modeOf?.(p) ?? ""), prompts: JSON.stringify(prompts.sort()), resources: JSON.stringify(resources), dynamic: templates.some((t) => t.info.listable) });
    }
    this.last = next;
  }
}

/** "Unknown profile: NAME (known: a, b)" — the one wording, on every transport and the CLI. */
export function unknownProfileMessage(name: string, profiles: Profiles | undefined): string {
  const known = profiles?.names() ?? [];
  return `Unknown profile: ${name} (known: ${known.length ? known.join(", ") : "none; define them under \"profiles\" in the config"})`;
}

export type ProfileChoice = { ok: true; profile?: Profile } | { ok: false; name: string; message: string };

/** The profile a request URL names (`?profile=NAME`); none named is no profile. */
export function resolveProfile(profiles: Profiles | undefined, url: URL): ProfileChoice {
  const name = url.searchParams.get("profile");
  if (name === null) return { ok: true };
  const profile = profiles?.get(name);
  return profile ? { ok: true, profile } : { ok: false, name, message: unknownProfileMessage(name, profiles) };
}
