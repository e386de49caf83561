/**
 * Opening what the store calls a session:
 * - `openLegacySession`: a 2025-era session over a transport that carries one (Streamable
 *   HTTP with Mcp-Session-Id, legacy HTTP+SSE): one server instance, connected directly.
 * - `serveConnection`: a WebSocket or stdio connection, which speaks either era. The SDK's
 *   `serveStdio` owns the era decision: a connection that opens with `server/discover` (or
 *   any request carrying the 2026-07-28 envelope) is served statelessly, one that opens
 *   with `initialize` gets a 2025 session; it also answers `subscriptions/listen` and routes
 *   the instance's change notifications onto the listen streams.
 * Both register the session with the store (admission happened before, in the transport),
 * hear the store's change fan-out, and leave the store when the transport closes.
 */
import type { McpServerFactory, Transport } from "@modelcontextprotocol/server";
import { serveStdio } from "@modelcontextprotocol/server/stdio";
import { messageOf } from "../errors.ts";
import { clipString } from "../clip-string.ts";
import type { Profile } from "../profiles.ts";
import type { SessionInfo } from "../session-store.ts";
import { recordSessionClosed, recordSessionOpened } from "../telemetry/instrumentation.ts";
import type { Connection, McpDeps } from "../mcp/call-context.ts";
import { newServer } from "../mcp/server-factory.ts";
import type { PatchbayServer } from "../mcp/patchbay-server.ts";
import { connectionListener, listenInterest, releaseSubscriptions } from "../mcp/subscriptions.ts";
import { SessionInbound, StreamInbound, type Framing } from "./inbound-pipeline.ts";

/** the longest client name or version kept for a session */
const MAX_CLIENT_NAME = 256;

/** Store bookkeeping shared by both kinds: add now, forget (once) when the transport closes. */
function register(deps: McpDeps, info: SessionInfo, handle: { transport?: unknown; current: () => PatchbayServer | undefined; close: () => Promise<void>; release: () => void }) {
  const log = deps.logger.child({ session: info.id, transport: info.transport });
  let closed = false;
  const cleanup = (reason: string) => {
    if (closed) return;
    closed = true;
    // closed or evicted: its resource subscriptions end here, whichever way it went
    handle.release();
    deps.store.delete(info.id, reason);
    recordSessionClosed(info);
    log.info({ reason }, "session closed");
  };
  deps.store.add({
    info,
    transport: handle.transport,
    ...connectionListener(handle.current),
    close: async (reason) => {
      cleanup(reason);
      await handle.close().catch(() => undefined);
    },
  });
  recordSessionOpened(info);
  return { log, cleanup };
}

/** Names the session once its 2025 handshake is complete. */
function onInitialized(server: PatchbayServer, info: SessionInfo, log: McpDeps["logger"]) {
  server.oninitialized = () => {
    server.conn.initialized = true;
    const client = server.getClientVersion();
    // kept for the session's life and shown on the dashboard: a copy of a bounded prefix
    info.clientName = client?.name === undefined ? undefined : clipString(client.name, MAX_CLIENT_NAME);
    info.clientVersion = client?.version === undefined ? undefined : clipString(client.version, MAX_CLIENT_NAME);
    info.protocolVersion = server.getNegotiatedProtocolVersion();
    log.info({ client: client?.name, protocolVersion: info.protocolVersion }, "session initialized");
  };
}

/**
 * A 2025-era session on a transport made for one (Streamable HTTP, HTTP+SSE). Resolves
 * once connected; the session ends when the transport closes.
 */
export async function openLegacySession(deps: McpDeps, transport: Transport, info: SessionInfo, profile?: Profile): Promise<PatchbayServer> {
  if (profile) info.profile = profile.name;
  const conn: Connection = { transport: info.transport, era: "legacy", session: info, profile };
  const server = newServer(deps, conn);
  let open: PatchbayServer | undefined = server;
  const { log, cleanup } = register(deps, info, { transport, current: () => open, close: () => server.close(), release: () => releaseSubscriptions(server) });
  onInitialized(server, info, log);
  server.onclose = () => {
    open = undefined;
    cleanup("transport closed");
  };
  server.onerror = (err) => log.debug({ err: messageOf(err) }, "session protocol error");
  await server.connect(transport);
  return server;
}

/**
 * A WebSocket or stdio connection, either era (the first message decides). `framing` is the
 * connection's wire; its values go through the inbound pipeline (StreamInbound), and
 * serveStdio owns the result from here. `hold`: a stage between the pipeline and the SDK
 * (a standalone stdio daemon holds requests until its plugins have loaded).
 */
export function serveConnection(deps: McpDeps, framing: Framing, info: SessionInfo, profile?: Profile, opts: { hold?: (t: Transport) => Transport } = {}): { close(): Promise<void> } {
  if (profile) info.profile = profile.name;
  let current: PatchbayServer | undefined;
  /** every instance serveStdio made here (a probe and the one serving), whose subscriptions end with the connection */
  const made: PatchbayServer[] = [];
  // a connection waiting on a long call, or holding a 2026-07-28 listen stream open, is busy
  // (not idle) from the request's acceptance until its answer, as on every transport
  const session = new SessionInbound(deps.store, info.id, { listen: { info, interest: (params) => listenInterest(deps.registry, params, profile) } });
  const inbound = new StreamInbound(framing, session, () => {
    current = undefined;
    cleanup("transport closed");
  });
  const transport = opts.hold ? opts.hold(inbound) : inbound;
  // serveStdio builds an instance per connection, plus a probe instance it discards when a
  // client that opened with server/discover falls back to initialize.
  const factory: McpServerFactory = ({ era }) => {
    const server = newServer(deps, { transport: info.transport, era, session: info, profile });
    onInitialized(server, info, log);
    server.onerror = (err) => log.debug({ err: messageOf(err) }, "connection protocol error");
    server.onclose = () => {
      if (current === server) current = undefined;
    };
    current = server;
    made.push(server);
    return server;
  };
  const served = serveStdio(factory, { transport, onerror: (err) => log.debug({ err: messageOf(err) }, "connection error") });
  const { log, cleanup } = register(deps, info, { current: () => current, close: () => served.close(), release: () => made.forEach(releaseSubscriptions) });
  return served;
}
