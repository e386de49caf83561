/** Official SDK clients over each transport, plus a notification recorder. */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { CLI } from "./env.ts";

export interface RecordingClient {
  client: Client;
  /** every notification method received, in order */
  notifications: { method: string; params?: unknown }[];
  count(method: string): number;
  /** resolves when at least `n` notifications of `method` have arrived in total */
  waitNotification(method: string, n?: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Records notifications (SDK v1 and v2 clients alike) and lets a test wait for the n-th of a method. */
export function notificationRecorder() {
  const notifications: { method: string; params?: any }[] = [];
  const waiters: (() => void)[] = [];
  const count = (method: string) => notifications.filter((n) => n.method === method).length;
  return {
    notifications,
    count,
    /** install as the client's fallbackNotificationHandler */
    record: async (n: { method: string; params?: unknown }) => {
      notifications.push({ method: n.method, params: n.params });
      waiters.splice(0).forEach((w) => w());
    },
    waitNotification(method: string, n = 1, timeoutMs = 30_000): Promise<void> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${method} (#${n}) within ${timeoutMs} ms; got ${JSON.stringify(notifications.map((x) => x.method))}`)), timeoutMs);
        const check = () => {
          if (count(method) >= n) {
            clearTimeout(timer);
            resolve();
          } else waiters.push(check);
        };
        check();
      });
    },
  };
}

export async function connect(transport: Transport, name = "patchbay-test"): Promise<RecordingClient> {
  const client = new Client({ name, version: "1.0.0" }, { capabilities: {} });
  const rec = notificationRecorder();
  client.fallbackNotificationHandler = rec.record;
  await client.connect(transport);
  return { client, notifications: rec.notifications, count: rec.count, waitNotification: rec.waitNotification, close: () => client.close() };
}

export function httpClient(url: string, opts: { token?: string; name?: string; isolateAbort?: boolean } = {}) {
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
    requestInit: opts.token ? { headers: { authorization: `Bearer ${opts.token}` } } : undefined,
    // The SDK client passes one shared AbortSignal to every fetch and undici leaves a
    // listener on it per request, so a long run slows the client down (MaxListeners
    // warnings). Benchmarks drop the shared signal so they measure the server, not that.
    fetch: opts.isolateAbort ? (u, init) => fetch(u, { ...init, signal: undefined }) : undefined,
  });
  return connect(transport, opts.name);
}

export function stdioClient(args: string[], env: Record<string, string>) {
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, "stdio", ...args], env: { ...(process.env as Record<string, string>), ...env }, stderr: "pipe" });
  return connect(transport);
}

export function textOf(result: any): string {
  return (result.content ?? []).filter((c: any) => c.type === "text").map((c: any) => c.text).join("");
}

import { WebSocketClientTransport } from "@modelcontextprotocol/sdk/client/websocket.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import WebSocket from "ws";

/** Node 20 has no global WebSocket; the SDK's client transport expects one. */
export function ensureGlobalWebSocket(token?: string) {
  class AuthWebSocket extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    }
  }
  (globalThis as { WebSocket?: unknown }).WebSocket = AuthWebSocket;
}

export function wsClient(url: string, opts: { token?: string } = {}) {
  ensureGlobalWebSocket(opts.token);
  return connect(new WebSocketClientTransport(new URL(`${url.replace(/^http/, "ws")}/ws`)));
}

export function sseClient(url: string, opts: { token?: string } = {}) {
  const headers = opts.token ? { authorization: `Bearer ${opts.token}` } : undefined;
  return connect(new SSEClientTransport(new URL(`${url}/sse`), { requestInit: { headers }, eventSourceInit: headers ? { fetch: (u, init) => fetch(u, { ...init, headers: { ...(init?.headers as Record<string, string>), ...headers } }) } : undefined }));
}
