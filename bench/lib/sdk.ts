/**
 * The official SDK client (`@modelcontextprotocol/sdk` 1.32) over every transport, with one
 * call loop for every system: sequential latency and 16-way concurrent throughput.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { WebSocketClientTransport } from "@modelcontextprotocol/sdk/client/websocket.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import WebSocket from "ws";
import { summarize } from "./load.ts";
import { notificationRecorder } from "../../test/helpers/clients.ts";

export interface BenchClient {
  client: Client;
  /** how many notifications of `method` arrived so far */
  count(method: string): number;
  /** resolves when `count(method) >= n` */
  waitFor(method: string, n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function connect(transport: Transport): Promise<BenchClient> {
  const client = new Client({ name: "patchbay-bench", version: "1.0.0" }, { capabilities: {} });
  // the tests' recorder: one way to count and wait for notifications in the project
  const rec = notificationRecorder();
  client.fallbackNotificationHandler = rec.record;
  await client.connect(transport);
  return {
    client,
    count: rec.count,
    waitFor: (method, n, timeoutMs = 10_000) => rec.waitNotification(method, n, timeoutMs),
    close: () => client.close(),
  };
}

export function stdioClient(command: string, args: string[], env: Record<string, string> = {}) {
  return connect(new StdioClientTransport({ command, args, env: { ...(process.env as Record<string, string>), ...env }, stderr: "ignore" }));
}

/**
 * Streamable HTTP. The SDK client hands one shared AbortSignal to every fetch and undici
 * leaves a listener on it per request, so a long run slows the client itself down; the
 * bench drops that signal so it measures the server, the same for every server.
 */
export function httpClient(mcpUrl: string) {
  return connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { fetch: (u, init) => fetch(u, { ...init, signal: undefined }) }));
}

export function sseClient(sseUrl: string) {
  return connect(new SSEClientTransport(new URL(sseUrl)));
}

/** Node 20 has no global WebSocket; the SDK's client transport expects one. */
export function wsClient(wsUrl: string) {
  (globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;
  return connect(new WebSocketClientTransport(new URL(wsUrl)));
}

export interface SeqResult {
  perSec: number;
  p50: number;
  p99: number;
  n: number;
}

/** `n` calls one after another, after warming up (JIT, connections) for `warmSeconds` (at least 20 calls). */
export async function sequential(client: Client, tool: string, n: number, warmSeconds = 1): Promise<SeqResult> {
  const warmUntil = performance.now() + warmSeconds * 1000;
  for (let i = 0; i < 20 || performance.now() < warmUntil; i++) await client.callTool({ name: tool, arguments: { text: "warm" } });
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    const r = await client.callTool({ name: tool, arguments: { text: `hello ${i}` } });
    lat.push(performance.now() - s);
    if (r.isError) throw new Error(`${tool} answered an error: ${JSON.stringify(r.content).slice(0, 200)}`);
  }
  const secs = (performance.now() - t0) / 1000;
  return { perSec: n / secs, ...summarize(lat) };
}

/** `width` callers on one client for `seconds`; calls per second. */
export async function concurrent(client: Client, tool: string, seconds: number, width = 16): Promise<number> {
  let calls = 0;
  const t0 = performance.now();
  const stopAt = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (performance.now() < stopAt) {
        await client.callTool({ name: tool, arguments: { text: "x" } });
        calls++;
      }
    }),
  );
  return calls / ((performance.now() - t0) / 1000);
}
