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

/** Default SessionInfo for a new session. */
export function newSessionInfo(id: string, transport: SessionInfo["transport"], extra: Partial<SessionInfo> = {}): SessionInfo {
  const now = Date.now();
  return { id, transport, startedAt: now, lastActivityAt: now, calls: 0, errors: 0, ...extra };
}

export type SessionAdmission =
  | { ok: true; info(id: string, extra?: Partial<SessionInfo>): SessionInfo }
  | { ok: false; refusal: HttpRefusal; message: string; headers: Record<string, string> };

export function admitSession(store: SessionStore, kind: TransportKind, req: IncomingMessage): SessionAdmission {
  const admitted = store.admit(kind);
  if (!admitted.ok) return { ok: false, refusal: Refusal.TooManySessions, message: `Too many open sessions (${admitted.reason}); try again later`, headers: { "retry-after": "5" } };
  return { ok: true, info: (id, extra) => newSessionInfo(id, kind, { ...extra, remoteAddress: req.socket.remoteAddress }) };
}
