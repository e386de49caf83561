/**
 * Admitting a new session, the same for every transport that opens one (a 2025-era
 * `initialize` on /mcp, legacy `GET /sse`, a WebSocket upgrade; a standalone stdio daemon's
 * one session is not admitted): a slot in the session table, or the refusal to answer with
 * (503 with Retry-After, as an HTTP response or an upgrade refusal), and the SessionInfo the
 * session is then opened under.
 */
import type { IncomingMessage } from "node:http";
import { Refusal } from "../errors.ts";
import type { HttpRefusal } from "../http-server.ts";
import type { SessionInfo, SessionStore, TransportKind } from "../session-store.ts";
import { newSessionInfo } from "./connections.ts";

export type SessionAdmission =
  | { ok: true; info(id: string, extra?: Partial<SessionInfo>): SessionInfo }
  | { ok: false; refusal: HttpRefusal; message: string; headers: Record<string, string> };

export function admitSession(store: SessionStore, kind: TransportKind, req: IncomingMessage): SessionAdmission {
  const admitted = store.admit(kind);
  if (!admitted.ok) return { ok: false, refusal: Refusal.TooManySessions, message: `Too many open sessions (${admitted.reason}); try again later`, headers: { "retry-after": "5" } };
  return { ok: true, info: (id, extra) => newSessionInfo(id, kind, { ...extra, remoteAddress: req.socket.remoteAddress }) };
}
