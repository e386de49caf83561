/**
 * Who this daemon is, for loop detection between daemons. Each process gets a random
 * instance id. Every HTTP answer carries `X-Patchbay-Instance: <own id>, <ids it relays>` —
 * its own id first, then the ids of every Patchbay daemon whose tools it serves through its
 * upstreams (what those daemons' answers said, transitively) — and every request to an HTTP
 * upstream carries the same header. An upstream whose answer names this daemon's id is this
 * daemon itself, or relays it: connecting would relay our own tools back to us, nested one
 * level deeper with every list_changed (`self__self__…`). Such an upstream is refused
 * (upstream-server.ts); a chain that does not come back (A → B) names only others and stays.
 *
 * One id per process: the in-process test harness, which builds several cores in one
 * process, would see them as one daemon (none of its tests chains two cores).
 */
import { randomUUID } from "node:crypto";

export const INSTANCE_ID: string = randomUUID();
export const INSTANCE_HEADER = "x-patchbay-instance";
/** a header is at most this many ids (a chain longer than this is cut, never refused for it) */
const MAX_IDS = 64;
const ID = /^[0-9a-f-]{8,64}$/i;

/** what each connected upstream said it is and relays, by owner (an UpstreamServer) */
const relayed = new Map<object, readonly string[]>();

/** Records (or, with undefined, forgets) the ids an upstream's last answer named. */
export function setRelayedIds(owner: object, ids: readonly string[] | undefined): void {
  if (ids && ids.length) relayed.set(owner, ids);
  else relayed.delete(owner);
}

/** This daemon's id, then every id it relays, without repeats. */
export function instanceChain(): string[] {
  const out = new Set<string>([INSTANCE_ID]);
  for (const ids of relayed.values()) for (const id of ids) if (out.size < MAX_IDS) out.add(id);
  return [...out];
}

export function instanceHeaderValue(): string {
  return instanceChain().join(", ");
}

/** The ids in a header value; anything that is not an id is skipped. */
export function parseInstanceHeader(value: string | null | undefined): string[] {
  if (!value) return [];
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => ID.test(s))
    .slice(0, MAX_IDS);
}
