/**
 * The stdio bridge's WebSocket to the daemon: opening `/ws` as a bridge (its key and token from
 * the state file, the client's profile), and retrying a lost link with backoff until it is back
 * or it is time to give up.
 */
import { setTimeout as sleep } from "node:timers/promises";
import WebSocket from "ws";
import { DaemonUnreachableError, Refusal, UsageError, messageOf } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { DaemonState } from "../state-file.ts";
import { WS_SUBPROTOCOL } from "./websocket.ts";

/** a lost daemon that cannot be reached or restarted for this long ends the bridge (exit 1) */
const RECONNECT_GIVE_UP_MS = 60_000;

/**
 * Opens the daemon's /ws as a stdio bridge. `?via=stdio-bridge` with the state file's bridge key
 * is what makes the daemon show the session as the bridge's and never evict it as idle.
 */
export async function openBridgeSocket(state: DaemonState, profile: string | undefined): Promise<WebSocket> {
  const url = `${state.url.replace(/^http/, "ws")}/ws?via=stdio-bridge${profile === undefined ? "" : `&profile=${encodeURIComponent(profile)}`}`;
  const headers: Record<string, string> = {};
  if (state.token) headers.authorization = `Bearer ${state.token}`;
  if (state.bridgeKey) headers["x-patchbay-bridge-key"] = state.bridgeKey;
  const socket = new WebSocket(url, [WS_SUBPROTOCOL], { headers });
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
    socket.once("unexpected-response", (_req, res) => {
      if (res.statusCode !== Refusal.UnknownProfile.status || profile === undefined) return reject(new DaemonUnreachableError(`daemon refused the connection: HTTP ${res.statusCode}`));
      // the daemon does not know the profile: a usage error (exit 2), with the daemon's words
      let body = "";
      res.setEncoding("utf8").on("data", (d: string) => (body += d));
      res.on("end", () => reject(new UsageError(`--profile: ${refusalText(body, res.statusCode)}`)));
    });
  });
  return socket;
}

function refusalText(body: string, status: number | undefined): string {
  try {
    return (JSON.parse(body) as { error: { message: string } }).error.message;
  } catch {
    return `daemon refused the connection: HTTP ${status}`; // not ours
  }
}

/**
 * Calls `connect` until it succeeds, backing off from 100 ms to 2 s, while `closing()` is false.
 * Gives up after RECONNECT_GIVE_UP_MS: better a server the client shows as failed (with why on
 * stderr) than one that never answers.
 */
export async function reconnectWithBackoff(connect: () => Promise<void>, opts: { logger: Logger; closing: () => boolean; giveUp: () => void }): Promise<void> {
  let delay = 100;
  const since = Date.now();
  while (!opts.closing()) {
    try {
      await connect();
      opts.logger.warn("reconnected to the daemon");
      return;
    } catch (err) {
      if (Date.now() - since > RECONNECT_GIVE_UP_MS) {
        process.stderr.write(`patchbay: lost the daemon and could not reach or restart it for ${RECONNECT_GIVE_UP_MS / 1000} s: ${messageOf(err)}\n`);
        opts.giveUp();
        return;
      }
      opts.logger.warn({ err: messageOf(err) }, "reconnect failed; retrying");
      await sleep(delay);
      delay = Math.min(delay * 2, 2_000);
    }
  }
}
