/**
 * `patchbay stdio` attached to the daemon (the Claude Desktop entry). It finds the running
 * daemon through its state file — starting it detached and waiting until it is healthy if
 * none runs — and relays JSON-RPC between stdin/stdout and the daemon's `/ws`, so the
 * session, its client name and its calls show in the daemon like any other.
 *
 * If the daemon goes away, requests in flight get a clear error at once (never a hang); the
 * bridge reconnects (starting the daemon again if needed), replays the client's original
 * `initialize`, and sends `list_changed` so the client re-lists. A 2026-07-28 client has no
 * initialize to replay, but its `subscriptions/listen` streams lived on the lost connection:
 * they are re-opened under their own ids (their new acknowledgements swallowed) and each
 * tells the client to re-list the kinds it listens to. stdout carries nothing but JSON-RPC.
 *
 * The parts: find-or-start-daemon.ts (the daemon), bridge-socket.ts (the WebSocket and its
 * reconnects), bridge-relay-state.ts (what the bridge remembers across a lost link),
 * bridge-held-messages.ts (what waits for a link), bridge-client-stdio.ts (stdin/stdout).
 * This file wires them: one link at a time, and what each event means for the others.
 */
import WebSocket from "ws";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { Config } from "../config.ts";
import { Refusal, messageOf } from "../errors.ts";
import { createLogger, type Logger } from "../logger.ts";
import { refusalMessage } from "./json-rpc-message.ts";
import { ensureDaemon } from "./find-or-start-daemon.ts";
import { checkAttach } from "./bridge-attach-checks.ts";
import { openBridgeSocket, reconnectWithBackoff } from "./bridge-socket.ts";
import { RelayState } from "./bridge-relay-state.ts";
import { HeldMessages } from "./bridge-held-messages.ts";
import { ClientStdio } from "./bridge-client-stdio.ts";

/** the JSON-RPC code of a request in flight when the daemon connection was lost */
export const DAEMON_LOST = Refusal.DaemonLost.rpc;

export async function runBridge(config: Config, opts: { profile?: string } = {}): Promise<void> {
  const logger = createLogger({ level: config.logLevel === "info" ? "warn" : config.logLevel, file: config.logFile });
  const client = new ClientStdio(config.maxBodyBytes, logger);
  const bridge = new StdioBridge(config, opts.profile, logger, client);
  await client.start();
  await bridge.start();
}

class StdioBridge {
  private ws: WebSocket | undefined;
  /** the current link has finished its reopening: client messages go straight through */
  private connected = false;
  private closing = false;
  private firstConnect: Promise<void> | undefined;
  private readonly relay = new RelayState();
  private readonly held: HeldMessages;

  constructor(
    private readonly config: Config,
    private readonly profile: string | undefined,
    private readonly logger: Logger,
    private readonly client: ClientStdio,
  ) {
    this.held = new HeldMessages((id) => this.failRequest(id, "Patchbay daemon is unavailable (reconnecting); try again shortly"));
    client.onmessage = (msg) => this.fromClient(msg);
    client.onInputEnd(() => this.inputEnded());
  }

  async start(): Promise<void> {
    this.firstConnect = this.connect(false);
    await this.firstConnect;
  }

  private fromClient(msg: JSONRPCMessage): void {
    this.relay.fromClient(msg);
    if (this.connected && this.ws?.readyState === WebSocket.OPEN) this.forward(msg);
    else this.held.hold(msg);
  }

  /**
   * A client that closes its input at once still learns why the bridge could not start (an
   * unknown profile exits 2): the end of input waits for the first connection to settle.
   */
  private inputEnded(): void {
    if (this.firstConnect) void this.firstConnect.then(() => this.shutdown(0), () => undefined);
    else this.shutdown(0);
  }

  private shutdown(code: number): void {
    if (this.closing) return;
    this.closing = true;
    this.ws?.close(1000, "client closed stdio");
    setTimeout(() => process.exit(code), 50).unref();
  }

  private forward(msg: JSONRPCMessage): void {
    this.relay.forwarded(msg);
    this.ws!.send(JSON.stringify(msg));
  }

  private failRequest(id: string | number, message: string): void {
    this.client.send(refusalMessage(Refusal.DaemonLost, message, id));
  }

  private async connect(isReconnect: boolean): Promise<void> {
    const state = await ensureDaemon(this.config, this.logger);
    // the daemon found at start: a loop back to the one that started this bridge, or another version
    if (!isReconnect) checkAttach(state);
    const socket = await openBridgeSocket(state, this.profile);
    this.ws = socket;
    socket.on("message", (data) => this.fromDaemon(socket, data));
    socket.on("close", () => this.linkClosed(socket));
    socket.on("error", (err) => this.logger.debug({ err: messageOf(err) }, "bridge socket error"));
    const reopening = isReconnect ? this.relay.reopening() : { listens: [] };
    // a replayed initialize must be answered before anything else goes to the new session
    if ("reinit" in reopening) return void socket.send(JSON.stringify(reopening.reinit));
    for (const listen of reopening.listens) this.forward(listen);
    this.ready([]);
  }

  /** The link takes client messages again: first those held while it was down. */
  private ready(announce: JSONRPCMessage[]): void {
    this.connected = true;
    for (const msg of this.held.takeAll()) this.forward(msg);
    for (const msg of announce) this.client.send(msg);
  }

  private fromDaemon(socket: WebSocket, data: WebSocket.RawData): void {
    let msg: JSONRPCMessage;
    try {
      msg = JSON.parse(String(data));
    } catch {
      return;
    }
    const outcome = this.relay.fromDaemon(msg);
    if (outcome.kind === "relay") this.client.send(msg);
    else if (outcome.kind === "notify") for (const m of outcome.messages) this.client.send(m);
    else if (outcome.kind === "reinitialized") {
      for (const m of outcome.replays) socket.send(JSON.stringify(m));
      this.ready(outcome.announce);
    }
  }

  private linkClosed(socket: WebSocket): void {
    if (this.ws !== socket) return;
    this.connected = false;
    if (this.closing) return;
    // Requests the daemon had not answered will never be answered: say so now.
    for (const { id, method } of this.relay.linkLost()) this.failRequest(id, `Patchbay daemon connection lost during ${method}; the request may not have completed. Retry it.`);
    this.logger.warn("daemon connection lost; reconnecting");
    void reconnectWithBackoff(() => this.connect(true), { logger: this.logger, closing: () => this.closing, giveUp: () => this.shutdown(1) });
  }
}
