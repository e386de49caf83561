/**
 * Every open MCP session, whatever its transport. This is the one place session state
 * lives, so a shared-store mode can replace it later without touching transports:
 * admission (the open-session limit, per-transport room, eviction), lookup, activity
 * (touch, requests in flight, open streams), the idle timeout, and the one fan-out of
 * registry changes to every session and every stateless listen endpoint.
 *
 * 2026-07-28 traffic over HTTP has no session: it never enters the table. The store keeps
 * a short, bounded list of the stateless clients seen recently (by client name, version
 * and era) so the dashboard can show who is calling without pretending they are sessions.
 *
 * A full table does not refuse a new client while it holds sessions nobody is using: an idle
 * session is evicted to make room. Clients that leave without saying so (the SDK's
 * Streamable HTTP client sends no DELETE on close) would otherwise hold their slot until the
 * idle timeout and lock every new client out: 400 such clients, 10 at a time, got 208
 * refusals from a table of 256 that evicted only after 60 s idle. So the table is sized for
 * thousands (a detached session costs ~20–25 KB of RSS, measured over 4,000 SDK clients) and a
 * *detached* session — Streamable HTTP, no open GET stream, nothing in flight, which is all
 * a departed client leaves behind — may go after a second idle, least recently used first.
 */
import { EventEmitter } from "node:events";
import { metrics, type Counter } from "@opentelemetry/api";
import type { Logger } from "pino";
import type { ListChanges } from "./registry.ts";
import { clipString } from "./clip-string.ts";

export type TransportKind = "stdio" | "streamable-http" | "sse" | "websocket";

export interface SessionInfo {
  id: string;
  transport: TransportKind;
  clientName?: string;
  clientVersion?: string;
  /** negotiated by initialize (2025 era), or the revision a 2026-07-28 connection (WebSocket, stdio) opened with */
  protocolVersion?: string;
  /** set when the session came through `patchbay stdio` attached to the daemon */
  bridged?: boolean;
  /** the profile the client chose (`?profile=`, `--profile`); none: it sees everything */
  profile?: string;
  remoteAddress?: string;
  startedAt: number;
  lastActivityAt: number;
  calls: number;
  errors: number;
}

/** Where registry changes go: a session, or an endpoint that serves stateless listen streams. */
export interface ChangeListener {
  /** Tells the client(s) which lists changed (called once per registry change). */
  listChanged?(changes: ListChanges): void;
  /** One resource changed; deliver only to subscribers of that URI. */
  resourceUpdated?(uri: string): void;
}

export interface SessionHandle extends ChangeListener {
  info: SessionInfo;
  /** What the transport route needs to find again by id (e.g. the SDK transport), opaque to the store. */
  transport?: unknown;
  /** Ends the session and frees all it holds (transport, server, pending calls). */
  close(reason: string): Promise<void>;
}

/** A 2026-07-28 client seen recently over stateless HTTP: who, which era, how much. */
export interface StatelessClientInfo {
  clientName?: string;
  clientVersion?: string;
  protocolVersion: string;
  transport: TransportKind;
  firstSeenAt: number;
  lastActivityAt: number;
  requests: number;
  calls: number;
  errors: number;
}

/** How many stateless clients the store remembers (least recently seen dropped first). */
export const MAX_STATELESS_CLIENTS = 64;
/** Longest client name or version kept from a client's self-description. */
const MAX_CLIENT_STRING = 128;
const clipClient = (s: unknown) => (typeof s === "string" ? clipString(s, MAX_CLIENT_STRING, "") : undefined);

export interface SessionStoreEvents {
  opened: [info: SessionInfo];
  closed: [info: SessionInfo, reason: string];
}

export interface SessionLimits {
  maxSessions: number;
  idleTimeoutMs: number;
  /**
   * A connected session (WebSocket, legacy SSE) with no request in flight and no activity
   * for this long may be evicted when the table is full. Long enough that a client between
   * two calls keeps its session.
   */
  evictAfterIdleMs?: number;
  /**
   * A detached Streamable HTTP session (no open GET stream, nothing in flight) idle this long
   * may be evicted when the table is full, before any connected one. Short: the client most
   * likely left without a DELETE; if it did not, its next request gets 404 and it
   * initializes again (as the spec says). Long enough to cover the gaps inside one client's
   * exchange (initialize → initialized → first call), so a burst does not evict sessions
   * whose clients are still on their way to their first call.
   */
  evictDetachedAfterIdleMs?: number;
  /**
   * The most of the table one transport may hold, so a flood on one transport (say, HTTP
   * clients that never DELETE) cannot take the slots of the others (Claude Desktop's stdio).
   */
  maxTransportShare?: number;
}

export const DEFAULT_EVICT_AFTER_IDLE_MS = 60_000;
export const DEFAULT_EVICT_DETACHED_AFTER_IDLE_MS = 1_000;
export const DEFAULT_MAX_TRANSPORT_SHARE = 0.75;

export type Admission = { ok: true } | { ok: false; reason: string };

interface Entry {
  handle: SessionHandle;
  /** requests being handled right now; a busy session is never evicted */
  inFlight: number;
  /** open long-lived streams (a Streamable HTTP GET stream) */
  streams: number;
  /** a stream was opened and no request came since: once it closes, most likely a client that left */
  streamed: boolean;
}

export class SessionStore extends EventEmitter<SessionStoreEvents> {
  private sessions = new Map<string, Entry>();
  private changeListeners = new Set<ChangeListener>();
  /** Least recently seen first (a Map keeps insertion order; a hit re-inserts). */
  private stateless = new Map<string, StatelessClientInfo>();
  private lastStateless?: { key: string; entry: StatelessClientInfo };
  private sweeper?: NodeJS.Timeout;
  private readonly evictAfterIdleMs: number;
  private readonly evictDetachedAfterIdleMs: number;
  private readonly perTransportCap: number;
  /** open sessions per transport (admission checks it on every new session) */
  private readonly perTransport = new Map<TransportKind, number>();
  private evictedCounter?: Counter;

  constructor(private readonly limits: SessionLimits, private readonly logger?: Logger) {
    super();
    this.evictAfterIdleMs = limits.evictAfterIdleMs ?? DEFAULT_EVICT_AFTER_IDLE_MS;
    // a detached session never needs to wait longer than a connected one
    this.evictDetachedAfterIdleMs = Math.min(limits.evictDetachedAfterIdleMs ?? DEFAULT_EVICT_DETACHED_AFTER_IDLE_MS, this.evictAfterIdleMs);
    // rounded up: a table too small to spare a slot (under 4 at 75%) reserves none
    this.perTransportCap = Math.ceil(limits.maxSessions * (limits.maxTransportShare ?? DEFAULT_MAX_TRANSPORT_SHARE));
    const every = Math.max(1_000, Math.min(60_000, Math.floor(limits.idleTimeoutMs / 4)));
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  /**
   * May a new session on `transport` open now? Makes room by evicting an idle session when
   * the table (or this transport's share of it) is full; refuses only when everything that
   * could go is busy, still listening (an open GET stream), too recently used, or a stdio
   * session. Call it right before `add`, in the same
   * tick, so nothing else takes the slot in between.
   */
  admit(transport: TransportKind): Admission {
    const max = this.limits.maxSessions;
    if (this.countOf(transport) >= this.perTransportCap && !this.evictOne(transport, (e) => e.handle.info.transport === transport)) {
      return { ok: false, reason: `${transport} sessions already hold their share of the session table (${this.perTransportCap} of ${max}) and none can be evicted` };
    }
    if (this.sessions.size >= max && !this.evictOne(transport, () => true)) {
      return { ok: false, reason: `all ${max} sessions are in use and none can be evicted` };
    }
    return { ok: true };
  }

  add(handle: SessionHandle): void {
    const replaced = this.sessions.get(handle.info.id);
    if (replaced) this.perTransport.set(replaced.handle.info.transport, this.countOf(replaced.handle.info.transport) - 1);
    this.sessions.set(handle.info.id, { handle, inFlight: 0, streams: 0, streamed: false });
    this.perTransport.set(handle.info.transport, this.countOf(handle.info.transport) + 1);
    this.emit("opened", handle.info);
  }

  get(id: string): SessionHandle | undefined {
    return this.sessions.get(id)?.handle;
  }

  /** Looks up a session of the given transport and records the activity; undefined if unknown. */
  use(id: string, transport: TransportKind): SessionHandle | undefined {
    const e = this.sessions.get(id);
    if (!e || e.handle.info.transport !== transport) return undefined;
    e.handle.info.lastActivityAt = Date.now();
    // a request after its stream closed: the client is still there
    e.streamed = false;
    return e.handle;
  }

  touch(id: string): void {
    const e = this.sessions.get(id);
    if (e) e.handle.info.lastActivityAt = Date.now();
  }

  /** A request started on the session; call the returned function when it has been answered. */
  busy(id: string): () => void {
    return this.track(id, "inFlight");
  }

  /** A long-lived stream (Streamable HTTP GET) opened; call the returned function when it closes. */
  streamOpened(id: string): () => void {
    const e = this.sessions.get(id);
    if (e) e.streamed = true;
    return this.track(id, "streams");
  }

  /** Forget a session (its transport already closed). */
  delete(id: string, reason: string): void {
    const e = this.sessions.get(id);
    if (!e) return;
    this.sessions.delete(id);
    const t = e.handle.info.transport;
    this.perTransport.set(t, this.countOf(t) - 1);
    this.emit("closed", e.handle.info, reason);
  }

  list(): SessionInfo[] {
    return [...this.sessions.values()].map((e) => e.handle.info);
  }

  /**
   * Fans one registry change out to every session. One listener on the registry for all
   * sessions, rather than one per session (which tripped MaxListenersExceededWarning at 11).
   */
  broadcast(changes: ListChanges): void {
    for (const e of this.sessions.values()) e.handle.listChanged?.(changes);
    for (const l of this.changeListeners) l.listChanged?.(changes);
  }

  /** Fans one resource update out; each session and endpoint delivers it to that URI's subscribers only. */
  resourceUpdated(uri: string): void {
    for (const e of this.sessions.values()) e.handle.resourceUpdated?.(uri);
    for (const l of this.changeListeners) l.resourceUpdated?.(uri);
  }

  /** An endpoint that is no session but hears changes (the stateless listen streams of /mcp). */
  addChangeListener(l: ChangeListener): () => void {
    this.changeListeners.add(l);
    return () => this.changeListeners.delete(l);
  }

  /**
   * Records a request of a stateless (2026-07-28, HTTP) client and returns its entry, whose
   * `calls`/`errors` the caller counts like a session's. Keyed by what the client says it is;
   * the list is bounded, so a client inventing names only churns it.
   */
  seenStateless(c: { clientName?: unknown; clientVersion?: unknown; protocolVersion: string; transport: TransportKind }): StatelessClientInfo {
    const clientName = clipClient(c.clientName);
    const clientVersion = clipClient(c.clientVersion);
    const now = Date.now();
    // the same client as the last request (the common case under load): already the most
    // recent entry, so no key to build and nothing to move
    const last = this.lastStateless;
    if (last && this.stateless.get(last.key) === last.entry) {
      const e = last.entry;
      if (e.clientName === clientName && e.clientVersion === clientVersion && e.protocolVersion === c.protocolVersion && e.transport === c.transport) {
        e.lastActivityAt = now;
        e.requests++;
        return e;
      }
    }
    const key = JSON.stringify([c.transport, clientName, clientVersion, c.protocolVersion]);
    let e = this.stateless.get(key);
    if (e) this.stateless.delete(key);
    else {
      e = { clientName, clientVersion, protocolVersion: c.protocolVersion, transport: c.transport, firstSeenAt: now, lastActivityAt: now, requests: 0, calls: 0, errors: 0 };
      if (this.stateless.size >= MAX_STATELESS_CLIENTS) this.stateless.delete(this.stateless.keys().next().value!);
    }
    e.lastActivityAt = now;
    e.requests++;
    this.stateless.set(key, e);
    this.lastStateless = { key, entry: e };
    return e;
  }

  /** Recently seen stateless clients, most recent first. */
  statelessClients(): StatelessClientInfo[] {
    return [...this.stateless.values()].reverse();
  }

  async closeAll(reason: string): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.allSettled([...this.sessions.values()].map((e) => e.handle.close(reason)));
  }

  private track(id: string, field: "inFlight" | "streams"): () => void {
    const e = this.sessions.get(id);
    if (!e) return () => undefined;
    e[field]++;
    e.handle.info.lastActivityAt = Date.now();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      e[field]--;
      e.handle.info.lastActivityAt = Date.now();
    };
  }

  private countOf(transport: TransportKind): number {
    return this.perTransport.get(transport) ?? 0;
  }

  /**
   * Evicts the best candidate among `eligible`, or returns false when none may go:
   *
   * - never a stdio session (its client is a live process that cannot reconnect on its own),
   *   one with a request in flight, or a Streamable HTTP session with an open GET stream
   *   (its client is demonstrably still there; if it is not, the stream's end tells us);
   * - a detached Streamable HTTP session (no GET stream: all a client that left without a
   *   DELETE leaves behind) once idle `evictDetachedAfterIdleMs`;
   * - a connected session (WebSocket, legacy SSE) once idle `evictAfterIdleMs`;
   * - first the detached sessions whose client closed its GET stream and sent nothing since
   *   (both SDK clients open one after initialize and close it on `close()`: the footprint
   *   of a client that left), then detached ones that never had a stream (a client still on
   *   its way from initialize to its first call, or one that never listens), then connected
   *   ones; within each, the least recently used first, so a client between two calls loses
   *   its session only after every one idle for longer.
   *
   * One pass over the table (a few thousand entries at most), only when it is full.
   */
  private evictOne(forTransport: TransportKind | undefined, eligible: (e: Entry) => boolean): boolean {
    const now = Date.now();
    let best: Entry | undefined;
    let bestRank = Infinity;
    let bestTier = 0;
    for (const e of this.sessions.values()) {
      const info = e.handle.info;
      if (info.transport === "stdio" || e.inFlight > 0) continue;
      const http = info.transport === "streamable-http";
      if (http && e.streams > 0) continue;
      const idle = now - info.lastActivityAt;
      if (idle < (http ? this.evictDetachedAfterIdleMs : this.evictAfterIdleMs) || !eligible(e)) continue;
      const tier = !http ? 2 : e.streamed ? 0 : 1;
      const rank = tier * 1e15 + info.lastActivityAt;
      if (rank < bestRank) {
        best = e;
        bestRank = rank;
        bestTier = tier;
      }
    }
    if (!best) return false;
    const info = best.handle.info;
    const idleMs = now - info.lastActivityAt;
    // Free the slot now: close() deletes it from the table synchronously before it awaits.
    this.delete(info.id, "evicted");
    void best.handle.close("evicted to make room for a new session").catch(() => undefined);
    // A detached session is most likely a client that left: routine (a burst of departing
    // clients would write a line each), so debug, and counted like the others; a connected
    // one is a live client that loses its session: warn.
    const line = { session: info.id, transport: info.transport, client: info.clientName, idleMs, for: forTransport, open: this.sessions.size };
    if (bestTier < 2) this.logger?.debug(line, "session table full: evicted the least recently used detached session (no open stream, nothing in flight)");
    else this.logger?.warn(line, "session table full: evicted the least recently used idle session");
    this.countEviction(info.transport);
    return true;
  }

  private countEviction(transport: TransportKind) {
    try {
      // The metrics API has no proxy provider, so the counter is made on first use (after
      // the SDK registered its provider at start), not at import.
      this.evictedCounter ??= metrics.getMeter("mcp-patchbay").createCounter("patchbay.sessions.evicted", { description: "Idle sessions evicted to make room for a new one when the session table was full" });
      this.evictedCounter.add(1, { "patchbay.transport": transport });
    } catch {
      // telemetry never throws into a request path
    }
  }

  private sweep() {
    const now = Date.now();
    for (const e of this.sessions.values()) {
      // a stdio session is its own process's only client; it ends with the pipe, not a timer
      if (e.handle.info.transport === "stdio" || e.inFlight > 0) continue;
      if (now - e.handle.info.lastActivityAt > this.limits.idleTimeoutMs) void e.handle.close("idle timeout");
    }
  }
}
