/**
 * What the fuzz tests expect of an answer, written from the specs (JSON-RPC 2.0, MCP
 * 2025-11-25, docs/endpoints-and-errors.md's table of refusals), not from the daemon's code: the shape of
 * every JSON-RPC message, which sent messages need a reply and with which id, the error
 * codes a client mistake may get, and which Host/Origin/credentials must be refused.
 */
import { clip, type Violations } from "./fuzz-harness.ts";
import { MAX_JSON_DEPTH, nestedDeeperThan } from "../../daemon/transports/json-depth.ts";

export type Obj = Record<string, unknown>;

export function isPlainObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** MCP: a request id is a string or an integer (JSON-RPC allows other numbers, MCP does not). */
export function isValidId(id: unknown): id is string | number {
  return typeof id === "string" || (typeof id === "number" && Number.isSafeInteger(id));
}

/** The lifecycle, tool and resource requests of MCP, in a fixed order (the generators pick from it by index). */
export const CORE_METHODS = ["initialize", "ping", "tools/list", "tools/call", "resources/list", "resources/templates/list", "resources/read", "resources/subscribe"] as const;

/**
 * Every method the MCP specs (2025-11-25 and 2026-07-28) define, in either direction. A
 * server may or may not implement the optional ones; a method outside this list is not
 * MCP at all and must get -32601 Method not found.
 */
export const MCP_METHODS = new Set<string>([
  ...CORE_METHODS,
  "resources/unsubscribe",
  "prompts/list",
  "prompts/get",
  "completion/complete",
  "logging/setLevel",
  "sampling/createMessage",
  "elicitation/create",
  "roots/list",
  "tasks/get",
  "tasks/result",
  "tasks/list",
  "tasks/cancel",
  "server/discover",
  "subscriptions/listen",
]);

export const LIST_METHODS = new Set(["tools/list", "resources/list", "resources/templates/list", "prompts/list"]);

export type MessageKind = "request" | "notification" | "response" | "invalid" | "ambiguous";

/**
 * JSON-RPC 2.0 / MCP classification of one parsed message. "ambiguous" is a message a
 * server may reasonably accept or refuse (e.g. extra members), for which only the generic
 * invariants are checked.
 */
export function classifyMessage(m: unknown): MessageKind {
  if (!isPlainObject(m)) return "invalid";
  // docs/endpoints-and-errors.md: a message nested deeper than 256 levels is refused (-32600) on every transport
  if (nestedDeeperThan(m, MAX_JSON_DEPTH)) return "invalid";
  if (m.jsonrpc !== "2.0") return "invalid";
  if ("method" in m) {
    if (typeof m.method !== "string") return "invalid";
    if ("params" in m && !isPlainObject(m.params)) return "invalid";
    if ("result" in m || "error" in m) return "invalid";
    // extra members, or a _meta whose contents a server validates more strictly than JSON-RPC does
    const extra = Object.keys(m).some((k) => !["jsonrpc", "id", "method", "params"].includes(k)) || (isPlainObject(m.params) && "_meta" in m.params);
    if ("id" in m) {
      if (!isValidId(m.id)) return "invalid";
      return extra ? "ambiguous" : "request";
    }
    return extra ? "ambiguous" : "notification";
  }
  const hasResult = "result" in m;
  const hasError = "error" in m;
  if (hasResult === hasError) return "invalid";
  if (hasResult) return "id" in m && isValidId(m.id) && isPlainObject(m.result) ? "response" : "invalid";
  const e = m.error;
  if (!isPlainObject(e) || !Number.isSafeInteger(e.code) || typeof e.message !== "string") return "invalid";
  // MCP 2025-11-25: an error response may leave out the id it could not determine
  // (JSON-RPC's id null there is not in MCP's schema: a server may take or refuse it)
  if (m.id === null) return "ambiguous";
  return !("id" in m) || isValidId(m.id) ? "response" : "invalid";
}

/**
 * The id a reply to this sent message must carry, if it must get one: anything with a
 * string `method` and a string or numeric id (a server that refuses it still knows its id).
 */
export function replyIdOf(m: unknown): string | number | undefined {
  if (!isPlainObject(m) || typeof m.method !== "string" || !("id" in m)) return undefined;
  const id = m.id;
  if (typeof id === "string") return id;
  if (typeof id === "number" && Number.isFinite(id)) return id;
  return undefined;
}

/** The shape every JSON-RPC message from the server must have. */
export function shapeProblems(m: unknown): string[] {
  if (!isPlainObject(m)) return [`not a JSON object: ${clip(m, 200)}`];
  const p: string[] = [];
  if (m.jsonrpc !== "2.0") p.push(`"jsonrpc" is ${clip(m.jsonrpc, 50)}, not "2.0"`);
  if ("method" in m) {
    if (typeof m.method !== "string") p.push(`"method" is not a string`);
    if ("id" in m && !isValidId(m.id)) p.push(`server-to-client request has id ${clip(m.id, 50)}`);
    return p;
  }
  const hasResult = "result" in m;
  const hasError = "error" in m;
  if (hasResult && hasError) p.push("has both result and error");
  if (!hasResult && !hasError) p.push("has no result, error or method");
  if (!("id" in m)) {
    if (hasResult) p.push("a result without an id");
  } else if (!(m.id === null || typeof m.id === "string" || typeof m.id === "number")) p.push(`id ${clip(m.id, 50)} is not a string, number or null`);
  if (hasResult && !isPlainObject(m.result)) p.push(`result is not an object: ${clip(m.result, 100)}`);
  if (hasResult && m.id === null) p.push("a result with id null");
  if (hasError) {
    const e = m.error;
    if (!isPlainObject(e)) p.push(`error is not an object: ${clip(e, 100)}`);
    else {
      if (!Number.isInteger(e.code)) p.push(`error.code ${clip(e.code, 50)} is not an integer`);
      if (typeof e.message !== "string") p.push("error.message is not a string");
    }
  }
  return p;
}

/** The replies (messages without a method) among received messages. */
export function repliesIn(messages: unknown[]): Obj[] {
  return messages.filter((m): m is Obj => isPlainObject(m) && !("method" in m));
}

/** A map key for a JSON-RPC id that keeps 1 and "1" apart. */
export function idKey(id: unknown): string {
  return `${typeof id}:${String(id)}`;
}

export function errorCodeOf(reply: unknown): number | undefined {
  if (!isPlainObject(reply) || !isPlainObject(reply.error)) return undefined;
  return typeof reply.error.code === "number" ? reply.error.code : undefined;
}

/** Spec-level checks of the reply to a sent request (only called when the id matched). */
export function checkReply(sent: Obj, reply: Obj, v: Violations, where: string): void {
  const method = String(sent.method);
  const code = errorCodeOf(reply);
  const msg = isPlainObject(reply.error) ? clip(reply.error.message, 300) : "";
  const kind = classifyMessage(sent);
  const show = `${where}: sent ${clip(sent, 300)} → ${clip(reply, 400)}`;
  if (code === -32603) v.add("internal-error", `-32603 Internal error for a client request (a client mistake is -32600/-32601/-32602; our plugin never fails): ${show}`);
  if (code === -32700) v.add("parse-error-code", `-32700 Parse error for a message that parsed: ${show}`);
  if (kind === "request" && !MCP_METHODS.has(method) && !method.startsWith("notifications/") && code !== -32601) v.add("method-not-found", `unknown method ${JSON.stringify(method)} not answered -32601 (${msg || "a result"}): ${show}`);
  if (kind === "request" && LIST_METHODS.has(method) && isPlainObject(sent.params) && sent.params.cursor !== undefined && code === undefined) {
    v.add("cursor", `a cursor the server never issued (its lists fit one page) was accepted instead of -32602: ${show}`);
  }
}

/** A refusal of a message that is not JSON-RPC: -32600, never -32700 (it parsed) or a non-JSON-RPC body. */
export function checkInvalidRefusal(sent: unknown, reply: unknown, v: Violations, where: string): void {
  const code = errorCodeOf(reply);
  if (code !== -32600) v.add("invalid-request-code", `${where}: a message that is JSON but not JSON-RPC (${clip(sent, 200)}) got ${code === undefined ? clip(reply, 200) : `code ${code}`}, expected -32600`);
}

// ---- Host / Origin / credentials -------------------------------------------------------

export interface SentSecurityHeaders {
  host?: string;
  origin?: string;
  authorization?: string;
  cookie?: string;
}

export interface SecurityExpectation {
  /** must be refused as a DNS-rebinding attempt (403; a missing Host may be 400) */
  forbid?: string;
  /** must be refused for credentials (401) when not already forbidden */
  unauthorized?: string;
  /** a request nothing is wrong with: must not be refused with 401/403 */
  clean: boolean;
  /** the credentials are the token (the full /healthz may be shown) */
  authOk: boolean;
  /** lower-case loopback Host and no Origin or exactly http://<Host> */
  sameOrigin: boolean;
}

const SURE_LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

function splitHost(hostHeader: string): { hostname: string; port: string } {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    return { hostname: h.slice(0, end + 1), port: h.slice(end + 2) || "80" };
  }
  const i = h.lastIndexOf(":");
  return i === -1 ? { hostname: h, port: "80" } : { hostname: h.slice(0, i), port: h.slice(i + 1) || "80" };
}
function isLoopbackLiteral(hostname: string): boolean {
  return SURE_LOOPBACK.has(hostname) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * What docs/endpoints-and-errors.md promises for these headers on `pathname` (with `token` set or not):
 * foreign Host or Origin → 403; missing/wrong token on anything but /healthz → 401.
 */
export function securityExpectation(h: SentSecurityHeaders, ctx: { token?: string; pathname: string; search: string }): SecurityExpectation {
  let forbid: string | undefined;
  let sureHost = false;
  if (h.host === undefined) forbid = "no Host header";
  else {
    const { hostname, port } = splitHost(h.host);
    if (!isLoopbackLiteral(hostname)) forbid = `foreign Host ${JSON.stringify(h.host)}`;
    // exactly as browsers send it (lower case): the only form for which "must be served" is asserted
    sureHost = SURE_LOOPBACK.has(h.host.trim().replace(/:\d+$/, ""));
    // "null" and an empty Origin are no origin a browser page of ours sends, nor a foreign one: either answer is fine
    if (!forbid && h.origin !== undefined && h.origin.trim() !== "null" && h.origin.trim() !== "") {
      let o: URL | undefined;
      try {
        o = new URL(h.origin);
      } catch {
        forbid = `malformed Origin ${JSON.stringify(h.origin)}`;
      }
      if (o) {
        const oPort = o.port || (o.protocol === "https:" ? "443" : "80");
        if (o.protocol !== "http:") forbid = `Origin ${JSON.stringify(h.origin)} has scheme ${o.protocol} (the server speaks http:)`;
        else if (!isLoopbackLiteral(o.hostname.toLowerCase())) forbid = `foreign Origin ${JSON.stringify(h.origin)}`;
        else if (oPort !== port) forbid = `Origin ${JSON.stringify(h.origin)} names another port than Host ${JSON.stringify(h.host)}`;
      }
    }
  }
  const originSame = h.origin === undefined || (h.host !== undefined && h.origin === `http://${h.host.trim()}`);

  let unauthorized: string | undefined;
  let authOk = true;
  if (ctx.token) {
    const bearer = /^Bearer\s+(.+)$/i.exec((h.authorization ?? "").trim())?.[1];
    let cookie: string | undefined;
    const rawCookie = (h.cookie ?? "").split(/;\s*/).find((c) => c.startsWith("patchbay_token="))?.slice("patchbay_token=".length);
    if (rawCookie) {
      try {
        cookie = decodeURIComponent(rawCookie);
      } catch {
        cookie = undefined; // malformed percent-encoding is no credential
      }
    }
    authOk = bearer === ctx.token || (bearer === undefined && cookie === ctx.token);
    const authBad = bearer !== ctx.token && cookie !== ctx.token;
    const publicPath = ctx.pathname === "/healthz" || (ctx.pathname === "/" && ctx.search.includes("token="));
    if (authBad && !publicPath) unauthorized = `credentials are not the token (Authorization ${JSON.stringify(h.authorization)}, Cookie ${JSON.stringify(h.cookie)})`;
  }
  const sameOrigin = sureHost && originSame;
  const clean = !forbid && sameOrigin && authOk;
  return { forbid, unauthorized, clean, authOk, sameOrigin };
}

/** The Host/Origin/credential headers as sent, for the security oracle. */
export function sentSecurity(headers: Record<string, string | string[]>): SentSecurityHeaders {
  const one = (k: string) => {
    const v = headers[k];
    return Array.isArray(v) ? v.join(", ") : v;
  };
  return { host: one("host"), origin: one("origin"), authorization: one("authorization"), cookie: one("cookie") };
}

/**
 * The checks every answer to generated headers gets (never 5xx; Host, Origin and credentials
 * refused as promised). Returns the request's URL and what was expected, for further checks.
 */
export function checkHeaderAnswer(
  status: number,
  r: { headers: Record<string, unknown>; body: string },
  sent: { headers: Record<string, string | string[]>; path: string; token?: string },
  v: Violations,
  where: string,
): { url: URL; exp: SecurityExpectation } {
  checkStatusClass(status, r.headers, v, where, r.body);
  const url = new URL(sent.path, "http://x");
  const exp = securityExpectation(sentSecurity(sent.headers), { token: sent.token, pathname: url.pathname, search: url.search });
  checkSecurity(status, exp, v, where);
  return { url, exp };
}

/** Checks a status against the expectation; `where` names the request for the report. */
export function checkSecurity(status: number, exp: SecurityExpectation, v: Violations, where: string): void {
  if (exp.forbid) {
    if (![400, 401, 403].includes(status)) v.add("origin", `${where}: ${exp.forbid} must be refused with 403, got ${status}`);
  } else if (exp.unauthorized) {
    // an Origin or Host the server may refuse (a loopback alias) makes 403 acceptable too
    const ok = status === 401 || (!exp.sameOrigin && status === 403);
    if (!ok) v.add("auth", `${where}: ${exp.unauthorized} must be 401, got ${status}`);
  } else if (exp.clean && (status === 401 || status === 403)) {
    v.add("refused-clean", `${where}: a request with loopback Host, same Origin and the right credentials was refused with ${status}`);
  }
}

/** 5xx is never the answer to anything a client sends; 503 only as "full, retry later". */
export function checkStatusClass(status: number, headers: Record<string, unknown>, v: Violations, where: string, body: string): void {
  if (status < 500) return;
  if (status === 503 && headers["retry-after"] !== undefined) return;
  v.add("5xx", `${where}: answered ${status}: ${clip(body, 300)}`);
}
