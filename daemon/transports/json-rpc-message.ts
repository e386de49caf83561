/** The one check every transport makes of an inbound value: is it a JSON-RPC 2.0 message the spec's schema accepts. */
import { RELATED_TASK_META_KEY, specTypeSchemas } from "@modelcontextprotocol/server";
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
 * What is wrong with an inbound value, as the text of its -32600 answer, or undefined for a
 * JSON-RPC message the spec's schema accepts: its nesting first, then its shape.
 */
export function inboundProblem(v: unknown): string | undefined {
  return nestingProblem(v) ?? (isJsonRpcMessage(v) ? undefined : "Invalid Request: not a JSON-RPC 2.0 message");
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
