/**
 * The shape of nearly every 2026-07-28 request envelope (`params._meta`), recognised without
 * the SDK's zod schema. The SDK validates an envelope twice per request (its HTTP classifier,
 * then its dispatch), each a parse of `RequestMetaEnvelopeSchema` — several percent of the
 * daemon's time per call under load. What this accepts, that schema accepts (a property
 * test, test/modern-route.test.ts, holds the two to agreement); everything else (icons,
 * experimental capabilities, foreign keys, odd values) goes to the SDK's own checks.
 */
import { CLIENT_CAPABILITIES_META_KEY, CLIENT_INFO_META_KEY, LOG_LEVEL_META_KEY, PROTOCOL_VERSION_META_KEY } from "@modelcontextprotocol/server";

import { isPlainObject } from "../plain-object.ts";
import { LOGGING_LEVELS } from "../mcp/logging-levels.ts";

function isEmptyObject(v: unknown): boolean {
  if (!isPlainObject(v)) return false;
  for (const _ in v) return false;
  return true;
}

/** An object whose keys are all among `allowed`, each holding an empty object. */
function onlyEmptyMembers(v: unknown, allowed: readonly string[]): boolean {
  if (!isPlainObject(v)) return false;
  for (const k in v) if (!allowed.includes(k) || !isEmptyObject(v[k])) return false;
  return true;
}

/** `name`, `version` and an optional `title`, all strings. */
function isPlainImplementation(v: unknown): boolean {
  if (!isPlainObject(v) || typeof v.name !== "string" || typeof v.version !== "string") return false;
  for (const k in v) if (k !== "name" && k !== "version" && (k !== "title" || typeof v.title !== "string")) return false;
  return true;
}

/** The capabilities clients declare in practice: sampling, elicitation and roots in their plain forms. */
function isPlainCapabilities(v: unknown): boolean {
  if (!isPlainObject(v)) return false;
  for (const k in v) {
    const c = v[k];
    if (k === "sampling") {
      if (!onlyEmptyMembers(c, ["context", "tools"])) return false;
    } else if (k === "elicitation") {
      if (!onlyEmptyMembers(c, ["form", "url"])) return false;
    } else if (k === "roots") {
      if (!isPlainObject(c)) return false;
      for (const r in c) if (r !== "listChanged" || typeof c.listChanged !== "boolean") return false;
    } else return false;
  }
  return true;
}

/**
 * Whether `meta` is a complete, valid 2026-07-28 envelope of the common shape: a protocol
 * version string, client capabilities, and optionally client info, a log level and a
 * progress token, nothing else. False means "ask the SDK", not "invalid".
 */
export function isPlainEnvelope(meta: unknown): boolean {
  if (!isPlainObject(meta)) return false;
  let required = 0;
  for (const k in meta) {
    const v = meta[k];
    switch (k) {
      case PROTOCOL_VERSION_META_KEY:
        if (typeof v !== "string") return false;
        required++;
        break;
      case CLIENT_CAPABILITIES_META_KEY:
        if (!isPlainCapabilities(v)) return false;
        required++;
        break;
      case CLIENT_INFO_META_KEY:
        if (!isPlainImplementation(v)) return false;
        break;
      case LOG_LEVEL_META_KEY:
        if (typeof v !== "string" || !(LOGGING_LEVELS as readonly string[]).includes(v)) return false;
        break;
      case "progressToken":
        if (typeof v !== "string" && !Number.isSafeInteger(v)) return false;
        break;
      default:
        return false;
    }
  }
  return required === 2;
}
