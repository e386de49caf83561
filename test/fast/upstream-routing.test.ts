/**
 * With several relayed calls in flight on one Streamable HTTP upstream, a log message and a
 * sampling request the upstream sends on one call's stream reach that call's client, not
 * the most recent one. The upstream is a real SDK v1 server over HTTP in this process, so
 * the test can order the two calls exactly (no timing).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { randomUUID } from "node:crypto";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CreateMessageRequestSchema, CreateMessageResultSchema, LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { TempDir, waitFor } from "../helpers/env.ts";
import { startInProcessDaemon, type InProcessDaemon } from "../helpers/in-process.ts";
import { textOf } from "../helpers/clients.ts";

const root = new TempDir("patchbay-upstream-routing-");
let http: Server;
let d: InProcessDaemon;

let aStarted!: () => void;
const aStartedP = new Promise<void>((r) => (aStarted = r));
let bStarted!: () => void;
const bStartedP = new Promise<void>((r) => (bStarted = r));
let aDone!: () => void;
const aDoneP = new Promise<void>((r) => (aDone = r));

function makeServer() {
  const server = new McpServer({ name: "router-test", version: "1.0.0" }, { capabilities: { logging: {} } });
  // asks its caller only once the other call is running: the other one is then the most recent
  server.registerTool("ask-after-other", { description: "logs and samples on its own stream" }, async (extra) => {
    aStarted();
    await bStartedP;
    await extra.sendNotification({ method: "notifications/message", params: { level: "info", data: "log for the asker" } });
    const r = await extra.sendRequest({ method: "sampling/createMessage", params: { messages: [{ role: "user", content: { type: "text", text: "who?" } }], maxTokens: 5 } }, CreateMessageResultSchema);
    aDone();
    return { content: [{ type: "text", text: `answered by ${(r.content as { text: string }).text}` }] };
  });
  server.registerTool("hold", { description: "runs until the asker is done" }, async () => {
    bStarted();
    await aDoneP;
    return { content: [{ type: "text", text: "held" }] };
  });
  return server;
}

before(async () => {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  http = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString("utf8")) : undefined;
    const sid = req.headers["mcp-session-id"] as string | undefined;
    let t = sid ? transports.get(sid) : undefined;
    if (!t) {
      t = new StreamableHTTPServerTransport({ sessionIdGenerator: randomUUID, onsessioninitialized: (id) => void transports.set(id, t!) });
      await makeServer().connect(t);
    }
    await t.handleRequest(req, res, body);
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  const port = (http.address() as { port: number }).port;
  root.file("plugins/rt.mcp.json", JSON.stringify({ url: `http://127.0.0.1:${port}/mcp` }));
  d = await startInProcessDaemon({ plugins: root.join("plugins") });
});
after(async () => {
  await d?.stop();
  http?.closeAllConnections();
  await new Promise((r) => http?.close(r));
  root.cleanup();
});

async function answering(name: string) {
  const client = new Client({ name, version: "1.0.0" }, { capabilities: { sampling: {} } });
  const logs: string[] = [];
  client.setRequestHandler(CreateMessageRequestSchema, async () => ({ role: "assistant", model: "m", content: { type: "text", text: name } }));
  client.setNotificationHandler(LoggingMessageNotificationSchema, async (n) => void logs.push(String(n.params.data)));
  await client.connect(new StreamableHTTPClientTransport(new URL(`${d.url}/mcp`)));
  await client.setLoggingLevel("debug");
  return { client, logs };
}

test("a log and a sampling request sent on a call's stream go to that call's client, not the most recent caller", async () => {
  const a = await answering("client-A");
  const b = await answering("client-B");
  try {
    await waitFor("listed", async () => (await a.client.listTools()).tools.some((t) => t.name === "rt__hold") || undefined);
    const asking = a.client.callTool({ name: "rt__ask-after-other", arguments: {} });
    await aStartedP;
    const holding = b.client.callTool({ name: "rt__hold", arguments: {} });
    assert.equal(textOf(await asking), "answered by client-A");
    assert.equal(textOf(await holding), "held");
    assert.deepEqual(a.logs, ["log for the asker"]);
    assert.deepEqual(b.logs, []);
  } finally {
    await a.client.close();
    await b.client.close();
  }
});
