/**
 * A call through patchbay__call_tool is the real tool's call everywhere Patchbay keeps
 * account: the audit line, the span (named after the real tool, with the result's size), the
 * dashboard's tool row (calls, errors, result sizes) and the rate limit — exactly as a direct
 * call of that tool.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { TempDir, waitFor } from "./helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "./helpers/daemon.ts";
import { httpClient, textOf, type RecordingClient } from "./helpers/clients.ts";

const CALL = "patchbay__call_tool";
const LIMIT = 6;

const home = new TempDir("patchbay-ctx-account-home-");
const plugins = new TempDir("patchbay-ctx-account-plugins-");
const logs = new TempDir("patchbay-ctx-account-logs-");
const auditFile = logs.join("audit.log");
plugins.file(
  "kit.mjs",
  `let started = 0, aborted = 0;
export default { name: "kit", tools: {
  echo: { input: { type: "object", properties: { text: { type: "string" } }, required: ["text"] }, handler: ({ text }) => ({ echoed: text.toUpperCase() }) },
  fail: { handler: () => { throw new Error("kit failed on purpose"); } },
  hang: { handler: async (_a, ctx) => { started++; await new Promise((r) => ctx.signal.addEventListener("abort", r)); aborted++; return "ended"; } },
  state: { handler: () => ({ started, aborted }) },
} };\n`,
);

let d: RunningDaemon;
const open: RecordingClient[] = [];

before(async () => {
  d = await startDaemonProcess({ plugins: plugins.path, home: home.path, env: { PATCHBAY_EXPOSE: "search", PATCHBAY_AUDIT_FILE: auditFile, PATCHBAY_RATE_LIMIT_PER_MINUTE: String(LIMIT) } });
});

after(async () => {
  for (const c of open) await c.close().catch(() => undefined);
  await d?.stop();
  plugins.cleanup();
  logs.cleanup();
  home.cleanup();
});

async function client(name: string) {
  const c = await httpClient(d.url, { name });
  open.push(c);
  return c;
}

const auditLines = () => (existsSync(auditFile) ? readFileSync(auditFile, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)) : []);
/** What result-size.ts measures: text characters plus the structured content's JSON. */
const sizeOf = (r: any) => (r.content ?? []).reduce((n: number, p: any) => n + (p.text?.length ?? 0), 0) + (r.structuredContent === undefined ? 0 : JSON.stringify(r.structuredContent).length);

test("audit line, span, dashboard row: a call through call_tool is accounted as the real tool's, as a direct call is", async () => {
  const c = await client("accountant");
  const via = await c.client.callTool({ name: CALL, arguments: { name: "kit__echo", arguments: { text: "hi" } } });
  const direct = await c.client.callTool({ name: "kit__echo", arguments: { text: "hi" } });
  assert.deepEqual(via, direct);
  const viaFail = await c.client.callTool({ name: CALL, arguments: { name: "kit__fail", arguments: {} } });
  assert.equal(viaFail.isError, true);
  const unknown = await c.client.callTool({ name: CALL, arguments: { name: "kit__nothing", arguments: {} } });
  assert.equal(unknown.isError, true);

  // the audit log: one line per call, the real tool's name, the same outcome as the direct call
  const lines = await waitFor("four audit lines", () => (auditLines().length >= 4 ? auditLines() : undefined));
  const strip = ({ durationMs: _d, time: _t, ...rest }: any) => rest;
  assert.deepEqual(
    lines.map((l) => [l.name, l.outcome]),
    [
      ["kit__echo", "ok"],
      ["kit__echo", "ok"],
      ["kit__fail", lines[2].outcome],
      [CALL, lines[3].outcome],
    ],
  );
  assert.deepEqual(strip(lines[0]), strip(lines[1]), "the audit line of a call through call_tool is the direct call's");
  assert.equal(lines[2].outcome, "error");

  // the spans: named after the real tool, with the result's size; the one through call_tool says so
  const size = sizeOf(direct);
  const spans = await waitFor("the two kit__echo spans", async () => {
    const traces = (await (await fetch(`${d.url}/api/traces?limit=50`)).json()) as any[];
    const all = traces.flatMap((t) => t.spans).filter((s: any) => s.origin === "host" && s.attributes["gen_ai.tool.name"] === "kit__echo");
    return all.length >= 2 ? all : undefined;
  });
  assert.equal(new Set(spans.map((s: any) => s.name)).size, 1, JSON.stringify(spans.map((s: any) => s.name)));
  assert.match(spans[0].name, /kit__echo/);
  for (const s of spans) {
    assert.equal(s.attributes["patchbay.result.size"], size, JSON.stringify(s.attributes));
    assert.equal(s.attributes["patchbay.plugin.name"], "kit");
  }
  assert.deepEqual(spans.map((s: any) => s.attributes["patchbay.call.via"]).sort(), [CALL, undefined].sort());

  // the dashboard's tool rows: the real tool's, counting both calls and their result sizes
  const rows = await waitFor("the dashboard rows", async () => {
    const o = await (await fetch(`${d.url}/api/overview`)).json();
    const echo = o.tools.find((t: any) => t.name === "kit__echo");
    return echo?.calls === 2 ? o.tools : undefined;
  });
  const echo = rows.find((t: any) => t.name === "kit__echo");
  assert.equal(echo.errors, 0);
  assert.equal(echo.resultBytesP50, size);
  assert.equal(echo.resultTokensP50, Math.ceil(size / 4));
  const fail = rows.find((t: any) => t.name === "kit__fail");
  assert.equal(fail.calls, 1);
  assert.equal(fail.errors, 1);
  // call_tool's own row counts only the call that reached no tool
  const own = rows.find((t: any) => t.name === CALL);
  assert.equal(own?.calls, 1, JSON.stringify(own));
  assert.equal(own.plugin, "patchbay");
});

test("the rate limit counts a call through call_tool as a call, and refuses it as it refuses a direct one", async () => {
  const c = await client("limited");
  for (let i = 0; i < LIMIT; i++) {
    const r = i % 2 ? await c.client.callTool({ name: "kit__echo", arguments: { text: "x" } }) : await c.client.callTool({ name: CALL, arguments: { name: "kit__echo", arguments: { text: "x" } } });
    assert.ok(!r.isError, textOf(r));
  }
  const refusal = (p: Promise<unknown>) =>
    p.then(
      (r) => assert.fail(`not refused: ${JSON.stringify(r)}`),
      (e: any) => ({ code: e.code, message: e.message }),
    );
  const viaRefused = await refusal(c.client.callTool({ name: CALL, arguments: { name: "kit__echo", arguments: { text: "x" } } }));
  const directRefused = await refusal(c.client.callTool({ name: "kit__echo", arguments: { text: "x" } }));
  assert.deepEqual(viaRefused, directRefused);
  assert.match(directRefused.message, new RegExp(`at most ${LIMIT} calls per minute`));
});

test("cancelling a call through call_tool cancels the real tool's run, as for a direct call", async () => {
  const c = await client("canceller");
  // asked on a session of its own each time: the canceller's session has a rate limit to keep
  const state = async () => {
    const probe = await httpClient(d.url, { name: "probe" });
    try {
      return (await probe.client.callTool({ name: "kit__state", arguments: {} })).structuredContent as { started: number; aborted: number };
    } finally {
      await probe.close();
    }
  };
  const s0 = await state();
  for (const [how, params] of [
    ["via call_tool", { name: CALL, arguments: { name: "kit__hang", arguments: {} } }],
    ["direct", { name: "kit__hang", arguments: {} }],
  ] as const) {
    const ac = new AbortController();
    const pending = c.client.callTool(params, undefined, { signal: ac.signal });
    const running = await waitFor(`${how}: the tool running`, async () => ((await state()).started > s0.started + (how === "direct" ? 1 : 0) ? true : undefined), 30_000, 100);
    assert.ok(running);
    ac.abort("changed my mind");
    await assert.rejects(pending);
    await waitFor(`${how}: the tool's signal aborted`, async () => ((await state()).aborted > s0.aborted + (how === "direct" ? 1 : 0) ? true : undefined), 30_000, 100);
  }
});
