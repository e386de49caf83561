/**
 * Fuzzing the legacy HTTP+SSE transport (`GET /sse` + `POST /messages?sessionId=`) of a
 * real daemon (no token here; the token paths are fuzzed in fuzz-http and fuzz-ws):
 * generated JSON-RPC messages, junk, batches, deep and oversize bodies, wrong content
 * types and session ids, posted on a live SSE session whose stream carries the replies.
 *
 * Invariants, after every case (and shrink step):
 * - the daemon process is alive;
 * - every POST gets a status within the hang bound; never 5xx;
 * - a well-formed JSON-RPC message is accepted (202) and every request in it gets exactly
 *   one reply with its id on the stream; body that is not JSON is refused 400 with a
 *   JSON-RPC -32700 error, JSON that is not JSON-RPC 400 with -32600 (as on /mcp), over the
 *   limit 413, another Content-Type 415, an unknown session 404;
 * - the session stays usable: a ping posted after each body is answered on the stream;
 * - every message on the stream has `jsonrpc: "2.0"` and a result object or an error with
 *   an integer code; unknown methods -32601; nothing -32603;
 * - once the stream is closed, the open-session count is back where it was.
 * At the end: `/healthz` 200, no sessions left, clean stderr.
 *
 * `npm test`: fixed seed, bounded runs; `npm run fuzz`: long, random seed printed (replay
 * with FUZZ_SEED=…; see test/helpers/fuzz-harness.ts).
 */
import { request, type ClientRequest } from "node:http";
import fc from "fast-check";
import { HANG_BOUND_MS, Violations, clip, trace, type RawResponse } from "./helpers/fuzz-harness.ts";
import { FuzzSuite, Inbox } from "./helpers/fuzz-suite.ts";
import { INIT_MESSAGE, INITIALIZED_NOTIFICATION, arbBody, buildBody, parseBody, uniquifyAll, type BodySpec } from "./helpers/fuzz-arbitraries.ts";
import { checkInvalidRefusal, checkReply, checkStatusClass, classifyMessage, errorCodeOf, idKey, replyIdOf, shapeProblems, type Obj } from "./helpers/fuzz-oracle.ts";

const MAX_BODY = 256 * 1024;
const suite = new FuzzSuite("sse", { env: { PATCHBAY_MAX_BODY_BYTES: String(MAX_BODY), PATCHBAY_SSE_KEEPALIVE_MS: "1000" } });
const d = suite.d;

/** A live `GET /sse` stream: the endpoint it announces and every message it carries. */
class SseStream extends Inbox {
  endpoint?: string;
  ended = false;
  status?: number;
  private buf = "";
  private req?: ClientRequest;

  constructor(port: number, v: Violations) {
    super();
    this.req = request({ host: "127.0.0.1", port, path: "/sse", method: "GET", headers: { accept: "text/event-stream" }, agent: false }, (res) => {
      this.status = res.statusCode;
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        this.buf += chunk;
        let at: number;
        while ((at = this.buf.search(/\r?\n\r?\n/)) !== -1) {
          const block = this.buf.slice(0, at);
          this.buf = this.buf.slice(at).replace(/^\r?\n\r?\n/, "");
          let event = "message";
          const data: string[] = [];
          for (const line of block.split(/\r?\n/)) {
            if (line.startsWith("event:")) event = line.slice(6).trim();
            else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
          }
          if (!data.length) continue; // a keepalive comment
          if (event === "endpoint") this.endpoint = data.join("\n");
          else {
            try {
              this.messages.push(JSON.parse(data.join("\n")));
            } catch {
              v.add("shape", `an SSE event that is not JSON: ${clip(data.join("\n"))}`);
            }
          }
        }
        this.wake();
      });
      res.on("close", () => {
        this.ended = true;
        this.wake();
      });
    });
    this.req.on("error", () => {
      this.ended = true;
      this.wake();
    });
    this.req.end();
  }
  close(): void {
    this.req?.destroy();
  }
}

type Post = { body: BodySpec; ct: "json" | "json-charset" | "text" | "absent"; session: "own" | "unknown" | "missing" };
type SseCase = { init: "none" | "initialize" | "initialized"; posts: Post[] };

const arbPost: fc.Arbitrary<Post> = fc.record({
  body: arbBody,
  ct: fc.oneof({ weight: 12, arbitrary: fc.constant<Post["ct"]>("json") }, { weight: 1, arbitrary: fc.constantFrom<Post["ct"]>("json-charset", "text", "absent") }),
  session: fc.oneof({ weight: 12, arbitrary: fc.constant<Post["session"]>("own") }, { weight: 1, arbitrary: fc.constantFrom<Post["session"]>("unknown", "missing") }),
});
const arbSseCase: fc.Arbitrary<SseCase> = fc.record({
  init: fc.oneof({ weight: 4, arbitrary: fc.constant<SseCase["init"]>("initialized") }, { weight: 1, arbitrary: fc.constantFrom<SseCase["init"]>("none", "initialize") }),
  posts: fc.array(arbPost, { minLength: 1, maxLength: 5 }),
});

const CT: Record<Post["ct"], string | undefined> = { json: "application/json", "json-charset": "application/json; charset=utf-8", text: "text/plain", absent: undefined };
const SENTINEL = "\u0001sentinel-";

function post(path: string, body: string | Buffer, ct: string | undefined): Promise<RawResponse> {
  return d.raw({ method: "POST", path, headers: ct ? { "content-type": ct } : {}, body });
}

suite.sessionProperty("fuzz: messages posted to a legacy SSE session", {
  ciRuns: 150,
  arb: arbSseCase,
  context: "legacy SSE case",
  run: async (c, v) => {
    const s = new SseStream(d.port, v);
    try {
      if (!(await s.until(() => s.endpoint !== undefined || s.ended))) v.add("hang", "GET /sse announced no endpoint within the bound");
      if (s.endpoint) await runPosts(s, s.endpoint, c, v);
      else v.add("setup", `GET /sse answered ${s.status} without an endpoint event`);
    } finally {
      s.close();
    }
    return { after: "the SSE stream closed" };
  },
  examples: [
    // issue 8, defect 5: a deep-nested body on /messages hung its request forever
    { init: "initialized", posts: [{ body: { k: "deep", depth: 100_000, at: "root" }, ct: "json", session: "own" }] },
    // issue 8: JSON that is not JSON-RPC answered a plain-text 400 on /messages
    { init: "initialized", posts: [{ body: { k: "json", v: {} }, ct: "json", session: "own" }] },
  ],
});

async function runPosts(s: SseStream, endpoint: string, c: SseCase, v: Violations): Promise<void> {
  const pending = new Map<string, { sent: Obj; where: string }>();
  if (c.init !== "none") {
    const r = await post(endpoint, JSON.stringify({ ...INIT_MESSAGE, id: "\u0001init" }), "application/json");
    if (r.status !== 202) v.add("setup", `initialize posted to ${endpoint} answered ${r.status ?? r.error}: ${clip(r.body)}`);
    else if (!(await s.until(() => s.replies().some((m) => m.id === "\u0001init")))) v.add("hang", "no reply to initialize on the stream");
    if (c.init === "initialized") await post(endpoint, JSON.stringify(INITIALIZED_NOTIFICATION), "application/json");
  }
  const unknownPath = endpoint.replace(/sessionId=[^&]*/, "sessionId=00000000-0000-4000-8000-000000000000");
  const usedIds = new Set<string>();
  for (const [i, p] of c.posts.entries()) {
    // ids unique within the case, so every reply on the stream belongs to one post
    const built = buildBody(p.body, `\u0002${i}`);
    const asSent = parseBody(built);
    const unique = asSent.ok ? uniquifyAll(asSent.value, i, usedIds) : undefined;
    const body = asSent.ok && unique !== asSent.value ? JSON.stringify(unique) : built;
    const path = p.session === "own" ? endpoint : p.session === "unknown" ? unknownPath : "/messages";
    const ct = CT[p.ct];
    const r = await post(path, body, ct);
    const where = `POST ${p.session === "own" ? "/messages?sessionId=<own>" : path} (${ct ?? "no content type"}) ${clip(typeof body === "string" ? body : `<${body.length} bytes>`, 300)}`;
    trace(`${where} → ${r.status ?? r.error} ${clip(r.body, 200)}`);
    if (r.status === undefined) {
      v.add("hang", `${where}: ${r.error}`);
      if (!(await d.checkAlive())) return;
      continue;
    }
    checkStatusClass(r.status, r.headers, v, where, r.body);
    const parsed = parseBody(body);
    const size = typeof body === "string" ? Buffer.byteLength(body) : body.length;
    const isJsonRpcBody = String(r.headers["content-type"] ?? "").startsWith("application/json");
    let refusal: unknown;
    if (r.status >= 400) {
      if (!isJsonRpcBody) v.add("error-body", `${where} → ${r.status} ${r.headers["content-type"] ?? "(no content type)"}: refusals on /messages should be JSON-RPC errors like on /mcp: ${clip(r.body)}`);
      else {
        try {
          refusal = JSON.parse(r.body);
          for (const problem of shapeProblems(refusal)) v.add("shape", `${where} → ${r.status}: ${problem}`);
        } catch {
          v.add("shape", `${where} → ${r.status}: JSON content type, body not JSON: ${clip(r.body)}`);
        }
      }
    }
    if (p.session === "unknown" && r.status !== 404) v.add("status", `${where}: unknown session answered ${r.status}, expected 404`);
    if (p.session !== "own") continue;
    if (ct === undefined || ct === "text/plain") {
      if (r.status !== 415) v.add("status", `${where}: wrong content type answered ${r.status}, expected 415`);
      continue;
    }
    if (size > MAX_BODY) {
      if (r.status !== 413) v.add("status", `${where}: ${size} bytes (limit ${MAX_BODY}) answered ${r.status}, expected 413`);
      continue;
    }
    if (!parsed.ok) {
      if (r.status !== 400) v.add("parse", `${where}: a body that is not JSON answered ${r.status}, expected 400`);
      else if (refusal !== undefined && errorCodeOf(refusal) !== -32700) v.add("parse-error-code", `${where}: a body that is not JSON got ${clip(refusal)}, expected -32700`);
    } else {
      const list = Array.isArray(parsed.value) ? parsed.value : [parsed.value];
      const kinds = list.map(classifyMessage);
      const wellFormed = list.length > 0 && kinds.every((k) => k === "request" || k === "notification" || k === "response");
      if (r.status === 202) {
        for (const m of list) {
          const id = replyIdOf(m);
          if (id !== undefined && classifyMessage(m) !== "response") {
            pending.set(idKey(id), { sent: m as Obj, where });
          }
        }
      } else if (r.status === 400) {
        if (wellFormed && !Array.isArray(parsed.value)) v.add("refused-valid", `${where}: a well-formed JSON-RPC message was refused: ${clip(r.body)}`);
        else if (refusal !== undefined) checkInvalidRefusal(parsed.value, refusal, v, where);
        if (refusal !== undefined && errorCodeOf(refusal) === -32700) v.add("parse-error-code", `${where}: -32700 for a body that is valid JSON`);
      } else if (r.status !== 413) v.add("status", `${where}: answered ${r.status}`);
    }
    // the session must still work: a ping after each post is answered on the stream
    const sentinel = `${SENTINEL}${i}`;
    const pr = await post(endpoint, JSON.stringify({ jsonrpc: "2.0", id: sentinel, method: "ping" }), "application/json");
    if (pr.status !== 202) {
      v.add("hang", `${where}: a ping posted after it answered ${pr.status ?? pr.error}: ${clip(pr.body)}`);
      break;
    }
    if (!(await s.until(() => s.ended || s.replies().some((m) => m.id === sentinel)))) {
      v.add("hang", `${where}: a ping posted after it got no reply on the stream within ${HANG_BOUND_MS} ms`);
      break;
    }
    if (s.ended) {
      v.add("sse-closed", `${where}: the server ended the SSE stream`);
      break;
    }
  }
  await s.until(() => s.ended || [...pending.keys()].every((k) => s.replies().some((m) => idKey(m.id) === k)));
  const replies = s.replies();
  for (const [k, { sent, where }] of pending) {
    const matching = replies.filter((m) => idKey(m.id) === k);
    if (matching.length === 0) v.add("id-echo", `${where}: accepted (202) but no reply with id ${k} on the stream within ${HANG_BOUND_MS} ms`);
    else {
      if (matching.length > 1) v.add("id-echo", `${where}: ${matching.length} replies with id ${k}`);
      checkReply(sent, matching[0], v, where);
    }
  }
  for (const m of s.messages) for (const problem of shapeProblems(m)) v.add("shape", `on the stream: ${problem}: ${clip(m)}`);
  for (const m of replies) {
    if (m.id === null || (typeof m.id === "string" && (m.id.startsWith(SENTINEL) || m.id === "\u0001init"))) continue;
    if (!pending.has(idKey(m.id))) v.add("id-echo", `a reply on the stream with an id nobody sent (or sent twice): ${clip(m)}`);
  }
}

suite.finalTest("after fuzzing /sse: alive, healthy, no sessions left, clean stderr", "end of /sse fuzzing");
