/** The one check every transport makes of an inbound value: its nesting, then whether it is a JSON-RPC 2.0 message the spec's (v2) schema accepts. */
import { RELATED_TASK_META_KEY, specTypeSchemas, type JSONRPCMessage } from "@modelcontextprotocol/server";
import { isPlainObject } from "../plain-object.ts";
import { MAX_JSON_DEPTH, pathDeeperThan } from "./json-depth.ts";
import { clipString } from "../clip-string.ts";

const JSONRPC_MESSAGE = (specTypeSchemas as unknown as Record<string, { "~standard": { validate(v: unknown): { issues?: unknown[] } | Promise<unknown> } }>).JSONRPCMessage;


/**
 * The shape of nearly every request: `jsonrpc`, an integer or string `id`, a `method`, and
 * `params` whose `_meta` (if any) has a well-formed progress token or none and no related task. Such a value is a message
 * by the spec's schema (a property test holds this against the schema), so the full union
 * parse — a few percent of the daemon's time per call under load — is skipped for it;
 * anything else gets the full parse.
 */
export function isPlainRequest(v: Record<string, unknown>): boolean {
  for (const k in v) if (k !== "jsonrpc" && k !== "id" && k !== "method" && k !== "params") return false;
  if (v.jsonrpc !== "2.0" || typeof v.method !== "string") return false;
  const id = v.id;
  if (typeof id !== "string" && !Number.isSafeInteger(id)) return false;
  const params = v.params;
  if (params === undefined) return true;
  if (!isPlainObject(params)) return false;
  const meta = params._meta;
  if (meta === undefined) return true;
  if (!isPlainObject(meta)) return false;
  // the message schema types two _meta keys (a 2026-07-28 envelope's keys it leaves to the
  // SDK's envelope check): a progress token, and a related task, left to the full parse
  if (RELATED_TASK_META_KEY in meta) return false;
  const token = meta.progressToken;
  return token === undefined || typeof token === "string" || Number.isSafeInteger(token);
}

/**
 * The -32600 text for an inbound value nested deeper than MAX_JSON_DEPTH, naming where, or
 * undefined. Every transport checks this first, without recursion, before anything else
 * walks the value: the SDK's validators and walks (and the clone to a plugin's thread)
 * recurse, and a message a few thousand levels deep (a few kilobytes) would overflow their
 * stack wherever it went next.
 */
export function nestingProblem(v: unknown): string | undefined {
  const at = pathDeeperThan(v, MAX_JSON_DEPTH);
  return at === undefined ? undefined : `Invalid Request: JSON nested deeper than ${MAX_JSON_DEPTH} levels (at ${clipString(at, 200)})`;
}

/**
 * What each transport takes, as its -32600 answer words it: one message per frame or line
 * (WebSocket, stdio), one per POST (legacy `/messages`), or one or a non-empty batch per
 * POST (`/mcp`; whether the session's protocol version allows a batch is decided later).
 */
const SHAPES = {
  frame: "Invalid Request: not a JSON-RPC 2.0 message",
  post: "Invalid Request: expected one JSON-RPC 2.0 message",
  batch: "Invalid Request: expected a JSON-RPC 2.0 message or a non-empty array of them",
} as const;
export type InboundShape = keyof typeof SHAPES;

/**
 * The one check every transport makes of a value it received, before anything else reads
 * it: the text of its -32600 answer, or undefined for a JSON-RPC message (or, for `batch`,
 * a non-empty array of them) the spec's schema accepts. Nesting first, then the shape.
 */
export function inboundProblem(v: unknown, shape: InboundShape = "frame"): string | undefined {
  const tooDeep = nestingProblem(v);
  if (tooDeep) return tooDeep;
  const ok = shape === "batch" && Array.isArray(v) ? v.length > 0 && v.every(isJsonRpcMessage) : isJsonRpcMessage(v);
  return ok ? undefined : SHAPES[shape];
}

/**
 * A refusal answered in-band on a message stream (a WebSocket frame, a stdio line, the
 * bridge's answer for a lost daemon), with the catalogue entry's code (errors.ts); `id`
 * echoes the request's when it is readable. HTTP answers carry the same error in their
 * body (http-server.ts refusalBody).
 */
export function refusalMessage(refusal: { readonly rpc: number }, message: string, id: string | number | null): JSONRPCMessage {
  return { jsonrpc: "2.0", id, error: { code: refusal.rpc, message } } as JSONRPCMessage;
}

/** The id of an inbound value that has a readable one (to echo in an error), else null. */
export function readableId(v: unknown): string | number | null {
  const id = isPlainObject(v) ? v.id : undefined;
  return typeof id === "string" || (typeof id === "number" && Number.isFinite(id)) ? id : null;
}

/** Never throws: a value too deep for the validator to walk is no message of ours either. */
export function isJsonRpcMessage(v: unknown): boolean {
  try {
    if (isPlainObject(v) && isPlainRequest(v)) return true;
    const r = JSONRPC_MESSAGE["~standard"].validate(v);
    return !(r instanceof Promise) && !r.issues;
  } catch {
    return false;
  }
}
