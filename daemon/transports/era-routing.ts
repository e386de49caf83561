/**
 * The era decision for a POST to /mcp, made once: whether its (already checked) messages
 * are 2026-07-28 traffic, served statelessly, or 2025 traffic, served by a session. The
 * SDK's `classifyInboundRequest` (the predicate behind its own `createMcpHandler`) is the
 * authority; two shortcuts answer without its parses where the answer is certain
 * (`quickModernRoute` for the common modern request, `mayBeModern` for plain 2025 traffic),
 * and `fastEligible` says which modern requests the stateless fast path may serve.
 * test/era-routing.test.ts and test/modern-route.test.ts hold the shortcuts to the SDK.
 */
import type { IncomingMessage } from "node:http";
import { classifyInboundRequest, PROTOCOL_VERSION_META_KEY, SUPPORTED_PROTOCOL_VERSIONS } from "@modelcontextprotocol/server";
import { isPlainEnvelope } from "./envelope-shape.ts";
import { isPlainObject } from "../plain-object.ts";
import { isPlainRequest } from "./json-rpc-message.ts";

/** What `classifyInboundRequest` answered for a modern request (only what the fast path reads). */
export interface ModernRoute {
  kind: "modern";
  messageKind: string;
  message: unknown;
  classification: { era?: string; revision?: string };
}

/** Methods the stateless fast path serves, with the params field `Mcp-Name` must equal (undefined: the header must be absent). */
const FAST_METHODS = new Map<string, "name" | "uri" | undefined>([
  ["tools/call", "name"],
  ["tools/list", undefined],
  ["prompts/get", "name"],
  ["prompts/list", undefined],
  ["resources/read", "uri"],
  ["resources/list", undefined],
  ["resources/templates/list", undefined],
]);

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? undefined : v);

/** Whether a tool's input schema declares `x-mcp-header` anywhere (then the SDK checks Mcp-Param-* headers). */
const declaresHeaders = new WeakMap<object, boolean>();
function hasHeaderDeclarations(schema: Record<string, unknown>): boolean {
  let v = declaresHeaders.get(schema);
  if (v === undefined) declaresHeaders.set(schema, (v = JSON.stringify(schema).includes('"x-mcp-header"')));
  return v;
}

/** The SDK's era rule (`isModernProtocolVersion`, not exported): revisions sort as dates. */
const FIRST_MODERN_REVISION = "2026-07-28";
const REVISION_SHAPE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * The route `classifyInboundRequest` gives the common 2026-07-28 request, found without its
 * work: it tries every message first as a result and as an error (two failing zod parses,
 * each building error objects) and then parses the envelope, about 6 % of the daemon's time
 * per request under load. Here: one plain request (json-rpc-message.ts) of a method the
 * fast path serves, a plain valid envelope (envelope-shape.ts) naming a modern revision,
 * and headers that repeat the revision and method exactly. Undefined for anything else,
 * which the SDK's classifier routes (test/modern-route.test.ts holds the two to agreement).
 */
export function quickModernRoute(req: IncomingMessage, body: unknown): ModernRoute | undefined {
  if (!isPlainObject(body) || !isPlainRequest(body)) return undefined;
  const method = body.method as string;
  if (!FAST_METHODS.has(method)) return undefined;
  const meta = (body.params as { _meta?: Record<string, unknown> } | undefined)?._meta;
  if (!isPlainEnvelope(meta)) return undefined;
  const revision = meta![PROTOCOL_VERSION_META_KEY] as string;
  // a plain date: the SDK trims the header's whitespace, not the envelope's
  if (revision < FIRST_MODERN_REVISION || !REVISION_SHAPE.test(revision)) return undefined;
  const h = req.headers;
  if (h["mcp-protocol-version"] !== revision || h["mcp-method"] !== method) return undefined;
  return { kind: "modern", messageKind: "request", message: body, classification: { era: "modern", revision } };
}

/** Whether this request may take the fast path (everything else goes to the SDK's handler). */
export function fastEligible(req: IncomingMessage, body: unknown, route: ModernRoute, inputSchemaOf: (tool: string) => Record<string, unknown> | undefined): boolean {
  if (route.messageKind !== "request" || Array.isArray(body)) return false;
  const msg = body as { id?: unknown; method?: unknown; params?: Record<string, unknown> };
  if (typeof msg.method !== "string" || !FAST_METHODS.has(msg.method)) return false;
  const h = req.headers;
  const revision = route.classification.revision;
  if (revision === undefined || one(h["mcp-protocol-version"]) !== revision || one(h["mcp-method"]) !== msg.method) return false;
  const field = FAST_METHODS.get(msg.method);
  const name = one(h["mcp-name"]);
  if (field === undefined) {
    if (name !== undefined) return false;
  } else {
    const target = msg.params?.[field];
    if (typeof target !== "string" || name !== target) return false;
    if (msg.method === "tools/call") {
      const schema = inputSchemaOf(target);
      if (schema !== undefined && hasHeaderDeclarations(schema)) return false;
    }
  }
  return true;
}

/**
 * Whether the SDK's classifier could route this POST anywhere but the 2025 era. It routes
 * by the body's per-request envelope claim (`params._meta["io.modelcontextprotocol/
 * protocolVersion"]`) and the MCP-Protocol-Version header; a body of valid JSON-RPC
 * messages (checked before) with no claim, under no header or a 2025-era one, is always
 * 2025 traffic. Those, every request of a 2025 session, skip the classifier's work; all
 * others go through it. (test/era-routing.test.ts holds the two to agreement.)
 */
export function mayBeModern(messages: unknown[], versionHeader: string | undefined): boolean {
  if (versionHeader !== undefined && !SUPPORTED_PROTOCOL_VERSIONS.includes(versionHeader.trim())) return true;
  for (const m of messages) {
    const meta = (m as { params?: { _meta?: unknown } }).params?._meta;
    if (meta !== null && typeof meta === "object" && PROTOCOL_VERSION_META_KEY in meta) return true;
  }
  return false;
}

const header = (req: IncomingMessage, name: string) => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** Where a POST's messages go on the modern side: the route the shortcut or the SDK's classifier gave. */
export type EraRoute = ReturnType<typeof classifyInboundRequest> | ModernRoute;

/**
 * The era of one POST to /mcp whose body passed the inbound check (`raw`: its messages):
 * the route to the stateless 2026-07-28 side (including rejections only that side gives,
 * which it answers), or undefined for 2025 traffic.
 */
export function routeEra(req: IncomingMessage, body: unknown, raw: unknown[]): EraRoute | undefined {
  // the common 2026-07-28 request, routed without the classifier's parses
  const quick = raw.length === 1 ? quickModernRoute(req, body) : undefined;
  if (quick) return quick;
  const versionHeader = header(req, "mcp-protocol-version");
  if (!mayBeModern(raw, versionHeader)) return undefined;
  const route = classifyInboundRequest({ httpMethod: req.method ?? "POST", protocolVersionHeader: versionHeader, mcpMethodHeader: header(req, "mcp-method"), mcpNameHeader: header(req, "mcp-name"), body });
  // modern, or a rejection only the modern path gives (it owns those answers)
  return route.kind === "legacy" ? undefined : route;
}
