/**
 * Every way of exposing tools (`expose`: all, search, auto either side of its threshold) over
 * every transport in both protocol eras, with the official SDK clients: what tools/list
 * holds, what patchbay__search_tools returns, and patchbay__call_tool answering exactly what
 * a direct call answers — a result, a tool error, a validation error, progress on the way,
 * and a tool that asks the client (elicitation through the relay; on 2026-07-28 the v2
 * client's input_required retries).
 *
 * One daemon; each mode is a view of it (the default view and three profiles), so the whole
 * matrix runs against one process.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { WebSocketClientTransport } from "@modelcontextprotocol/sdk/client/websocket.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport as V2HttpTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport as V2StdioTransport } from "@modelcontextprotocol/client/stdio";
import { CLI, TempDir } from "./helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "./helpers/daemon.ts";
import { ensureGlobalWebSocket, textOf } from "./helpers/clients.ts";
import { ANSWERS, connectV2, WsClientTransport } from "./helpers/clients-v2.ts";
import { connectV1Asking, exactContext, rawList } from "./helpers/context.ts";

const SEARCH = "patchbay__search_tools";
const CALL = "patchbay__call_tool";

const home = new TempDir("patchbay-ctx-modes-home-");
const plugins = new TempDir("patchbay-ctx-modes-plugins-");
const cfg = new TempDir("patchbay-ctx-modes-config-");
const configFile = cfg.file(
  "patchbay.json",
  JSON.stringify({
    expose: "search",
    pin: ["kit__pinned"],
    profiles: {
      every: { expose: "all" },
      autoSearch: { expose: "auto", searchThresholdTokens: 0, pin: ["kit__echo", "kit__p*d"] },
      autoAll: { expose: "auto", searchThresholdTokens: 10_000_000 },
    },
  }),
);
plugins.file(
  "kit.mjs",
  `let release;
export default { name: "kit", description: "A test kit",
  tools: {
    echo: {
      title: "Echo",
      description: "Echo a text back in upper case",
      input: { type: "object", properties: { text: { type: "string", description: "The text to shout" } }, required: ["text"], additionalProperties: false },
      output: { type: "object", properties: { echoed: { type: "string" } }, required: ["echoed"] },
      handler: ({ text }) => ({ echoed: text.toUpperCase() }),
    },
    fail: { description: "Always fails", handler: () => { throw new Error("kit failed on purpose"); } },
    count: {
      description: "Count to n, reporting progress",
      input: { type: "object", properties: { n: { type: "integer", minimum: 1, maximum: 10 } }, required: ["n"] },
      // ends only once the client, having seen the last step, calls release: the response
      // cannot overtake the progress notices, so the test needs no timing
      handler: async ({ n }, ctx) => {
        for (let i = 1; i < n; i++) ctx.progress(i, n, "step " + i);
        const released = new Promise((r) => { release = r; });
        ctx.progress(n, n, "step " + n);
        await released;
        return "counted to " + n;
      },
    },
    release: { description: "Lets a running count finish", handler: () => { release?.(); release = undefined; return "released"; } },
    ask: {
      description: "Ask the user for their name",
      handler: async (_a, ctx) => {
        const r = await ctx.elicit({ message: "Your name?", requestedSchema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] } });
        return JSON.stringify(r);
      },
    },
    pinned: { description: "A tool listed in search mode too", handler: () => "pinned" },
  },
};\n`,
);

let d: RunningDaemon;
/** every kit tool as the full listing shows it */
let full: any[];

before(async () => {
  d = await startDaemonProcess({ plugins: plugins.path, home: home.path, args: ["--config", configFile] });
  ensureGlobalWebSocket();
  full = await rawList(d.url, "tools/list", "?profile=every");
  // auto resolves against exact counts: wait for them so the auto views are settled
  await exactContext(() => d.health());
});

after(async () => {
  await d?.stop();
  plugins.cleanup();
  cfg.cleanup();
  home.cleanup();
});

interface Caller {
  label: string;
  asked: { method: string; params?: any }[];
  listTools(): Promise<any[]>;
  call(name: string, args: Record<string, unknown>, onprogress?: (p: { progress: number }) => void): Promise<any>;
  close(): Promise<void>;
}

type Opener = (profile?: string) => Promise<Caller>;

const q = (profile?: string) => (profile ? `?profile=${profile}` : "");
const stdioArgs = (profile?: string) => [CLI, "stdio", "--config", configFile, "--plugins", plugins.path, ...(profile ? ["--profile", profile] : [])];
const stdioEnv = () => ({ ...(process.env as Record<string, string>), PATCHBAY_HOME: home.path });

function v1(label: string, transport: () => any): Opener {
  return async () => {
    const c = await connectV1Asking(transport(), `ctx-modes-${label}`);
    return {
      label,
      asked: c.asked,
      listTools: async () => (await c.client.listTools()).tools,
      call: (name, args, onprogress) => c.client.callTool({ name, arguments: args }, undefined, onprogress ? { onprogress } : undefined),
      close: () => c.close(),
    };
  };
}

function v2(label: string, transport: () => any, modern = true): Opener {
  return async () => {
    const c = await connectV2(transport(), { modern, name: `ctx-modes-${label}` });
    assert.equal(c.client.getProtocolEra(), modern ? "modern" : "legacy", label);
    return {
      label,
      asked: c.asked,
      listTools: async () => (await c.client.listTools()).tools,
      call: (name, args, onprogress) => c.client.callTool({ name, arguments: args }, onprogress ? { onprogress } : undefined),
      close: () => c.close(),
    };
  };
}

const wsBase = () => d.url.replace(/^http/, "ws");
/** 2025-11-25 sessions (v1 SDK client) on all four transports (and the v2 client's over HTTP), and 2026-07-28 (v2 SDK client) on the three that carry it. */
const OPENERS: ((profile?: string) => Opener)[] = [
  (p) => v1("2025 Streamable HTTP", () => new StreamableHTTPClientTransport(new URL(`${d.url}/mcp${q(p)}`))),
  (p) => v1("2025 legacy SSE", () => new SSEClientTransport(new URL(`${d.url}/sse${q(p)}`))),
  (p) => v1("2025 WebSocket", () => new WebSocketClientTransport(new URL(`${wsBase()}/ws${q(p)}`))),
  (p) => v1("2025 stdio", () => new StdioClientTransport({ command: process.execPath, args: stdioArgs(p), env: stdioEnv(), stderr: "pipe" })),
  (p) => v2("2025 Streamable HTTP, v2 client", () => new V2HttpTransport(new URL(`${d.url}/mcp${q(p)}`)), false),
  (p) => v2("2026-07-28 Streamable HTTP", () => new V2HttpTransport(new URL(`${d.url}/mcp${q(p)}`))),
  (p) => v2("2026-07-28 WebSocket", () => new WsClientTransport(`${wsBase()}/ws${q(p)}`)),
  (p) => v2("2026-07-28 stdio", () => new V2StdioTransport({ command: process.execPath, args: stdioArgs(p), env: stdioEnv(), stderr: "pipe" })),
];

/** `patchbay stdio --standalone`: its own host in the client's child process, same config. */
const STANDALONE: ((profile?: string) => Opener)[] = [
  (p) => v1("2025 stdio standalone", () => new StdioClientTransport({ command: process.execPath, args: [...stdioArgs(p), "--standalone"], env: stdioEnv(), stderr: "pipe" })),
  (p) => v2("2026-07-28 stdio standalone", () => new V2StdioTransport({ command: process.execPath, args: [...stdioArgs(p), "--standalone"], env: stdioEnv(), stderr: "pipe" })),
];

/** The results of a call through call_tool and a direct call, which must be the same. */
async function both(c: Caller, name: string, args: Record<string, unknown>) {
  const via = await c.call(CALL, { name, arguments: args });
  const direct = await c.call(name, args);
  assert.deepEqual(via, direct, `${c.label}: ${name} through ${CALL} vs directly`);
  return via;
}

async function exercise(c: Caller) {
  const L = c.label;
  // search: full definitions, structured and as text
  const found = await c.call(SEARCH, { query: "shout a text in upper case" });
  assert.ok(!found.isError, `${L}: ${textOf(found)}`);
  const tools = found.structuredContent.tools as any[];
  assert.ok(tools.length >= 1 && tools.length <= 5, `${L}: ${JSON.stringify(tools)}`);
  const echo = full.find((t) => t.name === "kit__echo");
  assert.deepEqual(tools[0], { name: "kit__echo", title: "Echo", description: echo.description, inputSchema: echo.inputSchema }, L);
  const text = textOf(found);
  assert.deepEqual(JSON.parse(text.slice(text.indexOf("\n") + 1)), { tools }, `${L}: the text carries the same tools`);
  assert.ok(text.includes(CALL), `${L}: the text says how to call one`);
  const two = await c.call(SEARCH, { query: "count progress", limit: 1 });
  assert.deepEqual(two.structuredContent.tools.map((t: any) => t.name), ["kit__count"], L);

  // call_tool = a direct call: success, a tool error, an argument the schema refuses
  const ok = await both(c, "kit__echo", { text: "hi" });
  assert.deepEqual(ok.structuredContent, { echoed: "HI" }, L);
  const failed = await both(c, "kit__fail", {});
  assert.equal(failed.isError, true, L);
  assert.match(textOf(failed), /kit failed on purpose/, L);
  const invalid = await both(c, "kit__echo", { text: "hi", bogus: 1 });
  assert.equal(invalid.isError, true, L);
  assert.match(textOf(invalid), /Invalid arguments for tool echo/, L);

  // progress flows through call_tool as it does on a direct call
  const counted = async (name: string, args: Record<string, unknown>) => {
    const seen: number[] = [];
    let released: Promise<unknown> | undefined;
    const result = await c.call(name, args, (p) => {
      seen.push(p.progress);
      if (p.progress === 3) released = c.call("kit__release", {});
    });
    assert.equal(textOf(await released), "released", `${L}: ${name} released the count`);
    return { result, seen };
  };
  const viaCount = await counted(CALL, { name: "kit__count", arguments: { n: 3 } });
  const directCount = await counted("kit__count", { n: 3 });
  assert.deepEqual(viaCount.result, directCount.result, `${L}: count`);
  assert.equal(textOf(viaCount.result), "counted to 3", L);
  assert.deepEqual(viaCount.seen, [1, 2, 3], `${L}: progress via call_tool`);
  assert.deepEqual(directCount.seen, [1, 2, 3], `${L}: progress of the direct call`);

  // the tool asks the client; through call_tool the question reaches the same client
  const asked0 = c.asked.length;
  const viaAsk = await c.call(CALL, { name: "kit__ask", arguments: {} });
  const directAsk = await c.call("kit__ask", {});
  assert.deepEqual(viaAsk, directAsk, `${L}: ask`);
  assert.deepEqual(JSON.parse(textOf(viaAsk)), ANSWERS.elicit({ message: "Your name?" }), L);
  const asks = c.asked.slice(asked0);
  assert.deepEqual(asks.map((a) => [a.method, a.params.message]), [["elicitation/create", "Your name?"], ["elicitation/create", "Your name?"]], L);

  // an unknown name is a tool error naming the closest matches
  const unknown = await c.call(CALL, { name: "kit__ech", arguments: {} });
  assert.equal(unknown.isError, true, L);
  assert.match(textOf(unknown), /Unknown tool: kit__ech\. Closest: kit__echo/, L);
}

const names = (tools: any[]) => tools.map((t) => t.name);
const fullNames = () => names(full);

/** Opens each transport in turn for the view, checks its listing and runs the calls. */
async function overEveryTransport(profile: string | undefined, listing: () => string[], openers = OPENERS) {
  for (const open of openers) {
    const c = await open(profile)();
    try {
      assert.deepEqual(names(await c.listTools()), listing(), `${c.label}: tools/list`);
      await exercise(c);
    } finally {
      await c.close().catch(() => undefined);
    }
  }
}

test('expose "search" (the default view): the two search tools and the pins only; search and call_tool on every transport, both eras', async () => {
  const ctx = (await d.health()).context;
  assert.equal(ctx.views.find((v: any) => v.view === "default").effective, "search");
  await overEveryTransport(undefined, () => [SEARCH, CALL, "kit__pinned"], [...OPENERS, ...STANDALONE]);
});

test('expose "all" (a profile): every tool and no search tools in the listing; call_tool still answers as a direct call', async () => {
  assert.ok(fullNames().length === 6 && !fullNames().some((n) => n.startsWith("patchbay")), fullNames().join());
  await overEveryTransport("every", fullNames);
});

test('expose "auto" past its threshold: search mode with the profile\'s own pins', async () => {
  assert.equal((await d.health()).context.views.find((v: any) => v.view === "autoSearch").effective, "search");
  await overEveryTransport("autoSearch", () => [SEARCH, CALL, "kit__echo", "kit__pinned"]);
});

test('expose "auto" under its threshold: every tool', async () => {
  assert.equal((await d.health()).context.views.find((v: any) => v.view === "autoAll").effective, "all");
  await overEveryTransport("autoAll", fullNames);
});
