/**
 * Recognises the tool results nearly every call returns — text blocks, optionally
 * `isError`, `structuredContent` and `_meta` — so the SDK's full `CallToolResult` schema
 * parse (a zod union over every content type, about a fifth of the daemon's allocations
 * per call under load) can be skipped for them. Anything else, or anything in doubt, is
 * not "plain" and goes through the SDK's validation unchanged: this check may only accept
 * values the SDK's schema accepts and would return as they are.
 */
import { SERVER_INFO_META_KEY } from "@modelcontextprotocol/server";
import { isPlainObject } from "../plain-object.ts";

function isTextBlock(v: unknown): boolean {
  if (!isPlainObject(v)) return false;
  let keys = 0;
  for (const k in v) {
    if (k !== "type" && k !== "text") return false;
    keys++;
  }
  return keys === 2 && v.type === "text" && typeof v.text === "string";
}

function isUntypedMeta(meta: Record<string, unknown>): boolean {
  for (const k in meta) if (k === "progressToken" || k === SERVER_INFO_META_KEY || k.startsWith("io.modelcontextprotocol/")) return false;
  return true;
}

export function isPlainToolResult(v: unknown): boolean {
  if (!isPlainObject(v)) return false;
  let hasContent = false;
  for (const k in v) {
    const x = v[k];
    switch (k) {
      case "content":
        if (!Array.isArray(x)) return false;
        for (const block of x) if (!isTextBlock(block)) return false;
        hasContent = true;
        break;
      case "isError":
        if (typeof x !== "boolean") return false;
        break;
      case "structuredContent":
        if (!isPlainObject(x)) return false;
        break;
      case "_meta":
        // keys some era's result schema types (serverInfo, progressToken, related-task, any
        // other io.modelcontextprotocol/ key): leave those to the SDK's parse
        if (!isPlainObject(x) || !isUntypedMeta(x)) return false;
        break;
      default:
        return false;
    }
  }
  return hasContent;
}
