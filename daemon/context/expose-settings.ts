/**
 * How a view (a profile, or the default view for clients without one) exposes its tools:
 * `all` lists every tool; `search` lists only the pinned tools plus Patchbay's own
 * search_tools and call_tool; `auto` is `search` once the view's full tool listing costs more
 * than `searchThresholdTokens`. A profile's own keys win over the top-level ones.
 */
import { z } from "zod";
import { globToRegExp } from "../name-glob.ts";

export const ExposeModeSchema = z.enum(["all", "search", "auto"], 'must be "all", "search" or "auto"');
export type ExposeMode = z.infer<typeof ExposeModeSchema>;

/** Default for `searchThresholdTokens`: about 7 % of a 200k context, a handful of large servers. */
export const DEFAULT_SEARCH_THRESHOLD_TOKENS = 15_000;

const THRESHOLD_RANGE = "must be a whole number of tokens from 0 to 10000000";
/** The three keys, as they appear at the top level of the config and inside each profile. */
export const exposeFields = {
  expose: ExposeModeSchema.optional(),
  pin: z.array(z.string().min(1, "a pin glob must not be empty")).optional(),
  searchThresholdTokens: z.number(THRESHOLD_RANGE).int(THRESHOLD_RANGE).min(0, THRESHOLD_RANGE).max(10_000_000, THRESHOLD_RANGE).optional(),
};
export type ExposeConfig = { expose?: ExposeMode; pin?: string[]; searchThresholdTokens?: number };

/** One view's settings, resolved. */
export interface ExposeSettings {
  mode: ExposeMode;
  threshold: number;
  /** Whether an exposed tool name is pinned (listed in search mode too). */
  pinned(name: string): boolean;
  /** the globs, for display */
  pins: readonly string[];
}

export function resolveExposeSettings(view: ExposeConfig | undefined, top: ExposeConfig): ExposeSettings {
  const pins = view?.pin ?? top.pin ?? [];
  const res = pins.map(globToRegExp);
  return {
    mode: view?.expose ?? top.expose ?? "all",
    threshold: view?.searchThresholdTokens ?? top.searchThresholdTokens ?? DEFAULT_SEARCH_THRESHOLD_TOKENS,
    pinned: (name) => res.some((r) => r.test(name)),
    pins,
  };
}
