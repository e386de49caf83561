/**
 * What the daemon needs from whatever serves one plugin: a code plugin's worker thread
 * (plugin-worker.ts) or an upstream MCP server (upstream-server.ts). The MCP layer only
 * calls `call`; the manager and main.ts start, stop, probe and read `heapUsed`/`inflight`;
 * the registry says when a resource URI the host serves gains its first subscriber and
 * loses its last (`subscribe`/`unsubscribe`).
 */
import type { CallOptions, CallOutcome } from "./plugin-worker.ts";
import type { CallRequest, PluginManifest } from "../worker-protocol.ts";

export type HostCall = Omit<CallRequest, "type" | "id">;

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
