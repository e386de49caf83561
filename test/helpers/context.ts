/**
 * For the context-economy tests: raw listings as they cross the wire (the JSON a model is
 * charged for), their o200k counts computed here independently of the daemon, the daemon's
 * `context` snapshot once its counts are exact, and v1 clients that answer elicitation.
 */
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { countTokens } from "gpt-tokenizer/encoding/o200k_base";
import { waitFor } from "./env.ts";
import { ANSWERS, MODERN_REVISION } from "./clients-v2.ts";
import { notificationRecorder } from "./clients.ts";

/** o200k tokens of one list item exactly as it was received. */
export function countItem(item: unknown): number {
  return countTokens(JSON.stringify(item));
}

/**
 * One stateless 2026-07-28 list request (`tools/list`, `prompts/list`,
 * `resources/templates/list`) over raw HTTP, every page; `query` is the URL's query string
 * (`?profile=x`). Returns the items as parsed from the response body, untouched by any SDK.
 */
export async function rawList(url: string, method: "tools/list" | "prompts/list" | "resources/templates/list", query = ""): Promise<any[]> {
  const key = method === "tools/list" ? "tools" : method === "prompts/list" ? "prompts" : "resourceTemplates";
  const items: any[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 100; page++) {
    const meta = {
      "io.modelcontextprotocol/protocolVersion": MODERN_REVISION,
      "io.modelcontextprotocol/clientCapabilities": {},
      "io.modelcontextprotocol/clientInfo": { name: "context-raw", version: "1.0.0" },
    };
    const res = await fetch(`${url}/mcp${query}`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": MODERN_REVISION, "mcp-method": method },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: { ...(cursor ? { cursor } : {}), _meta: meta } }),
    });
    const text = await res.text();
    const body = String(res.headers.get("content-type")).startsWith("text/event-stream")
      ? text
          .split("\n")
          .filter((l) => l.startsWith("data:") && l.slice(5).trim() !== "")
          .map((l) => JSON.parse(l.slice(5)))
          .find((f) => "id" in f && !("method" in f))
      : JSON.parse(text);
    assert.ok(body?.result, `${method}${query}: ${text}`);
    items.push(...body.result[key]);
    cursor = body.result.nextCursor;
    if (!cursor) return items;
  }
  throw new Error(`${method}: more than 100 pages`);
}

/** The daemon's `/healthz` `context` once every definition is counted exactly and `ready` (given) holds. */
export function exactContext(health: () => Promise<any>, ready: (context: any) => boolean = () => true, what = "exact token counts"): Promise<any> {
  return waitFor(
    what,
    async () => {
      const c = (await health()).context;
      return c?.exact === true && ready(c) ? c : undefined;
    },
    60_000,
    50,
  );
}

/** The value of each series of one Prometheus gauge, by the value of `label`. */
export async function gaugeSeries(url: string, metric: string, label: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${metric}{`)) continue;
    const m = new RegExp(`${label}="([^"]*)"`).exec(line);
    assert.ok(m, line);
    out[m[1]] = Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return out;
}

/** An official v1 SDK client that declares elicitation and answers it as the v2 helpers do (ANSWERS.elicit). */
export async function connectV1Asking(transport: Transport, name = "context-v1") {
  const client = new Client({ name, version: "1.0.0" }, { capabilities: { elicitation: {} } });
  const rec = notificationRecorder();
  const asked: { method: string; params?: any }[] = [];
  client.fallbackNotificationHandler = rec.record;
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    asked.push({ method: "elicitation/create", params: req.params });
    return ANSWERS.elicit(req.params) as never;
  });
  await client.connect(transport);
  return { client, asked, notifications: rec.notifications, count: rec.count, waitNotification: rec.waitNotification, close: () => client.close() };
}
