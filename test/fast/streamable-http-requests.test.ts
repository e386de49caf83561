/**
 * Raw requests on a Streamable HTTP session: what is not a JSON-RPC message is -32600, bad
 * params are -32602 with a short message, and a request id still in flight cannot be
 * reused (the SDK transport would leave one of the two unanswered forever).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { TempDir, waitFor } from "../helpers/env.ts";
import { startInProcessDaemon, type InProcessDaemon } from "../helpers/in-process.ts";

const plugins = new TempDir("patchbay-reqs-");
let d: InProcessDaemon;
let session: string;
const ACCEPT = "application/json, text/event-stream";
const VERSION = "2025-11-25";

before(async () => {
  plugins.file(
    "gate.mjs",
    `let waiters = 0; let open; let gate = new Promise((r) => (open = r));
export default { name: "gate", tools: {
  wait: { handler: async () => { waiters++; await gate; waiters--; return "released"; } },
  waiting: { handler: () => String(waiters) },
  release: { handler: () => { open(); gate = new Promise((r) => (open = r)); return "ok"; } },
} };`,
  );
  d = await startInProcessDaemon({ plugins: plugins.path });
  const init = await post({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: VERSION, capabilities: {}, clientInfo: { name: "raw", version: "1" } } });
  session = init.headers.get("mcp-session-id")!;
  await readMessage(init);
  const initialized = await post({ jsonrpc: "2.0", method: "notifications/initialized" }, session);
  assert.equal(initialized.status, 202);
});
after(async () => {
  if (session) await fetch(`${d.url}/mcp`, { method: "DELETE", headers: { "mcp-session-id": session, "mcp-protocol-version": VERSION } }).catch(() => undefined);
  await d?.stop();
  plugins.cleanup();
});

function post(body: unknown, sessionId?: string, signal?: AbortSignal) {
  const headers: Record<string, string> = { accept: ACCEPT, "content-type": "application/json", "mcp-protocol-version": VERSION };
  if (sessionId) headers["mcp-session-id"] = sessionId;
  return fetch(`${d.url}/mcp`, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body), signal });
}

/** The one JSON-RPC message of a response, whether sent as JSON or as an SSE stream. */
async function readMessage(res: Response): Promise<any> {
  const text = await res.text();
  if (!String(res.headers.get("content-type")).startsWith("text/event-stream")) return JSON.parse(text);
  const data = text.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6));
  return JSON.parse(data.at(-1)!);
}

const callTool = (id: number | string, name: string, args: unknown = {}) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } });

test("JSON that is not a JSON-RPC message → 400 with -32600, with or without a session", async () => {
  for (const body of [{ foo: 1 }, { jsonrpc: "2.0" }, { jsonrpc: "1.0", id: 1, method: "ping" }, [], [{ jsonrpc: "2.0", id: 1, method: "ping" }, 5], "null", '"text"']) {
    for (const sid of [undefined, session]) {
      const r = await post(body, sid);
      assert.equal(r.status, 400, `${JSON.stringify(body)} with${sid ? "" : "out"} a session`);
      const msg = await r.json();
      assert.equal(msg.error.code, -32600, `${JSON.stringify(body)}: ${msg.error.message}`);
    }
  }
  // malformed JSON is still a parse error
  const r = await post("{ nope", session);
  assert.equal((await r.json()).error.code, -32700);
});

test("params that do not match the method's schema → -32602 with a short message", async () => {
  const cases: [unknown, RegExp][] = [
    [callTool(11, "gate__waiting", [1, 2]), /arguments/],
    [callTool(12, "gate__waiting", "text"), /arguments/],
    [{ jsonrpc: "2.0", id: 13, method: "tools/call", params: { arguments: {} } }, /name/],
    [{ jsonrpc: "2.0", id: 14, method: "resources/read", params: {} }, /uri/],
    [{ jsonrpc: "2.0", id: 15, method: "tools/list", params: { cursor: 5 } }, /cursor/],
    [{ jsonrpc: "2.0", id: 16, method: "logging/setLevel", params: { level: "loud" } }, /level/],
  ];
  for (const [body, field] of cases) {
    const r = await post(body, session);
    assert.equal(r.status, 200);
    const msg = await readMessage(r);
    assert.equal(msg.id, (body as { id: number }).id);
    assert.equal(msg.error.code, -32602, msg.error.message);
    assert.match(msg.error.message, /^Invalid params/);
    assert.match(msg.error.message, field);
    assert.ok(msg.error.message.length < 300 && !msg.error.message.includes("\n"), `short: ${msg.error.message}`);
  }
  // the session still works
  assert.equal((await readMessage(await post(callTool(17, "gate__waiting"), session))).result.content[0].text, "0");
});

test("a request id already in flight on the session is answered at once with -32600; both get an answer", async () => {
  const first = post(callTool(7, "gate__wait"), session);
  await waitFor("the first call in flight", async () => (await readMessage(await post(callTool(8, "gate__waiting"), session))).result.content[0].text === "1" || undefined);
  // without an answer this would hang; the signal only turns a hang into a failure
  const second = await post(callTool(7, "gate__waiting"), session, AbortSignal.timeout(20_000));
  assert.equal(second.status, 400);
  const dup = await second.json();
  assert.equal(dup.id, 7);
  assert.equal(dup.error.code, -32600);
  assert.match(dup.error.message, /duplicate request id in flight/);
  // "7" is another id than 7
  assert.equal((await readMessage(await post(callTool("7", "gate__waiting"), session))).result.content[0].text, "1");
  // a batch repeating an id within itself is refused too
  const batch = await post([callTool(20, "gate__waiting"), callTool(20, "gate__waiting")], session);
  assert.equal(batch.status, 400);
  assert.match((await batch.json()).error.message, /duplicate request id/);

  assert.equal((await readMessage(await post(callTool(9, "gate__release"), session))).result.content[0].text, "ok");
  const answered = await readMessage(await first);
  assert.equal(answered.id, 7);
  assert.equal(answered.result.content[0].text, "released");
  // once answered, the id may be used again
  assert.equal((await readMessage(await post(callTool(7, "gate__waiting"), session))).result.content[0].text, "0");
});

test("tool arguments nested 10,000 levels deep: 400 / -32600 with the request's id, and the session keeps working", async () => {
  const n = 10_000;
  // built as text: JSON.stringify would recurse as deep as the value
  const deep = `{"list":[${'{"a":'.repeat(n)}1${"}".repeat(n)}]}`;
  const body = `{"jsonrpc":"2.0","id":"deep","method":"tools/call","params":{"name":"gate__waiting","arguments":${deep}}}`;
  const res = await post(body, session);
  // refused by the transport, on every transport alike, before anything walks it
  assert.equal(res.status, 400);
  const msg = (await res.json()) as { id: unknown; error: { code: number; message: string } };
  assert.equal(msg.id, "deep");
  assert.equal(msg.error.code, -32600);
  assert.match(msg.error.message, /nested deeper than 256 levels/);
  const ok = await readMessage(await post(callTool("after", "gate__waiting"), session));
  assert.equal(ok.result.content[0].text, "0");
});
