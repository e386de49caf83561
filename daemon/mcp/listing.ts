/**
 * Tool and prompt listings in a deterministic order (by exposed name), built once per
 * registry version — the registry swaps its maps on every change, so a map is the version —
 * and each profile's part of a listing, cached the same way.
 */
import type { Profile } from "../profiles.ts";

const built = new WeakMap<Map<string, unknown>, unknown[]>();
const profiled = new WeakMap<unknown[], Map<Profile, unknown[]>>();

/** The registry's entries as list items, sorted by exposed name. */
export function listingOf<E extends { exposed: string }, T extends { name: string }>(entries: Map<string, E>, toItem: (entry: E) => T): T[] {
  let list = built.get(entries) as T[] | undefined;
  if (!list) {
    list = [...entries.values()].sort((a, b) => (a.exposed < b.exposed ? -1 : a.exposed > b.exposed ? 1 : 0)).map(toItem);
    built.set(entries, list);
  }
  return list;
}

/** The part of a listing a profile allows (the whole listing without one). */
export function profileListing<T extends { name: string }>(all: T[], profile: Profile | undefined): T[] {
  if (!profile) return all;
  let byProfile = profiled.get(all);
  if (!byProfile) profiled.set(all, (byProfile = new Map()));
  let list = byProfile.get(profile) as T[] | undefined;
  if (!list) byProfile.set(profile, (list = all.filter((item) => profile.allows(item.name))));
  return list;
}
