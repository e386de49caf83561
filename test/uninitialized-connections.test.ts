/**
 * The 2025 lifecycle has `initialize` come first. Streamable HTTP enforces it (no session
 * without it); on legacy SSE, WebSocket and stdio a connection that skips it gets -32600 for
 * anything but `ping`, instead of being served without the client's capabilities, log level
 * or subscriptions — which is what a legacy SSE client whose EventSource reconnected by
 * itself after its session ended would otherwise get. The 2026-07-28 revision has no
 * initialize, and its requests are served as before.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import WebSocket from "ws";
import { CLI, TempDir } from "./helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "./helpers/daemon.ts";

const plugins = new TempDir("patchbay-uninit-");
const home = new TempDir("patchbay-uninit-home-");
let d: RunningDaemon;

before(async () => {
  plugins.file("p.mjs", `export default { tools: { t: { handler: () => "ok" } } };`);
  d = await startDaemonProcess({ plugins: plugins.path });
});
after(async () => {
  await d?.stop();
  plugins.cleanup();
  home.cleanup();
});

const INIT = { jsonrpc: "2.0", id: "init", method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } } };
const CALL = (id: number) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "p__t", arguments: {} } });
const LIST = (id: number) => ({ jsonrpc: "2.0", id, method: "tools/list", params: {} });
const PING = (id: number) => ({ jsonrpc: "2.0", id, method: "ping" });

/** One JSON-RPC conversation: send a message, get the answer with its id. */
interface Wire {
  ask(msg: { id: number | string }): Promise<any>;
  tell(msg: object): void;
  close(): Promise<void>;
}

/** Sends the same script over any wire: refused before initialize, served after it. */
async function script(wire: Wire) {
  const early = await wire.ask(CALL(1));
  assert.equal(early.error?.code, -32600, JSON.stringify(early));
  assert.match(early.error.message, /tools\/call before initialize/);
  assert.equal((await wire.ask(LIST(2))).error?.code, -32600);
  assert.deepEqual((await wire.ask(PING(3))).result, {}, "ping is allowed before initialize");
  assert.equal((await wire.ask(INIT)).result?.serverInfo?.name, "patchbay");
  wire.tell({ jsonrpc: "2.0", method: "notifications/initialized" });
  const served = await wire.ask(CALL(4));
  assert.deepEqual(served.result?.content, [{ type: "text", text: "ok" }], JSON.stringify(served));
}

function messageRouter() {
  const waiting = new Map<number | string, (m: any) => void>();
  return {
    wait: (id: number | string) => new Promise<any>((resolve) => waiting.set(id, resolve)),
    route: (m: any) => {
      waiting.get(m.id)?.(m);
      waiting.delete(m.id);
    },
  };
}

test("WebSocket: a request before initialize gets -32600, ping is answered, and after initialize the call is served", async () => {
  const ws = new WebSocket(`${d.url.replace("http", "ws")}/ws`, ["mcp"]);
  await once(ws, "open");
  const router = messageRouter();
  ws.on("message", (data) => router.route(JSON.parse(String(data))));
  await script({
    ask: (msg) => {
      const answer = router.wait(msg.id);
      ws.send(JSON.stringify(msg));
      return answer;
    },
    tell: (msg) => ws.send(JSON.stringify(msg)),
    close: async () => ws.close(),
  });
  ws.close();
});

test("legacy SSE: a request before initialize gets -32600 on the stream, ping is answered, and after initialize the call is served", async () => {
  const ac = new AbortController();
  const res = await fetch(`${d.url}/sse`, { headers: { accept: "text/event-stream" }, signal: ac.signal });
  assert.equal(res.status, 200);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const router = messageRouter();
  let endpoint!: (url: string) => void;
  const endpointUrl = new Promise<string>((r) => (endpoint = r));
  void (async () => {
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buf += value;
      let end;
      while ((end = buf.indexOf("\n\n")) >= 0) {
        const event = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const name = /^event: (.*)$/m.exec(event)?.[1];
        const data = /^data: (.*)$/m.exec(event)?.[1];
        if (name === "endpoint" && data) endpoint(new URL(data, d.url).href);
        else if (data) router.route(JSON.parse(data));
      }
    }
  })();
  const post = async (msg: object) => {
    const r = await fetch(await endpointUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(msg) });
    assert.equal(r.status, 202, await r.text());
  };
  try {
    await script({
      ask: async (msg) => {
        const answer = router.wait(msg.id);
        await post(msg);
        return answer;
      },
      tell: (msg) => void post(msg),
      close: async () => ac.abort(),
    });
  } finally {
    ac.abort();
  }
});

test("stdio --standalone: a request before initialize gets -32600, ping is answered, and after initialize the call is served", async () => {
  const child = spawn(process.execPath, [CLI, "stdio", "--standalone", "--plugins", plugins.path], { env: { ...process.env, PATCHBAY_HOME: home.path, PATCHBAY_LOG_LEVEL: "warn" }, stdio: ["pipe", "pipe", "ignore"] });
  const router = messageRouter();
  createInterface({ input: child.stdout! }).on("line", (line) => router.route(JSON.parse(line)));
  try {
    await script({
      ask: (msg) => {
        const answer = router.wait(msg.id);
        child.stdin!.write(JSON.stringify(msg) + "\n");
        return answer;
      },
      tell: (msg) => child.stdin!.write(JSON.stringify(msg) + "\n"),
      close: async () => undefined,
    });
  } finally {
    child.stdin!.end();
    if (child.exitCode === null) await once(child, "exit");
  }
});

test("2026-07-28 requests need no initialize: served on a WebSocket as the first message", async () => {
  const ws = new WebSocket(`${d.url.replace("http", "ws")}/ws`, ["mcp"]);
  await once(ws, "open");
  const answer = new Promise<any>((resolve) => ws.once("message", (data) => resolve(JSON.parse(String(data)))));
  const meta = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}, "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" } };
  ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "p__t", arguments: {}, _meta: meta } }));
  const r = await answer;
  assert.deepEqual(r.result?.content, [{ type: "text", text: "ok" }], JSON.stringify(r));
  ws.close();
});
