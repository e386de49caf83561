/**
 * Fuzzing Streamable HTTP (`/mcp`) and the headers every HTTP endpoint shares, against a
 * real token-protected daemon process (property-based, fast-check).
 *
 * Invariants, checked after every case (and every shrink step):
 * - the daemon process is alive;
 * - every request got a status line within the hang bound (FUZZ_HANG_MS, 10 s);
 * - no 5xx (503 only with Retry-After): nothing a client sends is a server error;
 * - every JSON-RPC message in an answer has `jsonrpc: "2.0"` and a result object or an
 *   error with an integer code; every request with an id gets exactly one reply with that
 *   id; refusals carry id null or the request's id; valid JSON is never -32700, JSON that
 *   is not JSON-RPC is -32600, unknown methods -32601, a cursor the server never issued
 *   -32602, and nothing is -32603 (the fuzz plugin never fails);
 * - foreign Host/Origin → 403, missing or wrong credentials → 401 (also for malformed ones,
 *   such as `Cookie: patchbay_token=%`), unauthenticated `/healthz` says only that it is up;
 * - the open-session count returns to what it was before the case once its sessions are
 *   deleted (no ghost sessions).
 * At the end: `/healthz` answers 200, no session is left, the daemon's stderr has no
 * uncaught error, unhandled rejection or Node warning.
 *
 * Sessions are 2025-era (initialize, Mcp-Session-Id) or, in "stateless" cases, 2026-07-28
 * requests (MCP-Protocol-Version, Mcp-Method/Mcp-Name headers, the per-request `_meta`).
 *
 * `npm test` runs a fixed seed and a bounded number of cases; `npm run fuzz` runs many more
 * with a random seed it prints (replay with FUZZ_SEED=…, see test/helpers/fuzz-harness.ts).
 */
import fc from "fast-check";
import { FUZZ_TOKEN, Violations, clip, sseMessages, trace, type RawResponse } from "./helpers/fuzz-harness.ts";
import { FuzzSuite } from "./helpers/fuzz-suite.ts";
import {
  CLEAN_HEADERS,
  INIT_MESSAGE,
  INITIALIZED_NOTIFICATION,
  META_2026,
  VERSION_HEADER,
  arbBody,
  arbHeaders,
  buildBody,
  buildHeaders,
  parseBody,
  type BodySpec,
  type HeaderSpecs,
  type VersionHeaderSpec,
} from "./helpers/fuzz-arbitraries.ts";
import { checkHeaderAnswer, checkInvalidRefusal, checkReply, checkStatusClass, classifyMessage, isPlainObject, repliesIn, replyIdOf, shapeProblems, type Obj } from "./helpers/fuzz-oracle.ts";

const suite = new FuzzSuite("http", { token: FUZZ_TOKEN, env: { PATCHBAY_MAX_BODY_BYTES: String(256 * 1024) } });
const d = suite.d;

const ACCEPT = "application/json, text/event-stream";

function cleanHeaders(extra: Record<string, string | string[]> = {}): Record<string, string | string[]> {
  return { ...d.authHeaders(), accept: ACCEPT, "content-type": "application/json", ...extra };
}

/** The sessions a case opened, deleted at its end (so that only a leak leaves one behind). */
class CaseSessions {
  private readonly ids = new Set<string>();

  /** Opens a session with a clean initialize; returns its id (or undefined with a violation). */
  async open(v: Violations, initialized: boolean): Promise<string | undefined> {
    const r = await d.raw({ method: "POST", path: "/mcp", headers: cleanHeaders(), body: JSON.stringify(INIT_MESSAGE) });
    const sid = r.headers["mcp-session-id"];
    if (r.status !== 200 || typeof sid !== "string") {
      v.add("setup", `a clean initialize was answered ${r.status ?? r.error}: ${clip(r.body)}`);
      return undefined;
    }
    if (sid) this.ids.add(sid);
    if (initialized) {
      const n = await d.raw({ method: "POST", path: "/mcp", headers: cleanHeaders({ "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25" }), body: JSON.stringify(INITIALIZED_NOTIFICATION) });
      if (n.status !== 202) v.add("setup", `notifications/initialized was answered ${n.status ?? n.error}: ${clip(n.body)}`);
    }
    return sid;
  }

  /** Records the session an answer created, if it did. */
  note(r: RawResponse): void {
    const sid = r.headers["mcp-session-id"];
    if (typeof sid === "string") this.ids.add(sid);
  }

  async deleteAll(): Promise<void> {
    for (const id of this.ids) await d.raw({ method: "DELETE", path: "/mcp", headers: cleanHeaders({ "mcp-session-id": id }) });
  }
}

/** The JSON-RPC messages of an answer body (JSON or event stream); unparseable ones are violations. */
function messagesOf(r: RawResponse, v: Violations, where: string): unknown[] {
  const ct = String(r.headers["content-type"] ?? "");
  const texts = ct.startsWith("text/event-stream") ? sseMessages(r.body).map((e) => e.data) : r.body.trim() === "" ? [] : [r.body];
  const out: unknown[] = [];
  for (const t of texts) {
    try {
      const parsed = JSON.parse(t);
      for (const m of Array.isArray(parsed) ? parsed : [parsed]) out.push(m);
    } catch {
      v.add("shape", `${where}: an answer that is not JSON (${ct}): ${clip(t)}`);
    }
  }
  return out;
}

/**
 * Checks one answer of `/mcp` to a POST of `body`. `sessionValid` says whether the session
 * header named a live session (then a JSON-RPC body must be served, not refused).
 */
function checkMcpPost(body: string | Buffer, r: RawResponse, v: Violations, where: string, sessionValid: boolean): void {
  const parsed = parseBody(body);
  const sentList: unknown[] = parsed.ok ? (Array.isArray(parsed.value) ? parsed.value : [parsed.value]) : [];
  const expectedIds = sentList.map(replyIdOf).filter((x): x is string | number => x !== undefined);
  const duplicateIds = new Set(expectedIds).size !== expectedIds.length;
  const show = `${where} POST ${clip(typeof body === "string" ? body : `<${body.length} bytes>`, 300)}`;
  trace(`${show} → ${r.status ?? r.error} ${clip(r.body, 200)}`);
  if (r.error?.startsWith("client refused")) throw new Error(`test bug: ${r.error}`);
  if (r.status === undefined) {
    v.add(duplicateIds ? "dup-id" : "hang", `${show}: ${r.error}${duplicateIds ? " (the batch repeats a request id)" : ""}`);
    return;
  }
  checkStatusClass(r.status, r.headers, v, show, r.body);
  if (r.error) v.add("hang", `${show}: status ${r.status} but ${r.error}`);
  const messages = messagesOf(r, v, show);
  for (const m of messages) for (const p of shapeProblems(m)) v.add("shape", `${show} → ${r.status}: ${p}: ${clip(m)}`);
  const replies = repliesIn(messages);

  if (r.status >= 200 && r.status < 300) {
    if (!parsed.ok) v.add("parse", `${show}: a body that is not JSON was answered ${r.status}`);
    for (const id of new Set(expectedIds)) {
      const matching = replies.filter((m) => m.id === id);
      const sent = sentList.filter((m) => replyIdOf(m) === id) as Obj[];
      if (matching.length === 0) v.add(duplicateIds ? "dup-id" : "id-echo", `${show} → ${r.status}: no reply with id ${JSON.stringify(id)}; replies: ${clip(replies)}`);
      else if (!duplicateIds && matching.length > 1) v.add("id-echo", `${show} → ${r.status}: ${matching.length} replies with id ${JSON.stringify(id)}`);
      if (matching.length && sent.length === 1) checkReply(sent[0], matching[0], v, show);
    }
    for (const m of replies) {
      if (m.id !== null && !expectedIds.includes(m.id as string | number) && sentList.every((s) => !isPlainObject(s) || s.id !== m.id)) {
        v.add("id-echo", `${show} → ${r.status}: a reply with an id nobody sent: ${clip(m)}`);
      }
    }
    return;
  }

  // a refusal: a JSON-RPC error with id null or the request's id
  const ct = String(r.headers["content-type"] ?? "");
  if (r.status >= 400 && !ct.startsWith("application/json")) v.add("error-body", `${show} → ${r.status} with a ${ct || "missing"} content type (refusals on /mcp are JSON-RPC errors): ${clip(r.body)}`);
  for (const m of replies) {
    if (m.id !== null && !sentList.some((s) => isPlainObject(s) && s.id === m.id)) v.add("id-echo", `${show} → ${r.status}: refusal carries an id nobody sent: ${clip(m)}`);
  }
  const code = replies.length === 1 && isPlainObject(replies[0].error) ? replies[0].error.code : undefined;
  if (parsed.ok && code === -32700) v.add("parse-error-code", `${show} → ${r.status}: -32700 Parse error for a body that is valid JSON: ${clip(r.body)}`);
  if (!parsed.ok && r.status === 400 && code !== -32700) v.add("parse-error-code", `${show} → 400 for a body that is not JSON, but code ${code} instead of -32700: ${clip(r.body)}`);
  // JSON that is not JSON-RPC, sent on a live session: refused as an invalid request
  if (sessionValid && parsed.ok && r.status === 400) {
    const invalid = sentList.length === 0 || sentList.some((m) => classifyMessage(m) === "invalid");
    if (invalid && replies.length === 1) checkInvalidRefusal(parsed.value, replies[0], v, show);
  }
}

type StepVersion = Extract<VersionHeaderSpec, string>;
type Step = { kind: "post"; body: BodySpec; version: StepVersion } | { kind: "get" } | { kind: "delete" } | { kind: "method"; method: string };

const arbStep: fc.Arbitrary<Step> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ body: arbBody, version: fc.oneof({ weight: 4, arbitrary: fc.constant<StepVersion>("current") }, { weight: 1, arbitrary: fc.constantFrom<StepVersion>("absent", "old", "future", "empty") }) }).map((s) => ({ kind: "post" as const, ...s })) },
  { weight: 1, arbitrary: fc.constant<Step>({ kind: "get" }) },
  { weight: 1, arbitrary: fc.constant<Step>({ kind: "delete" }) },
  { weight: 1, arbitrary: fc.constantFrom("PUT", "PATCH", "OPTIONS", "HEAD").map((method) => ({ kind: "method" as const, method })) },
);

type McpCase = { session: "initialized" | "fresh" | "none" | "unknown" | "stateless"; steps: Step[] };
const arbMcpCase: fc.Arbitrary<McpCase> = fc.record({
  // "stateless": 2026-07-28 requests (no session; version, capabilities and client info in _meta)
  session: fc.oneof({ weight: 6, arbitrary: fc.constant<"initialized">("initialized") }, { weight: 2, arbitrary: fc.constantFrom<"fresh" | "none" | "unknown" | "stateless">("fresh", "none", "unknown", "stateless") }),
  steps: fc.array(arbStep, { minLength: 1, maxLength: 4 }),
});

/**
 * A body as a 2026-07-28 client sends it: each request's `params._meta` names the protocol
 * version, capabilities and client (the Mcp-Method header names the method). Bodies that
 * are not JSON objects, or too deep to rebuild, go as they are.
 */
function statelessShape(body: string | Buffer): { body: string | Buffer; method?: string; name?: string } {
  if (typeof body !== "string" || body.length > 50_000) return { body };
  const parsed = parseBody(body);
  if (!parsed.ok || !isPlainObject(parsed.value)) return { body };
  const m = parsed.value;
  const sendable = (x: unknown): x is string => typeof x === "string" && /^[\t\x20-\x7e\x80-\xff]*$/.test(x);
  const method = sendable(m.method) ? m.method : undefined;
  const params = isPlainObject(m.params) ? m.params : m.params === undefined ? {} : undefined;
  if (!params) return { body, method };
  const meta = isPlainObject(params._meta) ? params._meta : {};
  const shaped = {
    ...m,
    params: {
      ...params,
      _meta: { ...META_2026, ...meta },
    },
  };
  let text: string;
  try {
    text = JSON.stringify(shaped);
  } catch {
    // too deep for JSON.stringify: splice the _meta into the original text instead
    text = body.replace(/"params":\{/, `"params":{"_meta":${JSON.stringify(shaped.params._meta)},`);
  }
  // Mcp-Name: the tool or prompt name, or the resource URI
  const target = params.name ?? params.uri;
  return { body: text, method, name: sendable(target) ? target : undefined };
}

suite.sessionProperty("fuzz: JSON-RPC bodies on /mcp", {
  ciRuns: 150,
  arb: arbMcpCase,
  context: "/mcp body case",
  run: async (c, v) => {
    const sessions = new CaseSessions();
    let sid: string | undefined;
    let live = false;
    if (c.session === "initialized" || c.session === "fresh") {
      sid = await sessions.open(v, c.session === "initialized");
      live = !!sid;
    } else if (c.session === "unknown") sid = "00000000-0000-4000-8000-000000000000";
    for (const [i, step] of c.steps.entries()) {
      const where = `step ${i} (session ${c.session}${live ? "" : ", not live"})`;
      const sessionHeader: Record<string, string> = sid ? { "mcp-session-id": sid } : {};
      if (step.kind === "post") {
        let body = buildBody(step.body, `big-${i}`);
        let version = VERSION_HEADER[step.version];
        const extra: Record<string, string> = {};
        if (c.session === "stateless") {
          if (step.version === "current") version = "2026-07-28";
          const shaped = statelessShape(body);
          body = shaped.body;
          if (shaped.method !== undefined) extra["mcp-method"] = shaped.method;
          if (shaped.name !== undefined) extra["mcp-name"] = shaped.name;
        }
        const r = await d.raw({ method: "POST", path: "/mcp", headers: cleanHeaders({ ...sessionHeader, ...extra, ...(version !== undefined ? { "mcp-protocol-version": version } : {}) }), body });
        sessions.note(r);
        checkMcpPost(body, r, v, where, live && step.version === "current");
      } else {
        const method = step.kind === "get" ? "GET" : step.kind === "delete" ? "DELETE" : step.method;
        const r = await d.raw({ method, path: "/mcp", headers: cleanHeaders(sessionHeader) });
        if (r.status === undefined) v.add("hang", `${where} ${method} /mcp: ${r.error}`);
        else checkStatusClass(r.status, r.headers, v, `${where} ${method} /mcp`, r.body);
        if (step.kind === "delete" && r.status === 200) live = false;
      }
      if (!d.alive()) break;
    }
    return { after: "the case deleted every session it was given", detail: `case: ${clip(c, 600)}`, cleanup: () => sessions.deleteAll() };
  },
  examples: [
    // a ≥5,000-deep value in the params of a 2026-07-28 request was answered 500 (found by this fuzzer)
    { session: "stateless", steps: [{ kind: "post", body: { k: "deep", depth: 10_000, at: "params" }, version: "current" }] },
    // a batch of two initialize requests left a session nobody could reach (found by this fuzzer)
    { session: "none", steps: [{ kind: "post", body: { k: "batch", v: [INIT_MESSAGE, { ...INIT_MESSAGE, id: 2 }] }, version: "absent" }] },
  ],
});

const PATHS = ["/mcp", "/mcp", "/mcp", "/sse", "/messages?sessionId=00000000-0000-4000-8000-000000000000", "/healthz", "/healthz", "/api/overview", "/api/logs", "/api/traces?limit=5", "/api/traces/abc", "/api/series?tool=x", "/api/events", "/metrics", "/", "/?token=TOKEN", "/?token=wrong", "/dashboard/app.js", "/dashboard/../../../../etc/passwd", "/ws", "/nope"];

type HeaderCase = { path: string; method: string; headers: HeaderSpecs; body: "init" | "ping" | "none" };
const arbHeaderCase: fc.Arbitrary<HeaderCase> = fc.record({
  path: fc.constantFrom(...PATHS),
  method: fc.oneof({ weight: 4, arbitrary: fc.constantFrom("GET", "POST") }, { weight: 1, arbitrary: fc.constantFrom("DELETE", "PUT", "PATCH", "OPTIONS", "HEAD") }),
  headers: arbHeaders,
  body: fc.constantFrom<HeaderCase["body"]>("init", "ping", "none"),
});

suite.sessionProperty("fuzz: Host, Origin, credentials and MCP headers on every endpoint", {
  ciRuns: 200,
  arb: arbHeaderCase,
  context: "header case",
  run: async (c, v) => {
    const sessions = new CaseSessions();
    const sid = c.headers.session === "current" || c.headers.session === "double" ? await sessions.open(v, true) : undefined;
    const { headers, setHost } = buildHeaders(c.headers, { port: d.port, token: FUZZ_TOKEN, sessionId: sid });
    const path = c.path.replace("TOKEN", FUZZ_TOKEN);
    const body = c.method === "GET" || c.method === "HEAD" || c.body === "none" ? undefined : c.body === "init" ? JSON.stringify(INIT_MESSAGE) : JSON.stringify({ jsonrpc: "2.0", id: 7, method: "ping" });
    const r = await d.raw({ method: c.method, path, headers, body, setHost });
    const where = `${c.method} ${path} with ${clip(headers, 500)}`;
    sessions.note(r);
    if (r.error?.startsWith("client refused")) {
      // not sendable (Node refused the generated header): nothing was tested
    } else if (r.status === undefined) v.add("hang", `${where}: ${r.error}`);
    else {
      const { url, exp } = checkHeaderAnswer(r.status, r, { headers, path, token: FUZZ_TOKEN }, v, where);
      if (r.status === 401 && !r.headers["www-authenticate"]) v.add("auth", `${where}: 401 without WWW-Authenticate`);
      if (url.pathname === "/healthz" && c.method !== "HEAD" && r.status === 200 && !exp.authOk && !exp.forbid) {
        try {
          const j = JSON.parse(r.body);
          if (Object.keys(j).some((k) => k !== "status")) v.add("healthz-leak", `${where}: /healthz without the token shows ${clip(Object.keys(j))}`);
        } catch {
          v.add("shape", `${where}: /healthz is not JSON: ${clip(r.body)}`);
        }
      }
      if (url.pathname === "/mcp" && c.method !== "HEAD" && r.status >= 400 && String(r.headers["content-type"] ?? "").startsWith("application/json")) {
        try {
          for (const p of shapeProblems(JSON.parse(r.body))) v.add("shape", `${where} → ${r.status}: ${p}`);
        } catch {
          v.add("shape", `${where} → ${r.status}: JSON content type but not JSON: ${clip(r.body)}`);
        }
      }
    }
    return { after: "the case", detail: where, crashed: where, cleanup: () => sessions.deleteAll() };
  },
  examples: [
    // issue 8, defect 1: a malformed credential cookie must be a 401 (and /healthz a 200), never a 500
    { path: "/healthz", method: "GET", headers: { ...CLEAN_HEADERS, auth: "absent", cookie: "percent" }, body: "none" },
    { path: "/mcp", method: "POST", headers: { ...CLEAN_HEADERS, auth: "absent", cookie: "bad-escape" }, body: "init" },
    // issue 8: Origin with the wrong scheme must be refused
    { path: "/mcp", method: "POST", headers: { ...CLEAN_HEADERS, origin: "https-self" }, body: "init" },
  ],
});

suite.finalTest("after fuzzing /mcp: alive, healthy, no sessions left, clean stderr", "end of /mcp fuzzing");
