/**
 * Fuzzing the WebSocket endpoint (`/ws`, subprotocol `mcp`) of a real token-protected
 * daemon: generated upgrade requests (Host, Origin, credentials incl. malformed cookies,
 * Upgrade/Sec-WebSocket-* headers, paths) and generated frames on an open connection
 * (JSON-RPC messages, junk text, binary, oversize, invalid UTF-8, fragments, deep nesting).
 *
 * Invariants, after every case (and shrink step):
 * - the daemon process is alive;
 * - an upgrade request gets a status line within the hang bound; 101 only for /ws with the
 *   `mcp` subprotocol and acceptable Host/Origin/credentials; foreign Host/Origin 403,
 *   bad credentials 401, never 5xx (503 only with Retry-After); a clean request is accepted;
 * - on a connection: every text frame that is a request with an id gets exactly one reply
 *   with that id; invalid JSON gets a -32700 error frame with id null, JSON that is not
 *   JSON-RPC a -32600 one, and the connection stays usable (a ping sent after each frame is
 *   answered within the bound); a binary frame closes with 1003, an oversize one with 1009,
 *   invalid UTF-8 with 1007; every message has `jsonrpc: "2.0"` and a result object or an
 *   error with an integer code; unknown methods -32601; nothing -32603;
 * - the open-session count is back where it was once the connection is closed.
 * At the end: `/healthz` 200, no sessions left, clean stderr (no uncaught errors, unhandled
 * rejections, MaxListenersExceededWarning or other Node warnings).
 *
 * `npm test`: fixed seed, bounded runs; `npm run fuzz`: long, random seed printed (replay
 * with FUZZ_SEED=…; see test/helpers/fuzz-harness.ts).
 */
import fc from "fast-check";
import WebSocket from "ws";
import { FUZZ_TOKEN, HANG_BOUND_MS, Violations, clip, trace } from "./helpers/fuzz-harness.ts";
import { FuzzSuite, Inbox } from "./helpers/fuzz-suite.ts";
import { CLEAN_HEADERS, INIT_MESSAGE, INITIALIZED_NOTIFICATION, META_2026, with2026Meta, arbBody, arbHeaders, arbRawHeader, buildBody, buildHeaders, headerValue, parseBody, uniquify, type BodySpec, type HeaderSpecs } from "./helpers/fuzz-arbitraries.ts";
import { checkHeaderAnswer, checkInvalidRefusal, checkReply, classifyMessage, errorCodeOf, idKey, isPlainObject, replyIdOf, shapeProblems, type Obj } from "./helpers/fuzz-oracle.ts";

const MAX_FRAME = 256 * 1024;
const suite = new FuzzSuite("ws", { token: FUZZ_TOKEN, env: { PATCHBAY_MAX_BODY_BYTES: String(MAX_FRAME) } });
const d = suite.d;

// ---- upgrade requests ---------------------------------------------------------------------

type UpgradeCase = {
  path: string;
  headers: HeaderSpecs;
  upgrade: "websocket" | "WebSocket" | "h2c" | "absent" | { raw: string };
  version: "13" | "8" | "absent" | { raw: string };
  key: "valid" | "short" | "absent" | { raw: string };
  protocol: "mcp" | "mcp-and-other" | "other" | "absent" | "MCP" | { raw: string };
};

const arbUpgradeCase: fc.Arbitrary<UpgradeCase> = fc.record({
  path: fc.oneof({ weight: 6, arbitrary: fc.constant("/ws") }, { weight: 2, arbitrary: fc.constantFrom("/ws?via=stdio-bridge", "/mcp", "/healthz", "/nope", "/ws/", "/WS", "/ws?token=x") }),
  headers: arbHeaders,
  upgrade: fc.oneof({ weight: 6, arbitrary: fc.constant<UpgradeCase["upgrade"]>("websocket") }, { weight: 1, arbitrary: fc.constantFrom<UpgradeCase["upgrade"]>("WebSocket", "h2c", "absent") }, { weight: 1, arbitrary: arbRawHeader }),
  version: fc.oneof({ weight: 6, arbitrary: fc.constant<UpgradeCase["version"]>("13") }, { weight: 1, arbitrary: fc.constantFrom<UpgradeCase["version"]>("8", "absent") }, { weight: 1, arbitrary: arbRawHeader }),
  key: fc.oneof({ weight: 6, arbitrary: fc.constant<UpgradeCase["key"]>("valid") }, { weight: 1, arbitrary: fc.constantFrom<UpgradeCase["key"]>("short", "absent") }, { weight: 1, arbitrary: arbRawHeader }),
  protocol: fc.oneof({ weight: 5, arbitrary: fc.constant<UpgradeCase["protocol"]>("mcp") }, { weight: 2, arbitrary: fc.constantFrom<UpgradeCase["protocol"]>("mcp-and-other", "other", "absent", "MCP") }, { weight: 1, arbitrary: arbRawHeader }),
});

function upgradeHeaders(c: UpgradeCase, base: Record<string, string | string[]>): Record<string, string | string[]> {
  const h: Record<string, string | string[]> = { ...base };
  for (const k of ["accept", "content-type", "mcp-session-id", "mcp-protocol-version"]) delete h[k];
  const upgrade = headerValue(c.upgrade, { websocket: "websocket", WebSocket: "WebSocket", h2c: "h2c", absent: undefined });
  if (upgrade !== undefined) {
    h.upgrade = upgrade;
    h.connection = "Upgrade";
  }
  const version = headerValue(c.version, { "13": "13", "8": "8", absent: undefined });
  if (version !== undefined) h["sec-websocket-version"] = version;
  const key = headerValue(c.key, { valid: "dGhlIHNhbXBsZSBub25jZQ==", short: "c2hvcnQ=", absent: undefined });
  if (key !== undefined) h["sec-websocket-key"] = key;
  const protocol = headerValue(c.protocol, { mcp: "mcp", "mcp-and-other": "other, mcp", other: "other", absent: undefined, MCP: "MCP" });
  if (protocol !== undefined) h["sec-websocket-protocol"] = protocol;
  return h;
}

const CLEAN_UPGRADE: Omit<UpgradeCase, "headers" | "path"> = { upgrade: "websocket", version: "13", key: "valid", protocol: "mcp" };

suite.sessionProperty("fuzz: WebSocket upgrade requests", {
  ciRuns: 150,
  arb: arbUpgradeCase,
  context: "upgrade case",
  run: async (c, v) => {
    const built = buildHeaders(c.headers, { port: d.port, token: FUZZ_TOKEN });
    const headers = upgradeHeaders(c, built.headers);
    const where = `GET ${c.path} with ${clip(headers, 600)}`;
    const r = await d.raw({ method: "GET", path: c.path, headers, setHost: built.setHost });
    trace(`${where} → ${r.status ?? r.error}`);
    if (r.error?.startsWith("client refused")) return;
    if (r.status === undefined) {
      if (await d.checkAlive()) v.add("hang", `${where}: ${r.error}`);
    } else {
      const { url, exp } = checkHeaderAnswer(r.status, r, { headers, path: c.path, token: FUZZ_TOKEN }, v, where);
      const offered = String(headers["sec-websocket-protocol"] ?? "").split(",").map((s) => s.trim());
      const wsHeadersOk = c.upgrade === "websocket" && c.version === "13" && c.key === "valid";
      if (r.status === 101) {
        if (url.pathname !== "/ws") v.add("upgrade", `${where}: upgraded on ${url.pathname}`);
        if (!offered.includes("mcp")) v.add("upgrade", `${where}: upgraded without the mcp subprotocol`);
        if (r.headers["sec-websocket-protocol"] !== "mcp") v.add("upgrade", `${where}: 101 with subprotocol ${clip(r.headers["sec-websocket-protocol"])}`);
      } else if (exp.clean && url.pathname === "/ws" && wsHeadersOk && offered.includes("mcp")) {
        v.add("upgrade", `${where}: a clean upgrade was refused with ${r.status}: ${clip(r.body)}`);
      }
    }
    return { after: "the upgrade's socket closed", detail: where, crashed: where };
  },
  examples: [
    // issue 8, defect 1: one unauthenticated upgrade with a malformed cookie killed the daemon
    { path: "/ws", headers: { ...CLEAN_HEADERS, auth: "absent", cookie: "percent" }, ...CLEAN_UPGRADE },
    { path: "/nope", headers: { ...CLEAN_HEADERS, auth: "absent", cookie: "bad-escape" }, ...CLEAN_UPGRADE, upgrade: "h2c" },
  ],
});

// ---- frames on an open connection ---------------------------------------------------------

type FrameSpec = BodySpec | { k: "binary"; b: number[] } | { k: "badutf8" } | { k: "fragments"; v: unknown; parts: number } | { k: "wsping" };

const arbFrame: fc.Arbitrary<FrameSpec> = fc.oneof(
  { weight: 20, arbitrary: arbBody as fc.Arbitrary<FrameSpec> },
  { weight: 1, arbitrary: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 16 }).map((b) => ({ k: "binary" as const, b })) },
  { weight: 1, arbitrary: fc.constant<FrameSpec>({ k: "badutf8" }) },
  { weight: 1, arbitrary: fc.integer({ min: 2, max: 5 }).map((parts) => ({ k: "fragments" as const, v: { jsonrpc: "2.0", id: "frag", method: "tools/list" }, parts })) },
  { weight: 1, arbitrary: fc.constant<FrameSpec>({ k: "wsping" }) },
);

/** "discover": a 2026-07-28 connection (server/discover first; every request carries the _meta envelope). */
type WsCase = { init: "none" | "initialize" | "initialized" | "discover"; frames: FrameSpec[] };
const arbWsCase: fc.Arbitrary<WsCase> = fc.record({
  init: fc.oneof({ weight: 4, arbitrary: fc.constant<WsCase["init"]>("initialized") }, { weight: 1, arbitrary: fc.constantFrom<WsCase["init"]>("none", "initialize", "discover") }),
  frames: fc.array(arbFrame, { minLength: 1, maxLength: 6 }),
});

/** One WebSocket connection that records what it receives. */
class WsProbe extends Inbox {
  closed?: { code: number; reason: string };
  constructor(readonly ws: WebSocket, v: Violations) {
    super();
    ws.on("message", (data, isBinary) => {
      if (isBinary) v.add("shape", `the server sent a binary frame (${clip(String(data))})`);
      try {
        this.messages.push(JSON.parse(String(data)));
      } catch {
        v.add("shape", `a frame that is not JSON: ${clip(String(data))}`);
      }
      this.wake();
    });
    ws.on("close", (code, reason) => {
      this.closed = { code, reason: String(reason) };
      this.wake();
    });
    ws.on("error", () => this.wake());
  }
  /** (a method, so TypeScript does not narrow it across awaits) */
  closeInfo(): { code: number; reason: string } | undefined {
    return this.closed;
  }
}

async function openWs(v: Violations): Promise<WsProbe | undefined> {
  const ws = new WebSocket(`ws://127.0.0.1:${d.port}/ws`, ["mcp"], { headers: d.authHeaders(), maxPayload: 64 * 1024 * 1024 });
  const probe = new WsProbe(ws, v);
  const opened = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), HANG_BOUND_MS);
    ws.once("open", () => (clearTimeout(timer), resolve(true)));
    ws.once("error", (err) => (clearTimeout(timer), v.add("ws-open", `a clean WebSocket could not open: ${err.message}`), resolve(false)));
    ws.once("unexpected-response", (_req, res) => (clearTimeout(timer), v.add("ws-open", `a clean WebSocket was refused with ${res.statusCode}`), resolve(false)));
  });
  if (!opened) {
    ws.terminate();
    return undefined;
  }
  return probe;
}

const SENTINEL = "\u0001sentinel-";

suite.sessionProperty("fuzz: frames on a WebSocket session", {
  ciRuns: 150,
  arb: arbWsCase,
  context: "WebSocket frames case",
  run: async (c, v) => {
    const p = await openWs(v);
    if (p) {
      try {
        await runFrames(p, c, v);
        if (!p.closeInfo()) {
          p.ws.close(1000);
          if (!(await p.until(() => !!p.closed))) v.add("hang", "the server did not complete a client's close handshake");
        }
      } finally {
        if (!p.closeInfo()) p.ws.terminate();
      }
    }
    return { after: "the WebSocket closed" };
  },
  examples: [{ init: "initialized", frames: [{ k: "deep", depth: 100_000, at: "root" }, { k: "deep", depth: 100_000, at: "arguments" }] }],
});

async function runFrames(p: WsProbe, c: WsCase, v: Violations): Promise<void> {
  const usedIds = new Set<string>();
  /** replies still owed: id key → what was sent */
  const pending = new Map<string, { sent: unknown; where: string }>();
  /** a sent message that must get a reply with its id (requests, and refusable messages that carry an id) */
  const queue = (m: unknown, where: string) => {
    const id = replyIdOf(m);
    if (id !== undefined && classifyMessage(m) !== "response") pending.set(idKey(id), { sent: m, where });
  };
  const era2026 = c.init === "discover";
  if (era2026) {
    p.ws.send(JSON.stringify({ jsonrpc: "2.0", id: "\u0001init", method: "server/discover", params: { _meta: META_2026 } }));
    if (!(await p.until(() => p.replies().some((m) => m.id === "\u0001init")))) v.add("hang", "no reply to server/discover");
  } else if (c.init !== "none") {
    p.ws.send(JSON.stringify({ ...INIT_MESSAGE, id: "\u0001init" }));
    if (!(await p.until(() => p.replies().some((m) => m.id === "\u0001init")))) v.add("hang", "no reply to initialize");
    if (c.init === "initialized") p.ws.send(JSON.stringify(INITIALIZED_NOTIFICATION));
  }
  for (const [i, frame] of c.frames.entries()) {
    if (p.closed) break;
    const mark = p.messages.length;
    const where = `frame ${i}`;
    let expectClose: number | undefined;
    let sent: unknown;
    let parsedOk = true;
    let text: string | undefined;
    switch (frame.k) {
      case "binary":
        p.ws.send(Buffer.from(frame.b), { binary: true });
        expectClose = 1003;
        break;
      case "badutf8":
        p.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
        expectClose = 1007;
        break;
      case "wsping":
        p.ws.ping();
        break;
      case "fragments": {
        const whole = JSON.stringify(uniquify(frame.v, i, usedIds));
        sent = JSON.parse(whole);
        const size = Math.ceil(whole.length / frame.parts);
        for (let k = 0; k < whole.length; k += size) p.ws.send(whole.slice(k, k + size), { fin: k + size >= whole.length });
        break;
      }
      default: {
        const built = buildBody(frame, `\u0002${i}`);
        const parsed = parseBody(built);
        if (parsed.ok) {
          const candidate = era2026 ? with2026Meta(uniquify(parsed.value, i, usedIds)) : uniquify(parsed.value, i, usedIds);
          try {
            text = candidate === parsed.value && typeof built === "string" ? built : JSON.stringify(candidate);
            sent = candidate;
          } catch {
            // too deep for JSON.stringify: send it as generated
            sent = parsed.value;
            text = typeof built === "string" ? built : undefined;
          }
        } else {
          parsedOk = false;
          text = typeof built === "string" ? built : undefined;
        }
        const bytes = text !== undefined ? Buffer.byteLength(text) : (built as Buffer).length;
        if (bytes > MAX_FRAME) expectClose = 1009;
        if (text !== undefined) p.ws.send(text);
        else {
          // not valid UTF-8: a text frame must be valid UTF-8, so the server closes with 1007
          const raw = built as Buffer;
          const validUtf8 = (() => {
            try {
              new TextDecoder("utf-8", { fatal: true }).decode(raw);
              return true;
            } catch {
              return false;
            }
          })();
          if (!validUtf8) expectClose = 1007;
          p.ws.send(raw, { binary: false });
        }
      }
    }
    const show = `${where} ${frame.k === "json" || frame.k === "batch" ? clip(sent, 300) : clip(frame, 200)}`;
    if (expectClose !== undefined) {
      const ok = await p.until(() => !!p.closed);
      if (!ok) v.add("ws-close", `${show}: the connection should close with ${expectClose}, it stayed open`);
      else if (p.closed!.code !== expectClose) v.add("ws-close", `${show}: closed with ${p.closed!.code} ${p.closed!.reason}, expected ${expectClose}`);
      break;
    }
    // After each frame, a ping must be answered: the connection is still usable and every
    // synchronous refusal of the frame has arrived before it.
    const sentinel = `${SENTINEL}${i}`;
    p.ws.send(JSON.stringify({ jsonrpc: "2.0", id: sentinel, method: "ping", ...(era2026 ? { params: { _meta: META_2026 } } : {}) }));
    const pinged = await p.until(() => !!p.closed || p.replies().some((m) => m.id === sentinel));
    const closedNow = p.closeInfo();
    if (closedNow) {
      v.add("ws-close", `${show}: the server closed the connection (${closedNow.code} ${closedNow.reason}) after a text frame`);
      break;
    }
    if (!pinged) {
      v.add("hang", `${show}: a ping sent after this frame got no reply within ${HANG_BOUND_MS} ms`);
      break;
    }
    const window = p.messages.slice(mark).filter((m): m is Obj => isPlainObject(m) && !("method" in m) && m.id !== sentinel);
    const nullErrors = window.filter((m) => m.id === null);
    if (frame.k === "wsping") continue;
    if (!parsedOk) {
      if (!nullErrors.some((m) => errorCodeOf(m) === -32700)) v.add("parse-error-code", `${show}: a frame that is not JSON got no -32700 error with id null (got ${clip(window)})`);
      continue;
    }
    const list = Array.isArray(sent) ? sent : [sent];
    if (Array.isArray(sent)) {
      // one message per frame: a batch is refused as a whole, or (if supported) answered per request
      if (nullErrors.length) checkInvalidRefusal(sent, nullErrors[0], v, show);
      else for (const m of list) queue(m, show);
      continue;
    }
    const kind = classifyMessage(sent);
    if (kind === "invalid") {
      const id = replyIdOf(sent) ?? (isPlainObject(sent) && (typeof sent.id === "string" || typeof sent.id === "number") ? sent.id : undefined);
      const refusal = window.find((m) => m.id === null || (id !== undefined && m.id === id));
      if (refusal) {
        checkInvalidRefusal(sent, refusal, v, show);
        if (id !== undefined) usedIds.add(idKey(id));
      } else if (id !== undefined) pending.set(idKey(id), { sent, where: show });
      else v.add("invalid-request-code", `${show}: JSON that is not JSON-RPC got no error reply (got ${clip(window)})`);
      continue;
    }
    queue(sent, show);
  }
  // every reply still owed must come within the bound
  await p.until(() => !!p.closed || [...pending.keys()].every((k) => p.replies().some((m) => idKey(m.id) === k)));
  const replies = p.replies();
  for (const [k, { sent, where }] of pending) {
    const matching = replies.filter((m) => idKey(m.id) === k);
    if (matching.length === 0) {
      if (!p.closed) v.add("id-echo", `${where}: no reply with id ${k} within ${HANG_BOUND_MS} ms`);
      continue;
    }
    if (matching.length > 1) v.add("id-echo", `${where}: ${matching.length} replies with id ${k}: ${clip(matching)}`);
    if (classifyMessage(sent) === "invalid") checkInvalidRefusal(sent, matching[0], v, where);
    else if (isPlainObject(sent)) checkReply(sent, matching[0], v, where);
  }
  for (const m of p.messages) for (const problem of shapeProblems(m)) v.add("shape", `${problem}: ${clip(m)}`);
  const sentKeys = new Set([...pending.keys(), ...usedIds, idKey("\u0001init")]);
  for (const m of replies) {
    if (m.id === null || (typeof m.id === "string" && m.id.startsWith(SENTINEL))) continue;
    if (!sentKeys.has(idKey(m.id))) v.add("id-echo", `a reply with an id nobody sent: ${clip(m)}`);
  }
}

suite.finalTest("after fuzzing /ws: alive, healthy, no sessions left, clean stderr", "end of /ws fuzzing");
