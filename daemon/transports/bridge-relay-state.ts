/**
 * What the stdio bridge remembers of the client's conversation with the daemon, so that losing
 * the daemon costs the client as little as possible: the requests in flight (answered with an
 * error at once when the link drops, never left hanging), and what a new daemon session must be
 * told again — the client's `initialize` (2025 era), its `subscriptions/listen` streams
 * (2026-07-28), its resources/subscribe URIs and its logging level. One class instead of loose
 * maps in the relay loop, so each message's effect on that memory reads in one place. It sends
 * nothing itself: the bridge asks it what to do and does it.
 */
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";

type Id = string | number;
type Request = JSONRPCMessage & { id: Id; method: string; params?: unknown };

/** ids of the bridge's replayed initialize after a reconnect: its answer is swallowed */
const REINIT_PREFIX = "patchbay-bridge-reinit-";
/** ids of the bridge's own replays after a reconnect (resources/subscribe, logging/setLevel): their answers are swallowed */
const REPLAY_PREFIX = "patchbay-bridge-replay-";
const LIST_KINDS = ["tools", "resources", "prompts"] as const;
const SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId";

export function isRequest(m: JSONRPCMessage): m is Request {
  return "method" in m && "id" in m && m.id !== undefined;
}
function isResponse(m: JSONRPCMessage): m is JSONRPCMessage & { id: Id } {
  return !("method" in m) && "id" in m;
}

/** `notifications/<kind>/list_changed`, tagged with a listen stream's id when it belongs to one */
function listChanged(kind: string, subscriptionId?: Id): JSONRPCMessage {
  const params = subscriptionId === undefined ? undefined : { _meta: { [SUBSCRIPTION_ID]: subscriptionId } };
  return { jsonrpc: "2.0", method: `notifications/${kind}/list_changed`, ...(params && { params }) } as JSONRPCMessage;
}

/** What the bridge does with one message from the daemon. */
export type DaemonMessageOutcome =
  /** pass it to the client unchanged */
  | { kind: "relay" }
  /** an answer to the bridge's own replay: the client never asked */
  | { kind: "swallow" }
  /** a re-opened listen stream is back: these go to the client instead (possibly none) */
  | { kind: "notify"; messages: JSONRPCMessage[] }
  /** the replayed initialize was answered: send `replays` to the daemon, then `announce` to the client */
  | { kind: "reinitialized"; replays: JSONRPCMessage[]; announce: JSONRPCMessage[] };

/** The first step on a new link after a reconnect. */
export type Reopening =
  /** 2025 era: replay the client's initialize (then wait for its answer before relaying) */
  | { reinit: JSONRPCMessage }
  /** 2026-07-28 (no initialize): re-open these listen streams under their own ids, relay at once */
  | { listens: JSONRPCMessage[] };

export class RelayState {
  private initRequest: Request | undefined;
  private reinitCount = 0;
  private replayCount = 0;
  /** the replayed initialize on the current link, until its answer */
  private reinitId: string | undefined;
  /** client requests forwarded to the daemon and not yet answered: id → method */
  private readonly inflight = new Map<Id, string>();
  /** 2026-07-28: the client's open subscriptions/listen requests (a stream ends with its response or the client's cancel) */
  private readonly listens = new Map<Id, JSONRPCMessage>();
  /** listens re-sent after a reconnect, whose acknowledgement the client already had */
  private readonly replayed = new Set<Id>();
  /**
   * 2025 era: the URIs the client holds a resources/subscribe on. A new daemon (or a new
   * session on the same one) knows nothing of them, so after a reconnect the bridge makes
   * them again; without this the client would never hear resources/updated again.
   */
  private readonly subscribed = new Set<string>();
  /** subscribe requests forwarded and not yet answered: id → URI */
  private readonly subscribing = new Map<Id, string>();
  /**
   * 2025 era: the level of the client's last accepted logging/setLevel. A new session starts
   * at the server's default, so without setting it again the client would get every level.
   */
  private logLevel: string | undefined;
  /** setLevel requests forwarded and not yet answered: id → level */
  private readonly settingLevel = new Map<Id, string>();

  /** Notes what a client message means for a later reconnect; called whether it goes out now or waits for a link. */
  fromClient(msg: JSONRPCMessage): void {
    if ("method" in msg && msg.method === "notifications/cancelled") this.listens.delete((msg.params as { requestId?: Id } | undefined)?.requestId ?? "");
    if (!isRequest(msg)) return;
    const params = msg.params as { uri?: unknown; level?: unknown } | undefined;
    if (msg.method === "initialize") this.initRequest = msg;
    else if (msg.method === "subscriptions/listen") this.listens.set(msg.id, msg);
    else if (msg.method === "resources/subscribe" && typeof params?.uri === "string") this.subscribing.set(msg.id, params.uri);
    else if (msg.method === "resources/unsubscribe" && typeof params?.uri === "string") this.subscribed.delete(params.uri);
    else if (msg.method === "logging/setLevel" && typeof params?.level === "string") this.settingLevel.set(msg.id, params.level);
  }

  /** A client message went to the daemon: a request is now in flight until answered. */
  forwarded(msg: JSONRPCMessage): void {
    if (isRequest(msg)) this.inflight.set(msg.id, msg.method);
  }

  fromDaemon(msg: JSONRPCMessage): DaemonMessageOutcome {
    const reopened = this.reopenedListen(msg);
    if (reopened) return { kind: "notify", messages: reopened };
    if (!isResponse(msg)) return { kind: "relay" };
    this.listens.delete(msg.id);
    if (typeof msg.id === "string" && msg.id.startsWith(REPLAY_PREFIX)) return { kind: "swallow" };
    this.settle(msg);
    if (this.reinitId !== undefined && msg.id === this.reinitId) {
      this.reinitId = undefined;
      return { kind: "reinitialized", replays: this.replays(), announce: LIST_KINDS.map((k) => listChanged(k)) };
    }
    this.inflight.delete(msg.id);
    return { kind: "relay" };
  }

  /**
   * The acknowledgement of a listen the bridge re-opened: the client had its own long ago, so it
   * is swallowed, and what the stream listens to may have changed while it was gone — hence a
   * list_changed for each kind the daemon honours. Undefined for any other message.
   */
  private reopenedListen(msg: JSONRPCMessage): JSONRPCMessage[] | undefined {
    if (!("method" in msg) || msg.method !== "notifications/subscriptions/acknowledged") return undefined;
    const params = msg.params as { _meta?: Record<string, unknown>; notifications?: Record<string, unknown> } | undefined;
    const id = params?._meta?.[SUBSCRIPTION_ID] as Id | undefined;
    if (id === undefined || !this.replayed.delete(id)) return undefined;
    const honored = params?.notifications ?? {};
    return LIST_KINDS.filter((kind) => honored[`${kind}ListChanged`]).map((kind) => listChanged(kind, id));
  }

  /** Only an accepted subscribe or setLevel counts: a refused one must not be replayed. */
  private settle(msg: JSONRPCMessage & { id: Id }): void {
    const uri = this.subscribing.get(msg.id);
    if (uri !== undefined) {
      if ("result" in msg) this.subscribed.add(uri);
      this.subscribing.delete(msg.id);
    }
    const level = this.settingLevel.get(msg.id);
    if (level !== undefined) {
      if ("result" in msg) this.logLevel = level;
      this.settingLevel.delete(msg.id);
    }
  }

  /** After the replayed initialize: what the lost session had been told, under the bridge's own ids. */
  private replays(): JSONRPCMessage[] {
    const out = [{ jsonrpc: "2.0", method: "notifications/initialized" }] as JSONRPCMessage[];
    if (this.logLevel !== undefined) out.push({ jsonrpc: "2.0", id: `${REPLAY_PREFIX}${++this.replayCount}`, method: "logging/setLevel", params: { level: this.logLevel } });
    for (const uri of this.subscribed) out.push({ jsonrpc: "2.0", id: `${REPLAY_PREFIX}${++this.replayCount}`, method: "resources/subscribe", params: { uri } });
    return out;
  }

  /** A new link after a reconnect: what to send first. */
  reopening(): Reopening {
    if (this.initRequest) {
      this.reinitId = `${REINIT_PREFIX}${++this.reinitCount}`;
      return { reinit: { ...this.initRequest, id: this.reinitId } };
    }
    for (const id of this.listens.keys()) this.replayed.add(id);
    return { listens: [...this.listens.values()] };
  }

  /**
   * The link dropped: the requests the daemon had not answered, which never will be (an open
   * listen stream is not among them: it is re-opened on the next link). Forgets what belonged
   * to the lost link.
   */
  linkLost(): { id: Id; method: string }[] {
    const lost = [...this.inflight].filter(([id]) => !this.listens.has(id)).map(([id, method]) => ({ id, method }));
    this.inflight.clear();
    this.subscribing.clear();
    this.settingLevel.clear();
    this.reinitId = undefined;
    return lost;
  }
}
