/**
 * The baselines `npm run bench` compares Patchbay against, one per child process so each
 * gets its own CPU and heap exactly as Patchbay does:
 *
 *   tsx bench/baseline-server.ts <kind> [--tools N]
 *
 *   sdk-v1-http   `@modelcontextprotocol/sdk` 1.32 `McpServer` + `StreamableHTTPServerTransport`,
 *                 sessionful (one transport per Mcp-Session-Id), written as the SDK's own
 *                 examples write it (simpleStreamableHttp.ts): `createMcpExpressApp()` (express,
 *                 the localhost Host check, `express.json()`) and
 *                 `transport.handleRequest(req, res, req.body)`, so the transport gets the
 *                 parsed body and does not read and parse the stream itself
 *   sdk-v1-http-node  the same v1 sessions on plain node:http, the body read and
 *                 `JSON.parse`d by the server and passed as `handleRequest(req, res, parsed)`:
 *                 the parsed-body pattern without express's middleware (measured faster than
 *                 both the examples' express app and the unparsed row on this machine)
 *   sdk-v1-http-unparsed  the same v1 server on plain node:http calling
 *                 `transport.handleRequest(req, res)` without the body (the SDK reads and parses
 *                 it through its web-standard bridge): the bench's baseline until issue 20,
 *                 kept as a labelled row so old reports can be compared
 *   sdk-v2-http   `@modelcontextprotocol/server` 2.x `createMcpHandler` (a new McpServer per
 *                 request; 2026-07-28 requests and its stateless 2025-era fallback) through
 *                 `toNodeHandler` from `@modelcontextprotocol/node`, as the node adapter's README
 *                 recommends behind a JSON body parser: an express app with `express.json()`
 *                 and the parsed body passed as the third argument (`handler(req, res, req.body)`),
 *                 which `isLegacyRequest`'s docs call the handler's "perf escape hatch" (the
 *                 stream is not read again). The v2 express adapter package is not installed; the v1 SDK's
 *                 `createMcpExpressApp` builds the same middleware (Host check, `express.json()`)
 *   sdk-v2-http-unparsed  the same v2 handler on plain node:http, `handler(req, res)`: the
 *                 adapter reads the stream (the v2 row before issue 20, kept labelled)
 *   sdk-v1-stdio  the v1 `McpServer` over `StdioServerTransport`
 *   sdk-v2-stdio  the v2 `McpServer` through `serveStdio`
 *   raw-http      node:http answering JSON-RPC by hand: the ceiling for one Node process
 *   raw-ws        `ws` answering JSON-RPC by hand: the WebSocket ceiling
 *
 * Every kind serves the same tool: `echo({ text: string })` → one text content block.
 * `--tools N` registers N-1 more tools of the same shape (for the tools/list baseline).
 * HTTP and WebSocket kinds print `listening <url>` on stdout; stdio kinds keep stdout for
 * JSON-RPC.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { z } from "zod";

const { positionals, values } = parseArgs({ allowPositionals: true, options: { tools: { type: "string" } } });
const kind = positionals[0];
const extraTools = Math.max(0, Number(values.tools ?? 1) - 1);

const echoSchema = { text: z.string() };
const echo = async ({ text }: { text: string }) => ({ content: [{ type: "text" as const, text }] });

function listen(server: ReturnType<typeof createServer>, scheme: "http" | "ws", path: string) {
  server.keepAliveTimeout = 65_000;
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as { port: number };
    process.stdout.write(`listening ${scheme}://127.0.0.1:${port}${path}\n`);
  });
}

async function sdkV1Server() {
  const { McpServer } = await import("@modelcontextprotocol/sdk/server/mcp.js");
  return () => {
    const server = new McpServer({ name: "baseline-v1", version: "1.0.0" });
    server.registerTool("echo", { description: "Echo the text back", inputSchema: echoSchema }, echo);
    for (let i = 1; i <= extraTools; i++) server.registerTool(`tool_${i}`, { description: `Extra tool ${i}`, inputSchema: echoSchema }, echo);
    return server;
  };
}

async function sdkV2Server() {
  const { McpServer } = await import("@modelcontextprotocol/server");
  const input = z.object(echoSchema);
  return () => {
    const server = new McpServer({ name: "baseline-v2", version: "1.0.0" });
    server.registerTool("echo", { description: "Echo the text back", inputSchema: input }, echo);
    for (let i = 1; i <= extraTools; i++) server.registerTool(`tool_${i}`, { description: `Extra tool ${i}`, inputSchema: input }, echo);
    return server;
  };
}

/**
 * The v1 sessionful routing of the SDK's examples: one transport per Mcp-Session-Id, a new
 * one on a request without the header. `parsedBody` undefined leaves the stream to the SDK.
 */
async function sdkV1Sessions() {
  const { StreamableHTTPServerTransport } = await import("@modelcontextprotocol/sdk/server/streamableHttp.js");
  const make = await sdkV1Server();
  const transports = new Map<string, InstanceType<typeof StreamableHTTPServerTransport>>();
  return async (req: IncomingMessage, res: ServerResponse, parsedBody: unknown) => {
    const sid = req.headers["mcp-session-id"] as string | undefined;
    let t = sid ? transports.get(sid) : undefined;
    if (sid && !t) {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32001, message: "Session not found" } }));
      return;
    }
    if (!t) {
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (id) => void transports.set(id, transport) });
      transport.onclose = () => transport.sessionId && transports.delete(transport.sessionId);
      await make().connect(transport);
      t = transport;
    }
    await t.handleRequest(req, res, parsedBody);
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** What the raw servers answer: the same JSON the SDK servers produce for these methods. */
function rawAnswer(msg: any): unknown {
  if (msg === null || typeof msg !== "object" || msg.id === undefined) return undefined; // notification
  switch (msg.method) {
    case "initialize":
      return { jsonrpc: "2.0", id: msg.id, result: { protocolVersion: msg.params?.protocolVersion ?? "2025-11-25", capabilities: { tools: {} }, serverInfo: { name: "raw", version: "1.0.0" } } };
    case "tools/call":
      if (typeof msg.params?.arguments?.text !== "string") return { jsonrpc: "2.0", id: msg.id, error: { code: -32602, message: "text must be a string" } };
      return { jsonrpc: "2.0", id: msg.id, result: { content: [{ type: "text", text: msg.params.arguments.text }] } };
    case "tools/list":
      return { jsonrpc: "2.0", id: msg.id, result: { tools: [{ name: "echo", inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] } }] } };
    case "ping":
      return { jsonrpc: "2.0", id: msg.id, result: {} };
    default:
      return { jsonrpc: "2.0", id: msg.id, error: { code: -32601, message: "Method not found" } };
  }
}

async function main() {
  switch (kind) {
    case "sdk-v1-http": {
      const { createMcpExpressApp } = await import("@modelcontextprotocol/sdk/server/express.js");
      const app = createMcpExpressApp();
      const route = await sdkV1Sessions();
      app.all("/mcp", (req: IncomingMessage & { body?: unknown }, res: ServerResponse) => void route(req, res, req.body));
      listen(createServer(app), "http", "/mcp");
      break;
    }
    case "sdk-v1-http-node": {
      const route = await sdkV1Sessions();
      listen(
        createServer(async (req, res) => {
          const text = req.method === "POST" ? await readBody(req) : "";
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            return void res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } }));
          }
          await route(req, res, parsed);
        }),
        "http",
        "/mcp",
      );
      break;
    }
    case "sdk-v1-http-unparsed": {
      const route = await sdkV1Sessions();
      listen(createServer((req, res) => void route(req, res, undefined)), "http", "/mcp");
      break;
    }
    case "sdk-v2-http": {
      const { createMcpHandler } = await import("@modelcontextprotocol/server");
      const { toNodeHandler } = await import("@modelcontextprotocol/node");
      const make = await sdkV2Server();
      const { createMcpExpressApp } = await import("@modelcontextprotocol/sdk/server/express.js");
      const handler = toNodeHandler(createMcpHandler(make));
      const app = createMcpExpressApp();
      app.all("/mcp", (req: IncomingMessage & { body?: unknown }, res: ServerResponse) => void handler(req, res, req.body));
      listen(createServer(app), "http", "/mcp");
      break;
    }
    case "sdk-v2-http-unparsed": {
      const { createMcpHandler } = await import("@modelcontextprotocol/server");
      const { toNodeHandler } = await import("@modelcontextprotocol/node");
      const handler = toNodeHandler(createMcpHandler(await sdkV2Server()));
      listen(createServer((req, res) => void handler(req, res)), "http", "/mcp");
      break;
    }
    case "sdk-v1-stdio": {
      const { StdioServerTransport } = await import("@modelcontextprotocol/sdk/server/stdio.js");
      await (await sdkV1Server())().connect(new StdioServerTransport());
      break;
    }
    case "sdk-v2-stdio": {
      const { serveStdio } = await import("@modelcontextprotocol/server/stdio");
      serveStdio(await sdkV2Server());
      break;
    }
    case "raw-http": {
      const http = createServer(async (req: IncomingMessage, res: ServerResponse) => {
        if (req.method !== "POST") return void res.writeHead(405).end();
        let msg: unknown;
        try {
          msg = JSON.parse(await readBody(req));
        } catch {
          return void res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } }));
        }
        const answer = rawAnswer(msg);
        if (answer === undefined) return void res.writeHead(202).end();
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(answer));
      });
      listen(http, "http", "/mcp");
      break;
    }
    case "raw-ws": {
      const { WebSocketServer } = await import("ws");
      const http = createServer((_req, res) => void res.writeHead(426).end());
      const wss = new WebSocketServer({ server: http, path: "/ws", handleProtocols: (p) => (p.has("mcp") ? "mcp" : false) });
      wss.on("connection", (ws) => {
        ws.on("message", (data) => {
          let msg: unknown;
          try {
            msg = JSON.parse(String(data));
          } catch {
            return ws.send(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } }));
          }
          const answer = rawAnswer(msg);
          if (answer !== undefined) ws.send(JSON.stringify(answer));
        });
      });
      listen(http, "ws", "/ws");
      break;
    }
    default:
      process.stderr.write(`baseline-server: unknown kind "${kind}"\n`);
      process.exit(2);
  }
}

process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
main().catch((err) => {
  process.stderr.write(`baseline-server ${kind}: ${err?.stack ?? err}\n`);
  process.exit(1);
});
