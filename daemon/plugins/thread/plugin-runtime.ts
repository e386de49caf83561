/**
 * One plugin inside a worker thread: it imports the plugin's bundle, answers calls one
 * message at a time, and records its own span for each call so the host can show plugin
 * time apart from host time. A call may ask its client questions (ctx.sample / ctx.elicit /
 * ctx.roots, see call-asks.ts); how they reach the client is the host's business. It knows
 * nothing of sessions or transports, nor of the thread it runs in: a thread of its own
 * talks to it over `parentPort`, a shared one (worker groups) over a port per plugin
 * (worker-entry.ts).
 *
 * This file composes the parts: host-inbox.ts orders the host's messages, plugin-loader.ts
 * loads the plugin, call-runner.ts answers a call (the handlers by kind: call-dispatch.ts),
 * plugin-teardown.ts ends or parks it, host-outbox.ts posts back.
 */
import { BackgroundWork } from "./background-work.ts";
import { CallRunner } from "./call-runner.ts";
import { CallsInFlight } from "./calls-in-flight.ts";
import { ErrorSerializer } from "./error-serializer.ts";
import { HostInbox } from "./host-inbox.ts";
import { HostOutbox, type RuntimePort } from "./host-outbox.ts";
import { PluginLoader } from "./plugin-loader.ts";
import { PluginTeardown } from "./plugin-teardown.ts";
import type { HostToWorker } from "../worker-protocol.ts";

export type { RuntimePort } from "./host-outbox.ts";

/** Runs a plugin's load when its turn comes. */
export type LoadTurn = (load: () => Promise<void>) => Promise<void>;

/** A plugin runtime: hand it the host's messages, as they come. */
export interface PluginRuntime {
  receive(msg: HostToWorker | HostToWorker[]): void;
  /** Reports an error nobody caught (an unhandled rejection) as this plugin's log. */
  report(message: string, err: unknown): void;
}

/** The parts of one runtime that the host's messages reach. */
interface RuntimeParts {
  outbox: HostOutbox;
  calls: CallsInFlight;
  loader: PluginLoader;
  runner: CallRunner;
  teardown: PluginTeardown;
  loadTurn: LoadTurn;
}

function handleHostMessage(msg: HostToWorker, p: RuntimeParts): void {
  switch (msg.type) {
    case "load":
      void p.loadTurn(() => p.loader.load(msg));
      break;
    case "call":
      void p.loader.loaded.then((instance) => p.runner.run(instance, msg));
      break;
    case "cancel":
      p.calls.cancel(msg.id, msg.reason ?? "cancelled");
      break;
    case "client-responses":
      p.calls.receive(msg.id, msg.responses);
      break;
    case "ping":
      p.outbox.post({ type: "pong", id: msg.id, heapUsed: process.memoryUsage().heapUsed });
      break;
    case "park":
      p.teardown.park(msg.force);
      break;
    case "teardown":
      p.teardown.teardown();
      break;
  }
}

/**
 * Serves one plugin over `port`. `preloaded`: the thread's imports of the modules plugins
 * most likely use, which the plugin's own import waits for. `shared`: other plugins run in
 * the same thread, so what the thread keeps running cannot be told apart per plugin and
 * parking is refused (the host does not park shared plugins). `loadTurn`: when this
 * plugin's load may run (a shared thread loads its plugins one at a time, so that each
 * load's time, counted from "load-started", is its own).
 */
export function createPluginRuntime(port: RuntimePort, preloaded: Promise<unknown>, shared = false, loadTurn: LoadTurn = (load) => load()): PluginRuntime {
  const outbox = new HostOutbox(port);
  const errors = new ErrorSerializer();
  const calls = new CallsInFlight(outbox);
  const background = new BackgroundWork(shared);
  const loader = new PluginLoader({ outbox, errors, calls, background, preloaded, shared });
  const runner = new CallRunner(outbox, calls, errors);
  const teardown = new PluginTeardown(outbox, errors, calls, background, () => loader.plugin);
  const parts: RuntimeParts = { outbox, calls, loader, runner, teardown, loadTurn };
  const inbox = new HostInbox((msg) => handleHostMessage(msg, parts));
  return {
    receive: (msg) => inbox.receive(msg),
    report: (message, err) => outbox.post({ type: "log", level: "error", message, data: errors.serialize(err) }),
  };
}
