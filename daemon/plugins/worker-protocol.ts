/**
 * Messages between the daemon and a plugin worker. The worker never sees sessions or
 * transports: it gets calls with an id, answers once, and may stream progress/logs for it
 * and ask the calling client questions (client-requests / client-responses, by key).
 * Calls sent in one turn of the host's event loop come as one array of CallRequests, and
 * results given in one microtask drain of the worker as one array of results; every other
 * message comes alone, after those sent before it.
 *
 * Both sides and errors.ts import this module, so it imports nothing of the daemon but the
 * plain data types of manifest.ts (test/import-graph.test.ts).
 */
import type { PluginManifest } from "./manifest.ts";

// The plugin domain types live in manifest.ts; re-exported here for files that still import them from this module.
export type { PluginManifest, PromptInfo, ResourceInfo, ResourceTemplateInfo, ToolInfo } from "./manifest.ts";

export type CallKind = "tool" | "resource" | "template" | "list-template" | "prompt" | "complete";

/** What a plugin may ask the calling client (ctx.sample, ctx.elicit, ctx.roots). */
export type ClientRequestMethod = "sampling/createMessage" | "elicitation/create" | "roots/list";
/** One question a plugin asks the client during a call (worker → host, in a "client-requests" batch). */
export interface ClientRequest {
  /**
   * Names the question within its handler run: the plugin's `opts.key`, or `r0`, `r1`, … by
   * ask order. Unique within one run. 2026-07-28: the key of `inputRequests` /
   * `inputResponses`, and of `CallRequest.answers` on the retry.
   */
  key: string;
  method: ClientRequestMethod;
  /** the MCP request's params, as the plugin gave them (none for roots/list) */
  params?: Record<string, unknown>;
}
/** The host's answer to one ClientRequest, by key (host → worker, in a "client-responses" batch). */
export type ClientResponse = { key: string; ok: true; value: unknown } | { key: string; ok: false; error: SerializedError };

export interface CallRequest {
  type: "call";
  id: number;
  kind: CallKind;
  /** tool/prompt name, resource URI, or template for list/complete */
  target: string;
  /** for templates: the concrete URI being read */
  uri?: string;
  args?: Record<string, unknown>;
  session?: { id: string; clientName?: string };
  /** W3C trace context of the host span, so the worker's span joins the same trace. */
  traceparent?: string;
  /**
   * Client results recorded in earlier input_required rounds (2026-07-28), by request key:
   * an ask whose key is here resolves with the recorded result at once, without asking.
   */
  answers?: Record<string, unknown>;
}

export type HostToWorker =
  | { type: "load"; bundlePath: string; file: string; defaultName: string; dataDir: string }
  | CallRequest
  | { type: "cancel"; id: number; reason?: string }
  /** answers to the call's "client-requests", by key; the worker ignores keys it no longer waits for */
  | { type: "client-responses"; id: number; responses: ClientResponse[] }
  | { type: "ping"; id: number }
  /**
   * The host wants to park the idle worker: the worker answers "park-answer", after running
   * the plugin's teardown when it agrees. It refuses while the plugin keeps background work
   * referenced (a timer, watcher, socket, child process), which parking would silently stop.
   */
  | { type: "park"; force: boolean }
  | { type: "teardown" };

/**
 * A worker group's shared thread: the host attaches each plugin with a MessagePort of its
 * own (sent on the thread's parentPort), over which the plugin's HostToWorker messages
 * come, and detaches it by closing that port once it has stopped.
 */
export type ThreadControl = { type: "attach"; port: import("node:worker_threads").MessagePort } | { type: "ping"; id: number };

/** Where in a plugin's source an error points (a load or call error, or a compile error). */
export interface SourceLocation {
  file: string;
  line: number;
  column?: number;
}

export interface SerializedError {
  message: string;
  name?: string;
  code?: string | number;
  location?: SourceLocation;
  stack?: string;
  /** set for argument validation failures */
  validation?: boolean;
}

export interface WorkerSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  startTime: number;
  endTime: number;
  ok: boolean;
  attributes: Record<string, string | number | boolean>;
}

export type WorkerToHost =
  /** the thread has begun loading the plugin (in a shared thread, other loads may come first) */
  | { type: "load-started" }
  | { type: "loaded"; manifest: PluginManifest; keepAlive?: boolean }
  | { type: "load-error"; error: SerializedError }
  | { type: "result"; id: number; ok: true; value: unknown; span?: WorkerSpan }
  | { type: "result"; id: number; ok: false; error: SerializedError; span?: WorkerSpan }
  | { type: "progress"; id: number; progress: number; total?: number; message?: string }
  | { type: "client-log"; id: number; level: string; data: unknown }
  | { type: "log"; level: "debug" | "info" | "warn" | "error"; message: string; data?: unknown }
  /** `background`: sent while no call ran (from a timer or watcher the plugin keeps) */
  | { type: "resources-changed"; background?: boolean }
  /** one resource's content changed (ctx.resourceUpdated) */
  | { type: "resource-updated"; uri: string; background?: boolean }
  /** `background`: what the plugin keeps running (empty when it agreed to park) */
  | { type: "park-answer"; ok: boolean; background: string[] }
  /** the call `id` asks the client; asks made in the same tick come as one batch */
  | { type: "client-requests"; id: number; requests: ClientRequest[] }
  | { type: "pong"; id: number; heapUsed: number }
  | { type: "torn-down" };

/**
 * The BroadcastChannel on which plugin threads report the child processes they start
 * (thread/child-reporter.ts) to the main thread, which ends them with their thread or the
 * daemon (host/child-processes.ts). A channel of its own, so the messages above stay as they are.
 */
export const CHILDREN_CHANNEL = "patchbay:plugin-children";
/** One child a plugin thread started (or, with `exited`, that it ended). */
export interface ChildNote {
  pid: number;
  thread: number;
  detached: boolean;
  exited?: true;
}
