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
 */
import { spawn } from "node:child_process";
import { openSync, closeSync, readFileSync } from "node:fs";
import { join } from "node:path";
import WebSocket from "ws";
import { StdioWireTransport } from "./stdio-wire.ts";
import { refusalMessage } from "./json-rpc-message.ts";
import { checkInbound, refusedMessage } from "./inbound-pipeline.ts";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import type { Config } from "../config.ts";
import { DaemonUnreachableError, Refusal, UsageError, messageOf } from "../errors.ts";
import { createLogger, type Logger } from "../logger.ts";
import { distDir } from "../package-root.ts";
import { readState, type DaemonState } from "../state-file.ts";
import { ensureHome } from "../home-dir.ts";
import { homeLockOwner, homeLockPath, tryLock, type HeldLock, type LockAttempt, type LockOwner } from "../home-lock.ts";
import { WS_SUBPROTOCOL } from "./websocket.ts";

const REINIT_PREFIX = "patchbay-bridge-reinit-";
/** ids of the bridge's own replays after a reconnect (resources/subscribe, logging/setLevel): their answers are swallowed */
const REPLAY_PREFIX = "patchbay-bridge-replay-";
/** the JSON-RPC code of a request in flight when the daemon connection was lost */
export const DAEMON_LOST = Refusal.DaemonLost.rpc;
const START_TIMEOUT_MS = 20_000;
const QUEUE_TIMEOUT_MS = 30_000;
/** after the daemon we started exits, how long another bridge's daemon may take to appear */
const LOST_RACE_GRACE_MS = 2_000;
/** a lost daemon that cannot be reached or restarted for this long ends the bridge (exit 1) */
const RECONNECT_GIVE_UP_MS = 60_000;

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

async function healthy(state: DaemonState): Promise<boolean> {
  try {
    const res = await fetch(`${state.url}/healthz`, { signal: AbortSignal.timeout(2_000) });
    // up is enough: a daemon still loading its plugins (status "loading"), or missing its
    // folder ("degraded"), serves, and the client hears of plugins as they arrive
    return res.ok && typeof ((await res.json()) as { status?: unknown }).status === "string";
  } catch {
    return false;
  }
}

/**
 * Returns the running daemon's state, starting a detached daemon first if none runs.
 *
 * The home's lock (home-lock.ts) says whether a daemon runs there even before it listens:
 * while a live process holds it, the bridge waits for that daemon's state file and health
 * instead of starting another (a slow daemon still loading, as Claude Desktop's retries
 * found). When nobody holds it, one bridge at a time starts a daemon: the one that takes
 * `stdio-start.lock`; the others wait for the daemon it starts.
 */
export async function ensureDaemon(config: Config, logger: Logger): Promise<DaemonState> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let child: SpawnedDaemon | undefined;
  let starting: HeldLock | undefined;
  let waitedOn: LockOwner | undefined;
  try {
    // Re-read on every round: a state file counts only while its port answers with its pid
    // (see readState), and the lock's holder may change.
    while (Date.now() < deadline) {
      const s = await readState(config.home);
      if (s && (await healthy(s))) return s;
      const owner = homeLockOwner(config.home);
      if (owner) waitedOn = owner;
      else if (!child) {
        const attempt = tryStartLock(config);
        if (attempt.ok) {
          starting = attempt.lock;
          // the lock may have been taken between our look and our start lock
          if (!homeLockOwner(config.home)) child = spawnDaemon(config, logger);
        }
      }
      // The daemon we started died and no live daemon holds the home: it could not start.
      // (Ours exits with "already running" when another daemon won the home: then wait on that one.)
      if (child?.exit && !owner && Date.now() - child.exit.at > LOST_RACE_GRACE_MS) {
        throw new DaemonUnreachableError(`could not start the daemon: it exited (${child.exit.how})${child.exit.detail ? `: ${child.exit.detail}` : ""}\nIts output: ${child.rawFile}; its log: ${child.logFile}`);
      }
      await sleep(100);
    }
  } finally {
    starting?.release();
  }
  const who = waitedOn && waitedOn.pid > 0 ? `the daemon (pid ${waitedOn.pid}) that holds ${homeLockPath(config.home)}` : "the daemon";
  throw new DaemonUnreachableError(`${who} did not become healthy within ${START_TIMEOUT_MS / 1000} s; see ${join(config.home, "daemon.log")}`);
}

/**
 * One attempt at `stdio-start.lock`. A home that cannot hold it (not a folder, not
 * writable) counts as taken by us: spawnDaemon then fails on the same home and says why.
 */
function tryStartLock(config: Config): LockAttempt {
  try {
    return tryLock(join(config.home, "stdio-start.lock"));
  } catch {
    return { ok: true, lock: { path: "", release: () => undefined } };
  }
}

interface SpawnedDaemon {
  logFile: string;
  /** the daemon's raw stdout and stderr */
  rawFile: string;
  exit?: { at: number; how: string; detail?: string };
}

/** The last lines of the daemon's log: where a daemon that failed to start said why. */
function logTail(file: string, from: number): string | undefined {
  try {
    const text = readFileSync(file, "utf8").slice(from);
    const lines = text.split("\n").filter((l) => l.trim());
    return lines.slice(-5).join("\n").slice(-2_000) || undefined;
  } catch {
    return undefined;
  }
}

function spawnDaemon(config: Config, logger: Logger): SpawnedDaemon {
  const logFile = join(config.home, "daemon.log");
  // The daemon writes its log to daemon.log itself, so that it rotates it (logMaxBytes). Its raw
  // stdout and stderr (start-up failures, Node's own warnings, output of children a plugin
  // starts with inherited stdio) go to a file of their own, emptied at each start: appended to
  // daemon.log through a descriptor the child holds, they would keep growing a file rotation
  // had already renamed and deleted, out of sight until the daemon exits.
  const rawFile = join(config.home, "daemon.stdio.log");
  let rawFd: number;
  ensureHome(config.home);
  try {
    rawFd = openSync(rawFile, "w");
  } catch (err) {
    throw new DaemonUnreachableError(`cannot start the daemon: cannot open ${rawFile}: ${messageOf(err)}`, { cause: err });
  }
  const args = [join(distDir, "cli.js"), "start", "--port", String(config.port), "--host", config.host, "--plugins", config.pluginsDir];
  if (config.configFile) args.push("--config", config.configFile);
  if (config.token) args.push("--token", config.token);
  logger.info({ args }, "no daemon running; starting one in the background");
  const spawned: SpawnedDaemon = { logFile: config.logFile ?? logFile, rawFile };
  const logEnv = config.logFile ? {} : { PATCHBAY_LOG_FILE: logFile };
  const child = spawn(process.execPath, args, { detached: true, windowsHide: true, stdio: ["ignore", rawFd, rawFd], env: { ...process.env, ...logEnv, PATCHBAY_HOME: config.home } });
  const exited = (how: string) => {
    spawned.exit ??= { at: Date.now(), how, detail: logTail(rawFile, 0) };
  };
  child.once("exit", (code, signal) => exited(signal ? `signal ${signal}` : `exit code ${code}`));
  child.once("error", (err) => exited(messageOf(err)));
  child.unref();
  closeSync(rawFd);
  return spawned;
}

function isRequest(m: JSONRPCMessage): m is JSONRPCMessage & { id: string | number; method: string } {
  return "method" in m && "id" in m && m.id !== undefined;
}
function isResponse(m: JSONRPCMessage): m is JSONRPCMessage & { id: string | number } {
  return !("method" in m) && "id" in m;
}

export async function runBridge(config: Config, opts: { profile?: string } = {}): Promise<void> {
  const logger = createLogger({ level: config.logLevel === "info" ? "warn" : config.logLevel, file: config.logFile });
  // limited as the daemon's WebSocket frames are: a longer message would close the whole
  // connection to the daemon (1009), failing every call in flight with it
  const stdio = new StdioWireTransport(process.stdin, process.stdout, { maxMessageBytes: config.maxBodyBytes });
  let ws: WebSocket | undefined;
  let connected = false;
  let closing = false;
  let initRequest: (JSONRPCMessage & { params?: unknown }) | undefined;
  let reinitCount = 0;
  /** client requests forwarded to the daemon and not yet answered */
  const inflight = new Map<string | number, string>();
  /** 2026-07-28: the client's open subscriptions/listen requests (a stream ends with its response or the client's cancel) */
  const listens = new Map<string | number, JSONRPCMessage>();
  /** listens re-sent after a reconnect, whose acknowledgement the client already had */
  const replayed = new Set<string | number>();
  const queue: { msg: JSONRPCMessage; at: number }[] = [];
  /**
   * 2025 era: the URIs the client holds a resources/subscribe on. A new daemon (or a new
   * session on the same one) knows nothing of them, so after a reconnect the bridge makes
   * them again; without this the client would never hear resources/updated again.
   */
  const subscribed = new Set<string>();
  /** subscribe requests forwarded and not yet answered: id → URI */
  const subscribing = new Map<string | number, string>();
  let replayCount = 0;
  /**
   * 2025 era: the level of the client's last accepted logging/setLevel. A new session starts
   * at the server's default, so without setting it again the client would get every level.
   */
  let logLevel: string | undefined;
  /** setLevel requests forwarded and not yet answered: id → level */
  const settingLevel = new Map<string | number, string>();

  const toClient = (msg: JSONRPCMessage) => void stdio.send(msg).catch((err) => logger.error({ err: messageOf(err) }, "stdout write failed"));
  const failRequest = (id: string | number, message: string) => toClient(refusalMessage(Refusal.DaemonLost, message, id));

  function forward(msg: JSONRPCMessage) {
    if (isRequest(msg)) inflight.set(msg.id, msg.method);
    ws!.send(JSON.stringify(msg));
  }

  stdio.onvalue = (value) => {
    // the inbound pipeline's checks (nesting, the v2 schema), answered here rather than
    // relayed; the daemon's /ws runs the rest of it (duplicate ids, busy marks, listen spans)
    const refused = checkInbound(value, "frame");
    if (refused) return void stdio.send(refusedMessage(refused)).catch(() => undefined);
    const msg = value as JSONRPCMessage;
    if (isRequest(msg) && msg.method === "initialize") initRequest = msg;
    if (isRequest(msg) && msg.method === "subscriptions/listen") listens.set(msg.id, msg);
    const uri = (msg as { params?: { uri?: unknown } }).params?.uri;
    if (isRequest(msg) && msg.method === "resources/subscribe" && typeof uri === "string") subscribing.set(msg.id, uri);
    if (isRequest(msg) && msg.method === "resources/unsubscribe" && typeof uri === "string") subscribed.delete(uri);
    const level = (msg as { params?: { level?: unknown } }).params?.level;
    if (isRequest(msg) && msg.method === "logging/setLevel" && typeof level === "string") settingLevel.set(msg.id, level);
    if ("method" in msg && msg.method === "notifications/cancelled") listens.delete((msg.params as { requestId?: string | number } | undefined)?.requestId ?? "");
    if (connected && ws?.readyState === WebSocket.OPEN) forward(msg);
    else queue.push({ msg, at: Date.now() });
  };
  let firstConnect: Promise<void> | undefined;
  // A client that closes its input at once still learns why the bridge could not start (an
  // unknown profile exits 2): the end of input waits for the first connection to settle.
  const onInputEnd = () => {
    if (firstConnect) void firstConnect.then(() => shutdown(0), () => undefined);
    else shutdown(0);
  };
  stdio.onclose = onInputEnd;
  process.stdin.on("end", onInputEnd);

  function shutdown(code: number) {
    if (closing) return;
    closing = true;
    ws?.close(1000, "client closed stdio");
    setTimeout(() => process.exit(code), 50).unref();
  }

  // Queued requests must not wait forever if the daemon never comes back.
  const reaper = setInterval(() => {
    const now = Date.now();
    for (let i = queue.length - 1; i >= 0; i--) {
      const { msg, at } = queue[i];
      if (now - at > QUEUE_TIMEOUT_MS) {
        queue.splice(i, 1);
        if (isRequest(msg)) failRequest(msg.id, "Patchbay daemon is unavailable (reconnecting); try again shortly");
      }
    }
  }, 1_000);
  reaper.unref();

  async function connect(isReconnect: boolean): Promise<void> {
    const state = await ensureDaemon(config, logger);
    const url = `${state.url.replace(/^http/, "ws")}/ws?via=stdio-bridge${opts.profile === undefined ? "" : `&profile=${encodeURIComponent(opts.profile)}`}`;
    const headers: Record<string, string> = {};
    if (state.token) headers.authorization = `Bearer ${state.token}`;
    if (state.bridgeKey) headers["x-patchbay-bridge-key"] = state.bridgeKey;
    const socket = new WebSocket(url, [WS_SUBPROTOCOL], { headers });
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
      socket.once("unexpected-response", (_req, res) => {
        if (res.statusCode !== Refusal.UnknownProfile.status || opts.profile === undefined) return reject(new DaemonUnreachableError(`daemon refused the connection: HTTP ${res.statusCode}`));
        // the daemon does not know the profile: a usage error (exit 2), with the daemon's words
        let body = "";
        res.setEncoding("utf8").on("data", (d: string) => (body += d));
        res.on("end", () => {
          let message = `daemon refused the connection: HTTP ${res.statusCode}`;
          try {
            message = (JSON.parse(body) as { error: { message: string } }).error.message;
          } catch {
            // not ours
          }
          reject(new UsageError(`--profile: ${message}`));
        });
      });
    });
    ws = socket;
    let reinitId: string | undefined;
    socket.on("message", (data) => {
      let msg: JSONRPCMessage;
      try {
        msg = JSON.parse(String(data));
      } catch {
        return;
      }
      if (!isResponse(msg) && "method" in msg && msg.method === "notifications/subscriptions/acknowledged") {
        const meta = (msg.params as { _meta?: Record<string, unknown> } | undefined)?._meta;
        const id = meta?.["io.modelcontextprotocol/subscriptionId"] as string | number | undefined;
        if (id !== undefined && replayed.delete(id)) {
          // the stream is back; what it listens to may have changed while it was gone
          const honored = (msg.params as { notifications?: Record<string, unknown> }).notifications ?? {};
          for (const kind of ["tools", "resources", "prompts"]) {
            if (honored[`${kind}ListChanged`]) toClient({ jsonrpc: "2.0", method: `notifications/${kind}/list_changed`, params: { _meta: { "io.modelcontextprotocol/subscriptionId": id } } } as JSONRPCMessage);
          }
          return;
        }
      }
      if (isResponse(msg)) listens.delete(msg.id);
      if (isResponse(msg) && typeof msg.id === "string" && msg.id.startsWith(REPLAY_PREFIX)) return;
      if (isResponse(msg) && subscribing.has(msg.id)) {
        if ("result" in msg) subscribed.add(subscribing.get(msg.id)!);
        subscribing.delete(msg.id);
      }
      if (isResponse(msg) && settingLevel.has(msg.id)) {
        if ("result" in msg) logLevel = settingLevel.get(msg.id);
        settingLevel.delete(msg.id);
      }
      if (isResponse(msg) && reinitId !== undefined && msg.id === reinitId) {
        reinitId = undefined;
        socket.send(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }));
        if (logLevel !== undefined) socket.send(JSON.stringify({ jsonrpc: "2.0", id: `${REPLAY_PREFIX}${++replayCount}`, method: "logging/setLevel", params: { level: logLevel } }));
        for (const uri of subscribed) socket.send(JSON.stringify({ jsonrpc: "2.0", id: `${REPLAY_PREFIX}${++replayCount}`, method: "resources/subscribe", params: { uri } }));
        markReady(true);
        return;
      }
      if (isResponse(msg)) inflight.delete(msg.id);
      toClient(msg);
    });
    socket.on("close", () => {
      if (ws !== socket) return;
      connected = false;
      if (closing) return;
      // Requests the daemon had not answered will never be answered: say so now.
      // (an open listen stream is not failed: it is re-opened on the next connection)
      for (const [id, method] of inflight) if (!listens.has(id)) failRequest(id, `Patchbay daemon connection lost during ${method}; the request may not have completed. Retry it.`);
      inflight.clear();
      subscribing.clear();
      settingLevel.clear();
      logger.warn("daemon connection lost; reconnecting");
      void reconnectLoop();
    });
    socket.on("error", (err) => logger.debug({ err: messageOf(err) }, "bridge socket error"));

    const markReady = (announce: boolean) => {
      connected = true;
      for (const { msg } of queue.splice(0)) forward(msg);
      if (announce) {
        for (const kind of ["tools", "resources", "prompts"]) toClient({ jsonrpc: "2.0", method: `notifications/${kind}/list_changed` } as JSONRPCMessage);
      }
    };
    if (isReconnect && initRequest) {
      // Replay the client's own initialize so the daemon sees the same client; swallow the answer.
      reinitId = `${REINIT_PREFIX}${++reinitCount}`;
      socket.send(JSON.stringify({ ...initRequest, id: reinitId }));
    } else {
      if (isReconnect) {
        for (const listen of listens.values()) {
          replayed.add((listen as { id: string | number }).id);
          forward(listen);
        }
      }
      markReady(false);
    }
  }

  async function reconnectLoop() {
    let delay = 100;
    const since = Date.now();
    while (!closing) {
      try {
        await connect(true);
        logger.warn("reconnected to the daemon");
        return;
      } catch (err) {
        if (Date.now() - since > RECONNECT_GIVE_UP_MS) {
          // Better a server the client shows as failed (with this on stderr) than one that never answers.
          process.stderr.write(`patchbay: lost the daemon and could not reach or restart it for ${RECONNECT_GIVE_UP_MS / 1000} s: ${messageOf(err)}\n`);
          shutdown(1);
          return;
        }
        logger.warn({ err: messageOf(err) }, "reconnect failed; retrying");
        await sleep(delay);
        delay = Math.min(delay * 2, 2_000);
      }
    }
  }

  await stdio.start();
  firstConnect = connect(false);
  await firstConnect;
}
