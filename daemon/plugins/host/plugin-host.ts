/**
 * What the daemon needs from whatever serves one plugin: a code plugin's worker thread
 * (plugin-worker.ts) or an upstream MCP server (upstream-server.ts). The MCP layer only
 * calls `call`; the manager and main.ts start, stop, probe and read `heapUsed`/`inflight`;
 * the registry says when a resource URI the host serves gains its first subscriber and
 * loses its last (`subscribe`/`unsubscribe`).
 */
import type { CallRequest, ClientRequest, PluginManifest, WorkerSpan } from "../worker-protocol.ts";

export type HostCall = Omit<CallRequest, "type" | "id">;

/** How one call reaches back to its request. Hosts call the `on…` hooks as methods of this object. */
export interface CallOptions {
  signal?: AbortSignal;
  onProgress?: (p: { progress: number; total?: number; message?: string }) => void;
  onClientLog?: (level: string, data: unknown) => void;
  /**
   * The plugin asks the client (ctx.sample/elicit/roots): resolve with the client's result
   * object; reject → the plugin's await throws. Called once per question, the questions of
   * one batch (asked in the same tick) synchronously in one loop. Without it every question
   * is refused ("this client cannot answer requests from plugins").
   */
  onClientRequest?: (req: ClientRequest) => Promise<unknown>;
  timeoutMs?: number;
  /**
   * For hosts that are `stoppable`: the host sets `stop` once the call is under way, and
   * calling it ends the call as cancelled, as an abort of `signal` would. A 2026-07-28 call
   * whose plugin asked the client is stopped this way, without an AbortController of its own
   * per call (about 3 % of the daemon's time per call under load).
   */
  stopHandle?: StopHandle;
}

/** See `CallOptions.stopHandle`. */
export interface StopHandle {
  stop?: () => void;
}

/** Result of a call, with the plugin's own span for telemetry. */
export interface CallOutcome {
  value: unknown;
  span?: WorkerSpan;
}

export interface PluginHost {
  /** memory in bytes: the worker's heap, or an upstream child's resident set */
  readonly heapUsed: number;
  /** calls in flight */
  readonly inflight: number;
  /** true: `call` honours `CallOptions.stopHandle` (otherwise callers stop a call through its signal) */
  readonly stoppable?: boolean;
  start(): Promise<PluginManifest>;
  /** `req` is handed over: the host may add its own fields to it rather than copy it. */
  call(req: HostCall, opts?: CallOptions): Promise<CallOutcome>;
  /** resolves false if the host does not answer in time */
  probe(timeoutMs?: number): Promise<boolean>;
  /** drains in-flight calls for at most `graceMs`, fails the rest with `failWith`, then ends */
  stop(graceMs: number, failWith?: Error): Promise<void>;
  /**
   * The first client subscribed to `uri`, a resource this host serves (a 2025 session's
   * resources/subscribe or a 2026-07-28 listen stream naming it). Called once per URI until
   * `unsubscribe`; never throws, and a host that cannot act on it now (not connected,
   * parked) remembers it. An upstream server subscribes upstream; a code plugin stays running.
   */
  subscribe?(uri: string): void;
  /** The last subscriber of `uri` left (unsubscribed, its session or listen stream ended). Never throws. */
  unsubscribe?(uri: string): void;
}
