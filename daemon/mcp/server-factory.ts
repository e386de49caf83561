/**
 * Builds the MCP server instances every transport serves: one low-level SDK v2 `Server`
 * (patchbay-server.ts) with the handlers of every feature (tools.ts, resources.ts,
 * prompts.ts, completions.ts, subscriptions.ts), all reading the live registry. The same
 * instance type serves both eras: a pooled instance answers stateless 2026-07-28 requests
 * on /mcp (transports/server-pool.ts), a per-session instance a 2025-era session, a per-connection
 * instance a WebSocket or stdio client of either era.
 */
import { createRequestStateCodec, type RequestStateCodec } from "@modelcontextprotocol/server";
import { randomBytes } from "node:crypto";
import type { Connection, McpDeps, ReplayState } from "./call-context.ts";
import { PatchbayServer } from "./patchbay-server.ts";
import { installTools } from "./tools.ts";
import { installResources } from "./resources.ts";
import { installPrompts } from "./prompts.ts";
import { installCompletions } from "./completions.ts";
import { installSubscriptions } from "./subscriptions.ts";

/** Signs the requestState of 2026-07-28 input_required rounds. */
export function createReplayCodec(opts: { key?: string; ttlSeconds: number }): RequestStateCodec<ReplayState> {
  // Without a configured key every process makes its own: rounds must then come back to
  // this process (fine for one daemon; a fleet shares PATCHBAY_REQUEST_STATE_KEY).
  const key = opts.key ?? randomBytes(32);
  return createRequestStateCodec<ReplayState>({
    key,
    ttlSeconds: opts.ttlSeconds,
    // A state minted for tools/call never passes for prompts/get; the target (tool name,
    // prompt name, URI) is checked against the payload in call-context.ts, since the codec's
    // binding sees only the context, not the params.
    bind: (ctx) => ctx.mcpReq.method,
  });
}

/** A fresh server for one connection (or the pool), with every feature's handlers installed. */
export function newServer(deps: McpDeps, conn: Connection): PatchbayServer {
  const server = new PatchbayServer(deps, conn);
  installTools(server);
  installResources(server);
  installPrompts(server);
  installCompletions(server);
  installSubscriptions(server);
  return server;
}
