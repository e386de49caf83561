/**
 * Telemetry state is bounded by what the operator loads, never by what clients send
 * (issue 8, defect 2): unknown tool/prompt names share one bucket on the dashboard and
 * `_OTHER` on metrics, a tool's stats go when its plugin does, and the dashboard's live
 * feed (`/api/events`) is capped and sends each stream only what changed. Against the real
 * daemon (in-process, test/helpers/in-process.ts) with the official SDK client.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { TempDir, waitFor } from "../helpers/env.ts";
import { startInProcessDaemon, type InProcessDaemon } from "../helpers/in-process.ts";
import { httpClient, type RecordingClient } from "../helpers/clients.ts";
import { boundedErrorType, boundedMethod, OTHER } from "../../daemon/telemetry/instrumentation.ts";
import { MAX_EVENT_STREAMS } from "../../daemon/dashboard-api.ts";

const plugins = new TempDir("patchbay-bounds-");
let d: InProcessDaemon;
let c: RecordingClient;

before(async () => {
  plugins.file(
    "keep.mjs",
    `export default {
  tools: { ping: { handler: () => "pong" } },
  prompts: { hi: { render: () => "hi" } },
  resourceTemplates: { "keep://item/{id}": { read: (uri) => "item " + uri } },
};
`,
  );
  plugins.file("gone.mjs", `export default { tools: { bye: { handler: () => "bye" } } };\n`);
  d = await startInProcessDaemon({ plugins: plugins.path });
  c = await httpClient(d.url, { name: "bounds-test", isolateAbort: true });
});
after(async () => {
  await c?.close();
  await d?.stop();
  plugins.cleanup();
});

const getJson = async (path: string) => (await fetch(`${d.url}${path}`)).json() as Promise<any>;
const toolNames = async () => ((await getJson("/api/overview")).tools as { name: string }[]).map((t) => t.name);
const random = (prefix: string, i: number) => `${prefix}${i}_${Math.random().toString(36).slice(2, 10)}`;

/** Runs `fn(i)` for i in [0, n) with a few in flight at once. */
async function pool(n: number, fn: (i: number) => Promise<unknown>, width = 16) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < n) await fn(next++);
  }));
}

test("metric attribute bounds: unknown methods and error types are _OTHER", () => {
  assert.equal(boundedMethod("tools/call"), "tools/call");
  assert.equal(boundedMethod("tools/call2"), OTHER);
  assert.equal(boundedMethod("x".repeat(10_000)), OTHER);
  for (const known of ["tool_error", "timeout", "cancelled", "-32602", "-32002", "-32768", "-32000"]) assert.equal(boundedErrorType(known), known);
  for (const other of ["-31999", "-32769", "-99999", "12", "boom", "tool_error2", "-32602 "]) assert.equal(boundedErrorType(other), OTHER, other);
});

test("500 unknown tool names, 20 unknown prompts, 20 template URIs: no series of their own on /metrics", async () => {
  for (let i = 0; i < 3; i++) await c.client.callTool({ name: "keep__ping", arguments: {} });
  await c.client.callTool({ name: "gone__bye", arguments: {} });
  await pool(500, (i) => assert.rejects(c.client.callTool({ name: random("rnd_tool_", i), arguments: {} })));
  await pool(20, (i) => assert.rejects(c.client.getPrompt({ name: random("rnd_prompt_", i) })));
  // template URIs are unbounded even when they are served
  await pool(20, (i) => c.client.readResource({ uri: `keep://item/${random("rnd_id_", i)}` }));
  await assert.rejects(c.client.callTool({ name: `rnd_long_${"x".repeat(100_000)}`, arguments: {} }));

  // the duration is recorded before the response is sent
  const metrics = await (await fetch(`${d.url}/metrics`)).text();
  const lines = metrics.split("\n").filter((l) => l.startsWith("mcp_server_operation_duration_count"));
  assert.ok(!metrics.includes("rnd_"), `client-chosen names in /metrics (${metrics.length} bytes): ${metrics.split("\n").filter((l) => l.includes("rnd_")).slice(0, 3).join("\n").slice(0, 500)}`);
  assert.ok(lines.some((l) => l.includes('gen_ai_tool_name="keep__ping"')), lines.join("\n"));
  const other = lines.find((l) => l.includes('gen_ai_tool_name="_OTHER"'));
  assert.equal(Number(other?.split(" ").at(-1)), 501, lines.join("\n"));
  assert.ok(lines.some((l) => l.includes('gen_ai_prompt_name="_OTHER"')), lines.join("\n"));
  assert.ok(lines.length < 20, `${lines.length} duration series:\n${lines.join("\n")}`);
});

test("the same calls on the dashboard: registry tools plus one (unknown) row; spans keep names, clipped", async () => {
  const overview = await waitFor("501 calls counted under (unknown)", async () => {
    const o = await getJson("/api/overview");
    return o.tools.find((t: any) => t.name === "(unknown)")?.calls === 501 ? o : undefined;
  }).catch(async (err) => {
    const names = await toolNames();
    throw new Error(`${err.message}; ${names.length} tool rows: ${names.slice(0, 5).map((n) => n.slice(0, 40)).join(", ")}…`);
  });
  assert.deepEqual(overview.tools.map((t: any) => t.name), ["gone__bye", "keep__ping", "(unknown)"]);
  assert.equal(overview.tools.find((t: any) => t.name === "keep__ping").calls, 3);
  assert.equal(overview.tools.find((t: any) => t.name === "(unknown)").errors, 501);
  assert.ok(JSON.stringify(overview).length < 20_000, `overview is ${JSON.stringify(overview).length} bytes`);
  assert.deepEqual(await getJson(`/api/series?tool=${random("rnd_tool_", 1)}`), []);
  assert.ok((await getJson("/api/series?tool=(unknown)")).length > 0);

  const traces = await getJson("/api/traces?limit=300");
  const longSpan = traces.map((t: any) => t.root).find((s: any) => String(s.attributes["gen_ai.tool.name"]).startsWith("rnd_long_"));
  assert.ok(longSpan, "the long-named call has a span");
  assert.ok(longSpan.attributes["gen_ai.tool.name"].length <= 256);
  assert.ok(longSpan.name.length <= 256);
});

test("deleting a plugin drops its tools' stats", async () => {
  assert.ok((await toolNames()).includes("gone__bye"));
  assert.ok((await getJson("/api/series?tool=gone__bye")).length > 0);
  rmSync(plugins.join("gone.mjs"));
  await waitFor("gone__bye unloaded", async () => !(await d.health()).plugins.some((p: any) => p.name === "gone") || undefined);
  assert.ok(!(await toolNames()).includes("gone__bye"), "an unloaded tool keeps a row");
  assert.deepEqual(await toolNames(), ["keep__ping", "(unknown)"]);
  assert.deepEqual(await getJson("/api/series?tool=gone__bye"), []);
  // a call to it now is a call to an unknown name
  await assert.rejects(c.client.callTool({ name: "gone__bye", arguments: {} }));
  await waitFor("counted as unknown", async () => (await getJson("/api/overview")).tools.find((t: any) => t.name === "(unknown)")?.calls === 502 || undefined);
  assert.deepEqual(await toolNames(), ["keep__ping", "(unknown)"]);
});

interface Stream {
  /** resolves with the next event, or undefined if none arrives within `ms` */
  next(ms: number): Promise<{ event: string; data: any } | undefined>;
  close(): void;
}

async function openStream(): Promise<Response & { stream?: Stream }> {
  const ac = new AbortController();
  const res = await fetch(`${d.url}/api/events`, { signal: ac.signal });
  if (res.status !== 200) return res;
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  const queue: { event: string; data: any }[] = [];
  let reading: Promise<void> | undefined;
  const pump = () =>
    (reading ??= reader.read().then(({ value, done }) => {
      reading = undefined;
      if (done) throw new Error("stream ended");
      buf += decoder.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (data !== undefined) queue.push({ event, data: JSON.parse(data) });
      }
    }));
  const stream: Stream = {
    async next(ms) {
      const deadline = Date.now() + ms;
      while (queue.length === 0) {
        const left = deadline - Date.now();
        if (left <= 0) return undefined;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([pump(), new Promise((r) => (timer = setTimeout(r, left)))]);
        clearTimeout(timer);
      }
      return queue.shift();
    },
    close: () => ac.abort(),
  };
  return Object.assign(res, { stream });
}

test("a live stream gets the whole overview first, then only the keys that changed", async () => {
  const res = await openStream();
  assert.equal(res.status, 200);
  const s = res.stream!;
  try {
    const first = await s.next(30_000);
    assert.equal(first?.event, "overview");
    for (const k of ["version", "uptimeSeconds", "telemetry", "pluginsDir", "plugins", "tools", "sessions", "conflicts"]) assert.ok(k in first!.data, `first event lacks ${k}`);
    // No traffic for a few ticks: whatever comes must not repeat the unchanged sections.
    const quiet: any[] = [];
    const until = Date.now() + 2_500;
    for (let e; (e = await s.next(until - Date.now())); ) if (e.event === "overview") quiet.push(e.data);
    for (const o of quiet) for (const k of ["version", "pluginsDir", "tools", "sessions", "conflicts"]) assert.ok(!(k in o), `unchanged "${k}" resent: ${JSON.stringify(o).slice(0, 300)}`);
    // a call changes the tools section, and only that is what carries it
    await c.client.callTool({ name: "keep__ping", arguments: {} });
    const changed = await waitFor("tools in an event", async () => {
      const e = await s.next(3_000);
      return e?.event === "overview" && e.data.tools ? e.data : undefined;
    });
    assert.equal(changed.tools.find((t: any) => t.name === "keep__ping").calls, 4);
    assert.ok(!("version" in changed) && !("conflicts" in changed));
  } finally {
    s.close();
  }
});

test(`at most ${MAX_EVENT_STREAMS} live streams; the next gets 503 + Retry-After until one closes`, async () => {
  const open: Stream[] = [];
  try {
    for (let i = 0; i < MAX_EVENT_STREAMS; i++) {
      const r = await openStream();
      assert.equal(r.status, 200, `stream ${i + 1}`);
      open.push(r.stream!);
    }
    const refused = await fetch(`${d.url}/api/events`);
    assert.equal(refused.status, 503);
    assert.ok(Number(refused.headers.get("retry-after")) > 0);
    assert.match((await refused.json()).error, /too many/);
    // other endpoints are not affected
    assert.equal((await fetch(`${d.url}/api/overview`)).status, 200);
    open.shift()!.close();
    const again = await waitFor("a freed slot", async () => {
      const r = await openStream();
      if (r.status === 200) return r.stream!;
      await r.body?.cancel();
      return undefined;
    });
    open.push(again);
    assert.equal((await again.next(30_000))?.event, "overview");
  } finally {
    for (const s of open) s.close();
  }
  // closing every stream frees every slot
  await waitFor("all slots free", async () => {
    const r = await openStream();
    r.stream?.close();
    return r.status === 200 || undefined;
  });
});
