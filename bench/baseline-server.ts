/**
 * The baseline for `npm run bench`: the official SDK's own high-level McpServer with one
 * echo tool over its Streamable HTTP transport, on plain node:http — what Patchbay is
 * compared against.
 */
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { z } from "zod";

const transports = new Map<string, StreamableHTTPServerTransport>();

const http = createServer(async (req, res) => {
  const sid = req.headers["mcp-session-id"] as string | undefined;
  let t = sid ? transports.get(sid) : undefined;
  if (!t) {
    t = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (id) => void transports.set(id, t!) });
    const server = new McpServer({ name: "baseline", version: "1.0.0" });
    server.registerTool("echo", { inputSchema: { text: z.string() } }, async ({ text }) => ({ content: [{ type: "text", text }] }));
    await server.connect(t);
  }
  await t.handleRequest(req, res);
});
http.listen(0, "127.0.0.1", () => {
  const addr = http.address() as { port: number };
  process.stdout.write(`listening http://127.0.0.1:${addr.port}/mcp\n`);
});
process.on("SIGTERM", () => process.exit(0));
