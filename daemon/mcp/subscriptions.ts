/**
 * Change notifications and resource subscriptions, per era.
 *
 * - 2025 era: `resources/subscribe` / `unsubscribe` keep a per-session set of URIs;
 *   list_changed and resources/updated go out unsolicited on the session.
 * - 2026-07-28: there are no sessions to subscribe on; a client opens a
 *   `subscriptions/listen` stream naming what it wants (list changes, resource URIs) and
 *   the SDK's serving entries answer it themselves. On /mcp the endpoint publishes through
 *   `createMcpHandler`'s notifier (see `listenPublisher`); on a WebSocket or stdio
 *   connection `serveStdio` routes the pinned instance's own `send*` calls onto that
 *   connection's listen streams, filtering by what each stream asked for.
 *
 * Every path starts at the store's one fan-out (SessionStore.broadcast / resourceUpdated).
 *
 * Both eras' subscriptions are also counted per URI in the registry (addSubscriber /
 * removeSubscriber), which tells the plugin serving a URI when its first subscriber comes and
 * its last goes: an upstream server subscribes upstream on demand, a code plugin with
 * subscribers stays running. A 2025 session's URIs are released when it ends
 * (`releaseSubscriptions`), a listen stream's when the stream ends (`listenInterest`).
 */
import { ProtocolError, ProtocolErrorCode, ResourceNotFoundError, type ServerNotifier } from "@modelcontextprotocol/server";
import { changesFor, visibleResource, type Profile, type ProfiledChanges } from "../profiles.ts";
import type { Registry } from "../registry.ts";
import type { ChangeListener } from "../session-store.ts";
import type { PatchbayServer } from "./patchbay-server.ts";

/** Most URIs one 2025 session may subscribe to. */
export const MAX_SUBSCRIPTIONS_PER_SESSION = 1_024;

export function installSubscriptions(server: PatchbayServer): void {
  // The 2026-07-28 registry has no resources/subscribe: the SDK answers it -32601 on a
  // modern instance before any handler is consulted, so these serve 2025 sessions only.
  server.setRequestHandler("resources/subscribe", (req, ctx) =>
    server.serve(ctx, { method: "resources/subscribe", attributes: { "mcp.resource.uri": req.params.uri } }, async () => {
      // a profiled client may subscribe only to what it can read; outside is answered as unknown
      if (server.conn.profile && !inProfile(server.deps.registry, server.conn.profile, req.params.uri)) throw new ResourceNotFoundError(req.params.uri);
      const subs = (server.conn.subscriptions ??= new Set());
      if (!subs.has(req.params.uri) && subs.size >= MAX_SUBSCRIPTIONS_PER_SESSION) {
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Too many subscriptions: a session may subscribe to at most ${MAX_SUBSCRIPTIONS_PER_SESSION} resources`);
      }
      if (!subs.has(req.params.uri) && !server.conn.released) {
        subs.add(req.params.uri);
        server.deps.registry.addSubscriber(req.params.uri);
      }
      return {};
    }),
  );
  server.setRequestHandler("resources/unsubscribe", (req, ctx) =>
    server.serve(ctx, { method: "resources/unsubscribe", attributes: { "mcp.resource.uri": req.params.uri } }, async () => {
      if (server.conn.subscriptions?.delete(req.params.uri)) server.deps.registry.removeSubscriber(req.params.uri);
      return {};
    }),
  );
}

/** The session (or connection) behind this instance ended: its subscriptions end with it. Safe to call twice. */
export function releaseSubscriptions(server: PatchbayServer): void {
  server.conn.released = true;
  const subs = server.conn.subscriptions;
  if (!subs) return;
  for (const uri of subs) server.deps.registry.removeSubscriber(uri);
  subs.clear();
}

/**
 * A 2026-07-28 `subscriptions/listen` request opened a stream: counts the resource URIs it
 * names (those the client's profile can read; at most MAX_SUBSCRIPTIONS_PER_SESSION, like a
 * session) until the returned function is called when the stream ends. A malformed filter
 * counts nothing: the SDK refuses the stream.
 */
export function listenInterest(registry: Registry, params: unknown, profile?: Profile): () => void {
  const named = (params as { notifications?: { resourceSubscriptions?: unknown } } | undefined)?.notifications?.resourceSubscriptions;
  if (!Array.isArray(named) || !named.every((u) => typeof u === "string")) return () => undefined;
  const uris = [...new Set(named as string[])].filter((u) => inProfile(registry, profile, u)).slice(0, MAX_SUBSCRIPTIONS_PER_SESSION);
  for (const uri of uris) registry.addSubscriber(uri);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    for (const uri of uris) registry.removeSubscriber(uri);
  };
}

/**
 * How a connection (a 2025 session, or a WebSocket/stdio connection of either era) hears
 * the store's fan-out. `current` is the instance serving it now: serveStdio may replace a
 * discarded probe instance, and a closed connection has none.
 */
export function connectionListener(current: () => PatchbayServer | undefined): ChangeListener {
  // Failures mean the peer is gone; the transport's close path cleans up.
  const ignore = () => undefined;
  return {
    listChanged(all: ProfiledChanges) {
      const s = current();
      // a 2025 session hears nothing before its handshake is complete
      if (!s || (s.conn.era === "legacy" && !s.conn.initialized)) return;
      // a profiled client hears only of changes to its own view
      const c = changesFor(all, s.conn.profile);
      if (c.tools) s.sendToolListChanged().catch(ignore);
      if (c.resources) s.sendResourceListChanged().catch(ignore);
      if (c.prompts) s.sendPromptListChanged().catch(ignore);
    },
    resourceUpdated(uri: string) {
      const s = current();
      if (!s || !inProfile(s.deps.registry, s.conn.profile, uri)) return;
      // modern: serveStdio's listen router delivers it to the streams that listed this URI
      if (s.conn.era === "modern" || s.conn.subscriptions?.has(uri)) s.sendResourceUpdated({ uri }).catch(ignore);
    },
  };
}

/** Whether a resource update is for a URI the profile can read. */
function inProfile(registry: Registry, profile: Profile | undefined, uri: string): boolean {
  return !profile || visibleResource(registry, profile, uri).plugin !== undefined;
}

/** The stateless listen streams of /mcp (one notifier per profile) hear the fan-out through createMcpHandler's notifier. */
export function listenPublisher(notify: ServerNotifier, profile?: Profile, registry?: Registry): ChangeListener {
  return {
    listChanged(all: ProfiledChanges) {
      const c = changesFor(all, profile);
      if (c.tools) notify.toolsChanged();
      if (c.resources) notify.resourcesChanged();
      if (c.prompts) notify.promptsChanged();
    },
    resourceUpdated: (uri) => {
      if (!registry || inProfile(registry, profile, uri)) notify.resourceUpdated(uri);
    },
  };
}

/** 2026-07-28 listen streams one non-loopback client address may hold at once. */
export const MAX_LISTEN_STREAMS_PER_ADDRESS = 16;
/** Listen streams on /mcp in all (the SDK's own default limit per handler). */
export const DEFAULT_MAX_LISTEN_STREAMS = 1_024;

export type ListenAdmission = { ok: true; release: () => void } | { ok: false; reason: string };

/**
 * Who may open a 2026-07-28 `subscriptions/listen` stream on /mcp. Counted here, in front of
 * the SDK, for every profile together: the SDK's own limit (per handler) answered a full
 * table with HTTP 200 and `-32603 "Subscription limit reached"`, which no client takes for
 * "try again later". Every refusal here is the catalogue's 503 with Retry-After.
 *
 * - All streams together: at most `max` (1,024 by default).
 * - A non-loopback address (a remote host, when the daemon is exposed with a token): at most
 *   16, and remote addresses together at most `max` minus a local reserve (an eighth), so
 *   remote clients can never take the slots of the user's own local clients (nor can one
 *   host sending from many addresses, as an IPv6 host can from its prefix).
 * - Loopback has no per-address share. Any local process can send from any 127.0.0.0/8
 *   address (one process took all 1,024 slots from 127.0.0.2, 127.0.0.3, …), and ordinary
 *   local clients all come from 127.0.0.1, so a per-address cap there stopped no greedy
 *   process and only locked out the 17th well-behaved local client. Local processes share
 *   the user's trust (they can read the state file, token included, and signal the
 *   daemon), so no cap between them is a boundary; what the daemon guarantees them is a
 *   bounded table and an honest answer when it is full.
 */
export class ListenStreamCaps {
  private readonly byAddress = new Map<string, number>();
  private total = 0;
  private remote = 0;
  readonly remoteMax: number;

  constructor(readonly max = DEFAULT_MAX_LISTEN_STREAMS) {
    this.remoteMax = max - Math.max(1, Math.floor(max / 8));
  }

  get open(): number {
    return this.total;
  }

  admit(remoteAddress: string | undefined): ListenAdmission {
    const address = remoteAddress ?? "?";
    const local = isLoopbackAddress(address);
    if (this.total >= this.max) return { ok: false, reason: `all ${this.max} subscriptions/listen streams are open` };
    if (!local) {
      const held = this.byAddress.get(address) ?? 0;
      if (held >= MAX_LISTEN_STREAMS_PER_ADDRESS) return { ok: false, reason: `${address} holds ${MAX_LISTEN_STREAMS_PER_ADDRESS} subscriptions/listen streams, as many as one address may` };
      if (this.remote >= this.remoteMax) return { ok: false, reason: `remote clients hold ${this.remoteMax} subscriptions/listen streams; the rest are kept for local clients` };
      this.byAddress.set(address, held + 1);
      this.remote++;
    }
    this.total++;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.total--;
        if (local) return;
        this.remote--;
        const n = (this.byAddress.get(address) ?? 1) - 1;
        if (n <= 0) this.byAddress.delete(address);
        else this.byAddress.set(address, n);
      },
    };
  }
}

/** A socket's peer address on this machine's loopback: 127.0.0.0/8, ::1, or either mapped into IPv6. */
export function isLoopbackAddress(address: string): boolean {
  const a = address.toLowerCase();
  const v4 = a.startsWith("::ffff:") ? a.slice(7) : a;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4) || a === "::1";
}
