/**
 * Messages between the daemon and a plugin worker. The worker never sees sessions or
 * transports: it gets calls with an id, answers once, and may stream progress/logs for it.
 */
import type { SourceLocation } from "../errors.ts";

export interface ToolInfo {
  name: string;
  title?: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}
export interface ResourceInfo {
  uri: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
}
export interface ResourceTemplateInfo {
  uriTemplate: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
  listable: boolean;
  completable: string[];
}
export interface PromptInfo {
  name: string;
  title?: string;
  description?: string;
  arguments: { name: string; description?: string; required?: boolean }[];
  completable: string[];
}

/** What a loaded plugin offers, as plain data the host can index. */
export interface PluginManifest {
  name: string;
  version?: string;
  description?: string;
  tools: ToolInfo[];
  resources: ResourceInfo[];
  resourceTemplates: ResourceTemplateInfo[];
  prompts: PromptInfo[];
}

export type CallKind = "tool" | "resource" | "template" | "list-template" | "prompt" | "complete";

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
}

export type HostToWorker =
  | { type: "load"; bundlePath: string; file: string; defaultName: string; dataDir: string }
  | CallRequest
  | { type: "cancel"; id: number; reason?: string }
  | { type: "ping"; id: number }
  | { type: "teardown" };

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
  | { type: "loaded"; manifest: PluginManifest }
  | { type: "load-error"; error: SerializedError }
  | { type: "result"; id: number; ok: true; value: unknown; span?: WorkerSpan }
  | { type: "result"; id: number; ok: false; error: SerializedError; span?: WorkerSpan }
  | { type: "progress"; id: number; progress: number; total?: number; message?: string }
  | { type: "client-log"; id: number; level: string; data: unknown }
  | { type: "log"; level: "debug" | "info" | "warn" | "error"; message: string; data?: unknown }
  | { type: "resources-changed" }
  | { type: "pong"; id: number; heapUsed: number }
  | { type: "torn-down" };
