/**
 * fast-check generators for the fuzz tests: JSON-RPC messages (valid-shaped, subtly wrong
 * and plain junk), request bodies including pathological ones, HTTP headers, WebSocket
 * frames. Large or deep payloads are generated as small descriptions (`{ k: "deep", depth }`)
 * and built only when sent, so a failing case prints short and shrinks fast.
 */
import fc from "fast-check";
import { CORE_METHODS, idKey } from "./fuzz-oracle.ts";

/** The base plugin every fuzz daemon serves (see BASE_PLUGIN_SOURCE). */
export const BASE_TOOLS = ["base__echo", "base__info"];
export const BASE_PLUGIN_SOURCE = `export default {
  name: "base",
  // its thread stays up (not parked when idle), so thread counts before and after a case compare
  keepAlive: true,
  tools: {
    echo: { description: "echo", input: { type: "object", properties: { s: { type: "string" } } }, handler: (a) => "echo " + JSON.stringify(a).slice(0, 200) },
    info: { description: "info", handler: () => ({ ok: true }) },
  },
  resources: { "base://info": { description: "info", read: () => "info" } },
  resourceTemplates: {
    "base://item/{id}": { description: "item", list: () => [{ uri: "base://item/1", name: "one" }], read: (uri, { id }) => "item " + id, complete: { id: (v) => ["1", "2", String(v).slice(0, 20)] } },
  },
  prompts: { hello: { description: "hello", arguments: [{ name: "who", required: true }], render: ({ who }) => "hello " + String(who).slice(0, 100) } },
};
`;

export const PROTOCOL_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];
export const KNOWN_METHODS = [
  ...CORE_METHODS,
  "prompts/list",
  "prompts/get",
  "completion/complete",
  "logging/setLevel",
  "notifications/initialized",
  "notifications/cancelled",
  "notifications/progress",
  "notifications/roots/list_changed",
  "server/discover",
  "subscriptions/listen",
  "tasks/list",
];

const ABSENT = Symbol("absent");
type Maybe<T> = T | typeof ABSENT;

/** Small JSON values (large and deep ones come from BodySpec). */
export const arbJson: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 3 });

export const arbWeirdString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.constantFrom("", " ", "\u0000", "💥", "../../etc/passwd", "%", "%E0%A4%A", "__proto__", "constructor", "base__echo\u0000", "x".repeat(300), "{id}", "base://item/{id}"),
);

export const arbId: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -5, max: 1_000_000 }) },
  { weight: 3, arbitrary: fc.string({ maxLength: 16 }) },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(0, -1, 1.5, 1e21, 2 ** 53 + 2, "", null, true, false, {}, [], [1], { a: 1 }) },
);

const opt = <T>(a: fc.Arbitrary<T>, freq = 4): fc.Arbitrary<Maybe<T>> => fc.oneof({ weight: freq, arbitrary: a as fc.Arbitrary<Maybe<T>> }, { weight: 1, arbitrary: fc.constant(ABSENT) });
const either = <T>(good: fc.Arbitrary<T>, junk: fc.Arbitrary<unknown> = arbJson): fc.Arbitrary<unknown> => fc.oneof({ weight: 4, arbitrary: good as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: junk });

/** Builds an object, leaving out members generated as ABSENT. */
function obj(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== ABSENT));
}
function record(shape: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Record<string, unknown>> {
  const keys = Object.keys(shape);
  return fc.tuple(...keys.map((k) => opt(shape[k]))).map((vals) => obj(Object.fromEntries(keys.map((k, i) => [k, vals[i]]))));
}

const arbMeta = record({ progressToken: arbId, traceparent: either(fc.constant("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), arbWeirdString) });

function paramsFor(method: string): fc.Arbitrary<unknown> {
  const withMeta = (a: fc.Arbitrary<Record<string, unknown>>) => fc.tuple(a, fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arbMeta })).map(([p, m]) => (m ? { ...p, _meta: m } : p));
  switch (method) {
    case "tools/call":
      return withMeta(record({ name: either(fc.constantFrom(...BASE_TOOLS, "base__nope"), arbWeirdString), arguments: either(record({ s: either(fc.string({ maxLength: 30 })) })) }));
    case "resources/read":
      return withMeta(record({ uri: either(fc.constantFrom("base://info", "base://item/1", "base://item/", "base://item/a/b", "nope://x"), arbWeirdString) }));
    case "resources/subscribe":
      return record({ uri: either(fc.constantFrom("base://info"), arbWeirdString) });
    case "prompts/get":
      return withMeta(record({ name: either(fc.constantFrom("base__hello", "base__nope"), arbWeirdString), arguments: either(record({ who: either(fc.string({ maxLength: 20 })) })) }));
    case "completion/complete":
      return record({
        ref: either(fc.oneof(record({ type: fc.constant("ref/prompt"), name: either(fc.constantFrom("base__hello"), arbWeirdString) }), record({ type: fc.constant("ref/resource"), uri: either(fc.constantFrom("base://item/{id}"), arbWeirdString) }))),
        argument: either(record({ name: either(fc.constantFrom("id", "who"), arbWeirdString), value: either(fc.string({ maxLength: 20 })) })),
      });
    case "logging/setLevel":
      return record({ level: either(fc.constantFrom("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"), arbWeirdString) });
    case "tools/list":
    case "resources/list":
    case "resources/templates/list":
    case "prompts/list":
      return fc.oneof({ weight: 3, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: record({ cursor: either(fc.string({ maxLength: 12 })) }) });
    case "initialize":
      return record({
        protocolVersion: either(fc.constantFrom(...PROTOCOL_VERSIONS, "2026-07-28"), arbWeirdString),
        capabilities: either(fc.constant({})),
        clientInfo: either(record({ name: either(fc.constant("fuzz")), version: either(fc.constant("1")) })),
      });
    case "notifications/cancelled":
      return record({ requestId: arbId, reason: either(fc.string({ maxLength: 20 })) });
    case "notifications/progress":
      return record({ progressToken: arbId, progress: either(fc.double()) });
    default:
      return fc.oneof(fc.constant({}), fc.dictionary(fc.string({ maxLength: 8 }), arbJson, { maxKeys: 3 }));
  }
}

export const arbMethod: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...KNOWN_METHODS) },
  { weight: 2, arbitrary: arbWeirdString },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(5, null, true, {}, ["ping"]) },
);

/** A request or notification, mostly well-formed, sometimes wrong in one member. */
export const arbRequestLike: fc.Arbitrary<Record<string, unknown>> = arbMethod.chain((method) =>
  fc
    .record({
      jsonrpc: fc.oneof({ weight: 15, arbitrary: fc.constant<unknown>("2.0") }, { weight: 1, arbitrary: fc.constantFrom<unknown>("1.0", 2, null, "2.0 ", ABSENT) }),
      id: typeof method === "string" && method.startsWith("notifications/") ? opt(arbId, 1) : opt(arbId, 6),
      params: fc.oneof({ weight: 8, arbitrary: typeof method === "string" ? paramsFor(method) : arbJson }, { weight: 1, arbitrary: fc.constant<unknown>(ABSENT) }, { weight: 1, arbitrary: arbJson }),
      extra: fc.oneof({ weight: 12, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.dictionary(fc.constantFrom("result", "error", "foo", "__proto__", "jsonrpc2"), arbJson, { minKeys: 1, maxKeys: 2 }) }),
    })
    .map(({ jsonrpc, id, params, extra }) => ({ ...obj({ jsonrpc, id, method, params }), ...(extra ?? {}) })),
);

/** A response-shaped message, as a client answers a server's request (or misuses that form). */
export const arbResponseLike: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  record({ jsonrpc: either(fc.constant("2.0")), id: arbId, result: either(fc.constant({})) }),
  record({ jsonrpc: either(fc.constant("2.0")), id: arbId, error: either(record({ code: either(fc.integer()), message: either(fc.string({ maxLength: 20 })) })) }),
);

export const arbMessage: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 10, arbitrary: arbRequestLike as fc.Arbitrary<unknown> },
  { weight: 2, arbitrary: arbResponseLike as fc.Arbitrary<unknown> },
  { weight: 1, arbitrary: arbJson },
);

/** A request body (or WebSocket text frame), as a description that is built when sent. */
export type BodySpec =
  | { k: "json"; v: unknown }
  | { k: "batch"; v: unknown[] }
  | { k: "text"; s: string }
  | { k: "bytes"; b: number[] }
  | { k: "deep"; depth: number; at: "root" | "params" | "arguments" }
  | { k: "big"; kb: number; at: "string" | "array" }
  | { k: "truncated"; v: unknown; keep: number }
  | { k: "empty" };

export const arbDepth: fc.Arbitrary<number> = fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 1, max: 64 }) }, { weight: 2, arbitrary: fc.constantFrom(1_000, 10_000, 100_000) });

export const arbBody: fc.Arbitrary<BodySpec> = fc.oneof(
  { weight: 14, arbitrary: arbMessage.map((v) => ({ k: "json" as const, v })) },
  { weight: 3, arbitrary: fc.array(arbMessage, { minLength: 0, maxLength: 4 }).map((v) => ({ k: "batch" as const, v })) },
  { weight: 2, arbitrary: fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom("{", "[", "nul", "{\"jsonrpc\":\"2.0\"", "\uFEFF{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", "1e999999", "\"\\ud800\"", "{\"a\":1,\"a\":2}")).map((s) => ({ k: "text" as const, s })) },
  { weight: 1, arbitrary: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 40 }).map((b) => ({ k: "bytes" as const, b })) },
  { weight: 2, arbitrary: fc.record({ depth: arbDepth, at: fc.constantFrom<"root" | "params" | "arguments">("root", "params", "arguments") }).map((r) => ({ k: "deep" as const, ...r })) },
  { weight: 1, arbitrary: fc.record({ kb: fc.constantFrom(1, 64, 255, 300), at: fc.constantFrom<"string" | "array">("string", "array") }).map((r) => ({ k: "big" as const, ...r })) },
  { weight: 1, arbitrary: fc.record({ v: arbRequestLike, keep: fc.nat({ max: 60 }) }).map((r) => ({ k: "truncated" as const, ...r })) },
  { weight: 1, arbitrary: fc.constant({ k: "empty" as const }) },
);

function nest(depth: number, inner: string): string {
  return "[".repeat(depth) + inner + "]".repeat(depth);
}

/** The bytes of a body; `id` is the request id that deep/big bodies carry. */
export function buildBody(spec: BodySpec, id: number | string = 1): string | Buffer {
  switch (spec.k) {
    case "json":
    case "batch": {
      const text = JSON.stringify(spec.v);
      return text === undefined ? "" : text;
    }
    case "text":
      return spec.s;
    case "bytes":
      return Buffer.from(spec.b);
    case "empty":
      return "";
    case "truncated": {
      const text = JSON.stringify(spec.v) ?? "";
      return text.slice(0, Math.min(spec.keep, Math.max(0, text.length - 1)));
    }
    case "deep": {
      const deep = nest(spec.depth, "1");
      if (spec.at === "root") return deep;
      const idText = JSON.stringify(id);
      if (spec.at === "params") return `{"jsonrpc":"2.0","id":${idText},"method":"tools/list","params":{"x":${deep}}}`;
      return `{"jsonrpc":"2.0","id":${idText},"method":"tools/call","params":{"name":"base__echo","arguments":{"s":${deep}}}}`;
    }
    case "big": {
      const n = spec.kb * 1024;
      const payload = spec.at === "string" ? JSON.stringify("x".repeat(n)) : `[${Array.from({ length: Math.floor(n / 2) }, () => "0").join(",")}]`;
      return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"tools/call","params":{"name":"base__echo","arguments":{"s":${payload}}}}`;
    }
  }
}

/** The parsed value of a built body, or undefined when it is not JSON. */
export function parseBody(body: string | Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    const text = typeof body === "string" ? body : new TextDecoder("utf-8", { fatal: true }).decode(body);
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** The id deep/big bodies carry in a case (for matching their replies). */
export function bodyId(spec: BodySpec, fallback: number | string): number | string | undefined {
  if (spec.k === "deep") return spec.at === "root" ? undefined : fallback;
  if (spec.k === "big") return fallback;
  return undefined;
}

/** Makes request ids unique within a case, so each reply is attributable to one frame. */
export function uniquify(value: unknown, i: number, used: Set<string>): unknown {
  if (!(typeof value === "object" && value !== null && !Array.isArray(value)) || !("id" in value)) return value;
  const id = (value as { id: unknown }).id;
  if (typeof id !== "string" && typeof id !== "number") return value;
  const key = idKey(id);
  if (!used.has(key)) {
    used.add(key);
    return value;
  }
  const fresh = typeof id === "string" ? `${id}~${i}` : Number.isSafeInteger(id) ? 3_000_000 + i : id === Math.trunc(id) ? id : 3_000_000 + i + 0.5;
  used.add(idKey(fresh));
  return { ...value, id: fresh };
}

/** uniquify for a message or a batch of them. */
export function uniquifyAll(value: unknown, i: number, used: Set<string>): unknown {
  if (!Array.isArray(value)) return uniquify(value, i, used);
  const out = value.map((m, j) => uniquify(m, i * 100 + j, used));
  return out.every((m, j) => m === value[j]) ? value : out;
}

// ---- headers ------------------------------------------------------------------------------

/** A header value Node will send (visible latin1); generated raw values stay within it. */
export const arbHeaderValue: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 }),
  fc.string({ unit: fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 8 }),
);

type Raw = { raw: string };
/** A generated raw header value (`{ raw }`), for any header description. */
export const arbRawHeader: fc.Arbitrary<Raw> = fc.record({ raw: arbHeaderValue });
const raw = arbRawHeader;

/** A header's value: the generated raw one, or the table's value for the description (undefined: no header). */
export function headerValue<T extends string, V>(spec: T | Raw, table: Record<T, V>): V | string {
  return typeof spec === "object" ? spec.raw : table[spec];
}

export type HostSpec = "self" | "localhost" | "ipv6" | "otherport" | "noport" | "absent" | "evil" | "127evil" | "loopback2" | "upper" | Raw;
export type OriginSpec = "absent" | "self" | "https-self" | "null" | "evil" | "localhost-alias" | "otherport" | "file" | "self-slash" | Raw;
export type AuthSpec = "absent" | "bearer" | "bearer-lower" | "bearer-spaces" | "wrong" | "basic" | "empty-bearer" | "token-suffix" | "no-scheme" | Raw;
export type CookieSpec = "absent" | "token" | "percent" | "bad-escape" | "wrong" | "mixed" | "empty" | "encoded" | Raw;
export type AcceptSpec = "ok" | "json-only" | "sse-only" | "absent" | "star" | "reversed" | "weird-case" | Raw;
export type ContentTypeSpec = "json" | "json-charset" | "json-upper" | "text" | "absent" | "json-seq" | "form" | "jsonish" | Raw;
export type SessionHeaderSpec = "current" | "absent" | "unknown" | "empty" | "double" | Raw;
export type VersionHeaderSpec = "absent" | "current" | "old" | "future" | "empty" | Raw;

export interface HeaderSpecs {
  host: HostSpec;
  origin: OriginSpec;
  auth: AuthSpec;
  cookie: CookieSpec;
  accept: AcceptSpec;
  contentType: ContentTypeSpec;
  session: SessionHeaderSpec;
  version: VersionHeaderSpec;
}

/** Mostly the right value, so that a case breaks one or two things at a time. */
const mostly = <T>(good: T, bad: fc.Arbitrary<T>, freq = 3): fc.Arbitrary<T> => fc.oneof({ weight: freq, arbitrary: fc.constant(good) }, { weight: 1, arbitrary: bad });

export const arbHeaders: fc.Arbitrary<HeaderSpecs> = fc.record({
  host: mostly<HostSpec>("self", fc.oneof(fc.constantFrom<HostSpec>("localhost", "ipv6", "otherport", "noport", "absent", "evil", "127evil", "loopback2", "upper"), raw)),
  origin: fc.oneof({ weight: 4, arbitrary: fc.constant<OriginSpec>("absent") }, { weight: 2, arbitrary: fc.constantFrom<OriginSpec>("self", "https-self", "null", "evil", "localhost-alias", "otherport", "file", "self-slash") }, { weight: 1, arbitrary: raw }),
  auth: mostly<AuthSpec>("bearer", fc.oneof(fc.constantFrom<AuthSpec>("absent", "bearer-lower", "bearer-spaces", "wrong", "basic", "empty-bearer", "token-suffix", "no-scheme"), raw)),
  cookie: fc.oneof({ weight: 4, arbitrary: fc.constant<CookieSpec>("absent") }, { weight: 2, arbitrary: fc.constantFrom<CookieSpec>("token", "percent", "bad-escape", "wrong", "mixed", "empty", "encoded") }, { weight: 1, arbitrary: raw }),
  accept: mostly<AcceptSpec>("ok", fc.oneof(fc.constantFrom<AcceptSpec>("json-only", "sse-only", "absent", "star", "reversed", "weird-case"), raw)),
  contentType: mostly<ContentTypeSpec>("json", fc.oneof(fc.constantFrom<ContentTypeSpec>("json-charset", "json-upper", "text", "absent", "json-seq", "form", "jsonish"), raw)),
  session: mostly<SessionHeaderSpec>("absent", fc.oneof(fc.constantFrom<SessionHeaderSpec>("current", "unknown", "empty", "double"), raw), 2),
  version: mostly<VersionHeaderSpec>("absent", fc.oneof(fc.constantFrom<VersionHeaderSpec>("current", "old", "future", "empty"), raw), 2),
});

/** A request nothing is wrong with: right Host and token, JSON in, both answer forms accepted. */
export const CLEAN_HEADERS: HeaderSpecs = { host: "self", origin: "absent", auth: "bearer", cookie: "absent", accept: "ok", contentType: "json", session: "absent", version: "absent" };

/** MCP-Protocol-Version values by description. */
export const VERSION_HEADER: Record<Exclude<VersionHeaderSpec, Raw>, string | undefined> = { absent: undefined, current: "2025-11-25", old: "2024-11-05", future: "2026-07-28", empty: "" };

/** Turns header descriptions into real headers for a daemon on `port` with `token`. */
export function buildHeaders(h: HeaderSpecs, ctx: { port: number; token?: string; sessionId?: string }): { headers: Record<string, string | string[]>; setHost: boolean } {
  const { port } = ctx;
  const token = ctx.token ?? "no-token-set";
  const unknownSession = "00000000-0000-4000-8000-000000000000";
  const hostValue = headerValue(h.host, {
    self: `127.0.0.1:${port}`,
    localhost: `localhost:${port}`,
    ipv6: `[::1]:${port}`,
    otherport: `127.0.0.1:${port === 1 ? 2 : 1}`,
    noport: "127.0.0.1",
    evil: `evil.example:${port}`,
    "127evil": `127.evil.example:${port}`,
    loopback2: `127.0.0.2:${port}`,
    upper: `LOCALHOST:${port}`,
    absent: undefined,
  });
  const values: Record<string, string | string[] | undefined> = {
    host: hostValue,
    origin: headerValue(h.origin, {
      absent: undefined,
      self: `http://${hostValue ?? `127.0.0.1:${port}`}`,
      "https-self": `https://127.0.0.1:${port}`,
      null: "null",
      evil: "http://evil.example",
      "localhost-alias": `http://localhost:${port}`,
      otherport: `http://127.0.0.1:${port + 1}`,
      file: "file://",
      "self-slash": `http://127.0.0.1:${port}/`,
    }),
    authorization: headerValue(h.auth, {
      absent: undefined,
      bearer: `Bearer ${token}`,
      "bearer-lower": `bearer ${token}`,
      "bearer-spaces": `Bearer    ${token}`,
      wrong: "Bearer wrong-token-wrong-token",
      basic: `Basic ${Buffer.from(`x:${token}`).toString("base64")}`,
      "empty-bearer": "Bearer ",
      "token-suffix": `Bearer ${token}x`,
      "no-scheme": token,
    }),
    cookie: headerValue(h.cookie, {
      absent: undefined,
      token: `patchbay_token=${token}`,
      encoded: `patchbay_token=${encodeURIComponent(token).replace(/-/g, "%2D")}`,
      percent: "patchbay_token=%",
      "bad-escape": "patchbay_token=%E0%A4%A",
      wrong: "patchbay_token=wrong",
      mixed: `a=%; patchbay_token=${token}; b=%zz`,
      empty: "patchbay_token=",
    }),
    accept: headerValue(h.accept, {
      ok: "application/json, text/event-stream",
      "json-only": "application/json",
      "sse-only": "text/event-stream",
      absent: undefined,
      star: "*/*",
      reversed: "text/event-stream;q=0.9, application/json",
      "weird-case": "Application/JSON, Text/Event-Stream",
    }),
    "content-type": headerValue(h.contentType, {
      json: "application/json",
      "json-charset": "application/json; charset=utf-8",
      "json-upper": "APPLICATION/JSON",
      text: "text/plain",
      absent: undefined,
      "json-seq": "application/json-seq",
      form: "application/x-www-form-urlencoded",
      jsonish: "application/jsonx",
    }),
    "mcp-session-id": headerValue<Exclude<SessionHeaderSpec, Raw>, string | string[] | undefined>(h.session, {
      current: ctx.sessionId ?? unknownSession,
      absent: undefined,
      unknown: unknownSession,
      empty: "",
      double: [ctx.sessionId ?? "a", unknownSession],
    }),
    "mcp-protocol-version": headerValue(h.version, VERSION_HEADER),
  };
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(values)) if (value !== undefined) out[name] = value;
  // Node fills in its own Host when ours is missing or empty unless told not to
  return { headers: out, setHost: hostValue !== undefined && hostValue !== "" };
}

/** The per-request `_meta` a 2026-07-28 client sends (version, capabilities, client info). */
export const META_2026 = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}, "io.modelcontextprotocol/clientInfo": { name: "fuzz", version: "1" } };

/** A message as a 2026-07-28 client sends it: META_2026 merged into `params._meta` (other values as they are). */
export function with2026Meta(value: unknown): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  const m = value as Record<string, unknown>;
  if (typeof m.method !== "string") return value;
  const params = m.params === undefined ? {} : m.params;
  if (typeof params !== "object" || params === null || Array.isArray(params)) return value;
  const p = params as Record<string, unknown>;
  const meta = typeof p._meta === "object" && p._meta !== null && !Array.isArray(p._meta) ? p._meta : {};
  return { ...m, params: { ...p, _meta: { ...META_2026, ...meta } } };
}

export const INIT_MESSAGE = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "fuzz", version: "1" } } };
export const INITIALIZED_NOTIFICATION = { jsonrpc: "2.0", method: "notifications/initialized" };
