/**
 * What the daemon needs from whatever serves one plugin: a code plugin's worker thread
 * (plugin-worker.ts) or an upstream MCP server (upstream-server.ts). The MCP layer only
 * calls `call`; the manager and main.ts start, stop, probe and read `heapUsed`/`inflight`.
 */
import type { CallOptions, CallOutcome } from "./plugin-worker.ts";
import type { CallRequest, PluginManifest } from "./worker-protocol.ts";

export type HostCall = Omit<CallRequest, "type" | "id">;

export interface PluginHost {
  /** memory in bytes: the worker's heap, or an upstream child's resident set */
  readonly heapUsed: number;
  /** calls in flight */
  readonly inflight: number;
  start(): Promise<PluginManifest>;
  call(req: HostCall, opts?: CallOptions): Promise<CallOutcome>;
  /** resolves false if the host does not answer in time */
  probe(timeoutMs?: number): Promise<boolean>;
  /** drains in-flight calls for at most `graceMs`, fails the rest with `failWith`, then ends */
  stop(graceMs: number, failWith?: Error): Promise<void>;
}
