/**
 * Every open MCP session, whatever its transport. This is the one place session state
 * lives, so a stateless or shared-store mode can replace it later without touching
 * transports. It also enforces the open-session limit and the idle timeout.
 */
import { EventEmitter } from "node:events";

export type TransportKind = "stdio" | "streamable-http" | "sse" | "websocket";

export interface SessionInfo {
  id: string;
  transport: TransportKind;
  clientName?: string;
  clientVersion?: string;
  protocolVersion?: string;
  /** set when the session came through `patchbay stdio` attached to the daemon */
  bridged?: boolean;
  remoteAddress?: string;
  startedAt: number;
  lastActivityAt: number;
  calls: number;
  errors: number;
}

export interface SessionHandle {
  info: SessionInfo;
  /** Ends the session and frees all it holds (transport, server, pending calls). */
  close(reason: string): Promise<void>;
}

export interface SessionStoreEvents {
  opened: [info: SessionInfo];
  closed: [info: SessionInfo, reason: string];
}

export class SessionStore extends EventEmitter<SessionStoreEvents> {
  private sessions = new Map<string, SessionHandle>();
  private sweeper?: NodeJS.Timeout;

  constructor(private readonly limits: { maxSessions: number; idleTimeoutMs: number }) {
    super();
    const every = Math.max(1_000, Math.min(60_000, Math.floor(limits.idleTimeoutMs / 4)));
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  hasRoom(): boolean {
    return this.sessions.size < this.limits.maxSessions;
  }

  add(handle: SessionHandle): void {
    this.sessions.set(handle.info.id, handle);
    this.emit("opened", handle.info);
  }

  get(id: string): SessionHandle | undefined {
    return this.sessions.get(id);
  }

  touch(id: string): void {
    const s = this.sessions.get(id);
    if (s) s.info.lastActivityAt = Date.now();
  }

  /** Forget a session (its transport already closed). */
  delete(id: string, reason: string): void {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    this.emit("closed", s.info, reason);
  }

  list(): SessionInfo[] {
    return [...this.sessions.values()].map((s) => s.info);
  }

  async closeAll(reason: string): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.allSettled([...this.sessions.values()].map((s) => s.close(reason)));
  }

  private sweep() {
    const now = Date.now();
    for (const s of this.sessions.values()) {
      // a stdio session is its own process's only client; it ends with the pipe, not a timer
      if (s.info.transport === "stdio") continue;
      if (now - s.info.lastActivityAt > this.limits.idleTimeoutMs) void s.close("idle timeout");
    }
  }
}
