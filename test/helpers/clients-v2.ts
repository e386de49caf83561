/**
 * The official SDK's v2 client (`@modelcontextprotocol/client`) over each transport, in
 * either era: `modern: true` pins the 2026-07-28 revision (server/discover, stateless
 * requests, listen streams); without it the client speaks 2025-11-25 with a session, as
 * its default does. Answers sampling, elicitation and roots requests with canned results
 * and records what it was asked.
 */
import { Client, StreamableHTTPClientTransport, type JSONRPCMessage, type Transport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import WebSocket from "ws";
import { CLI } from "./env.ts";
import { notificationRecorder } from "./clients.ts";

export const MODERN_REVISION = "2026-07-28";

export interface V2Options {
  name?: string;
  /** pin 2026-07-28; default: the 2025 session the client negotiates by default */
  modern?: boolean;
  /** declare sampling, elicitation (form + url) and roots, and answer them (default true) */
  canAnswer?: boolean;
  token?: string;
}

export interface V2Client {
  client: Client;
  /** every notification method received, in order */
  notifications: { method: string; params?: any }[];
  /** every server→client request (2025) or embedded input request (2026-07-28) the client answered */
  asked: { method: string; params?: any }[];
  count(method: string): number;
  waitNotification(method: string, n?: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export const ANSWERS = {
  elicit: (params: any) => ({ action: "accept", content: { name: `Ada (${String(params?.message ?? "").length})` } }),
  sample: () => ({ role: "assistant", model: "test-model", content: { type: "text", text: "42" } }),
  roots: () => ({ roots: [{ uri: "file:///work/a", name: "a" }] }),
};

export async function connectV2(transport: Transport, opts: V2Options = {}): Promise<V2Client> {
  const canAnswer = opts.canAnswer ?? true;
  const client = new Client(
    { name: opts.name ?? "patchbay-test-v2", version: "2.0.0" },
    {
      capabilities: canAnswer ? { sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true } } : {},
      ...(opts.modern ? { versionNegotiation: { mode: { pin: MODERN_REVISION } } } : {}),
    },
  );
  const rec = notificationRecorder();
  const asked: { method: string; params?: any }[] = [];
  client.fallbackNotificationHandler = rec.record;
  if (canAnswer) {
    client.setRequestHandler("elicitation/create", async (req) => {
      asked.push({ method: "elicitation/create", params: req.params });
      return ANSWERS.elicit(req.params) as never;
    });
    client.setRequestHandler("sampling/createMessage", async (req) => {
      asked.push({ method: "sampling/createMessage", params: req.params });
      return ANSWERS.sample() as never;
    });
    client.setRequestHandler("roots/list", async () => {
      asked.push({ method: "roots/list" });
      return ANSWERS.roots() as never;
    });
  }
  await client.connect(transport);
  return { client, notifications: rec.notifications, asked, count: rec.count, waitNotification: rec.waitNotification, close: () => client.close() };
}

export function v2HttpClient(url: string, opts: V2Options = {}): Promise<V2Client> {
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: opts.token ? { headers: { authorization: `Bearer ${opts.token}` } } : undefined });
  return connectV2(transport, opts);
}

/** The v2 SDK ships no WebSocket client transport (and Node 20 has no global WebSocket): a small one over `ws`. */
export class WsClientTransport implements Transport {
  onclose?: () => void;
  onerror?: (e: Error) => void;
  onmessage?: (m: JSONRPCMessage) => void;
  private ws?: WebSocket;
  constructor(private readonly url: string, private readonly token?: string) {}
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, "mcp", this.token ? { headers: { authorization: `Bearer ${this.token}` } } : {});
      this.ws = ws;
      ws.on("open", () => resolve());
      ws.on("error", (e) => {
        reject(e);
        this.onerror?.(e);
      });
      ws.on("message", (d) => this.onmessage?.(JSON.parse(d.toString())));
      ws.on("close", () => this.onclose?.());
    });
  }
  async send(m: JSONRPCMessage): Promise<void> {
    this.ws?.send(JSON.stringify(m));
  }
  async close(): Promise<void> {
    this.ws?.close();
  }
}

export function v2WsClient(url: string, opts: V2Options = {}): Promise<V2Client> {
  return connectV2(new WsClientTransport(`${url.replace(/^http/, "ws")}/ws`, opts.token), opts);
}

/** `patchbay stdio …` as a child process. */
export function v2StdioClient(args: string[], env: Record<string, string>, opts: V2Options = {}): Promise<V2Client> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, "stdio", ...args], env: { ...(process.env as Record<string, string>), ...env }, stderr: "pipe" });
  return connectV2(transport, opts);
}

/** One raw 2026-07-28 request over HTTP, with the standard headers the revision asks for; `headers` overrides them. */
export async function rawModern(url: string, method: string, params: Record<string, unknown> = {}, opts: { headers?: Record<string, string>; id?: number | string; meta?: Record<string, unknown> } = {}) {
  const meta = {
    "io.modelcontextprotocol/protocolVersion": MODERN_REVISION,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": { name: "raw-modern", version: "1.0.0" },
    ...opts.meta,
  };
  const name = typeof params.name === "string" ? params.name : typeof params.uri === "string" ? params.uri : undefined;
  const res = await fetch(`${url}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": MODERN_REVISION,
      "mcp-method": method,
      ...(name !== undefined ? { "mcp-name": name } : {}),
      ...opts.headers,
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: opts.id ?? 1, method, params: { ...params, _meta: { ...meta, ...(params._meta as object | undefined) } } }),
  });
  const text = await res.text();
  let body: any;
  if (String(res.headers.get("content-type")).startsWith("text/event-stream")) {
    const frames = text.split("\n").filter((l) => l.startsWith("data:") && l.slice(5).trim() !== "").map((l) => JSON.parse(l.slice(5)));
    body = frames.find((f) => "id" in f && !("method" in f)) ?? frames.at(-1);
  } else body = text ? JSON.parse(text) : undefined;
  return { status: res.status, sessionId: res.headers.get("mcp-session-id"), body };
}
