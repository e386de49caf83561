/**
 * The code a plugin worker thread starts with. A thread of its own serves one plugin over
 * `parentPort`; a worker group's shared thread (`workerData.shared`) serves each plugin the
 * host attaches over a MessagePort of its own, until the host closes that port. The plugin side
 * of the protocol is plugin-runtime.ts.
 */
import { parentPort, workerData } from "node:worker_threads";
import { createPluginRuntime, type LoadTurn, type PluginRuntime } from "./plugin-runtime.ts";
import type { HostToWorker, ThreadControl } from "../worker-protocol.ts";
import { trackSpawnedChildren } from "./child-reporter.ts";

// Stack traces must name the plugin's own file:line, not the bundle in the cache folder.
process.setSourceMapsEnabled(true);
// Children the plugin starts are reported to the main thread, which ends them with the daemon (child-reporter.ts, host/child-processes.ts).
trackSpawnedChildren();

const port = parentPort!;
const data = (workerData ?? {}) as { preload?: string[]; shared?: boolean };
// Modules the plugin will most likely import, loaded while the thread waits as a spare. A
// failure here is the plugin's to report, when its own import fails the same way.
const preloaded = Promise.all((data.preload ?? []).map((url) => import(url).catch(() => undefined)));

if (data.shared) {
  // One load at a time: the host times each from its "load-started", so a load must not
  // share its time with others' imports and setups.
  let loads: Promise<void> = Promise.resolve();
  port.on("message", (msg: ThreadControl) => {
    // the group asks whether the thread still answers at all (worker-group.ts)
    if (msg.type === "ping") return port.postMessage({ type: "pong", id: msg.id, heapUsed: process.memoryUsage().heapUsed });
    if (msg.type !== "attach") return;
    // a load the host gave up on (its port closed) must not hold up the loads after it, nor
    // run at all if its turn comes after that
    let portClosed = false;
    const closed = new Promise<void>((r) => msg.port.once("close", () => ((portClosed = true), r())));
    const loadTurn: LoadTurn = (load) => (loads = loads.then(() => (portClosed ? undefined : Promise.race([load(), closed]))).catch(() => undefined));
    const runtime = createPluginRuntime(msg.port, preloaded, true, loadTurn);
    // Once the host closes the port (the plugin was stopped) nothing reaches the runtime
    // again; its module stays imported, which the host bounds by starting a fresh thread
    // after enough loads.
    msg.port.on("message", (m: HostToWorker | HostToWorker[]) => runtime.receive(m));
  });
  // Which plugin of the thread let an error escape cannot be known: the group reports it.
  const report = (message: string, err: unknown) => port.postMessage({ type: "log", level: "error", message, data: { message: err instanceof Error ? err.message : String(err), stack: err instanceof Error ? err.stack : undefined } });
  process.on("unhandledRejection", (reason) => report("unhandled rejection in a plugin of this worker group", reason));
  process.on("uncaughtException", (err) => report("uncaught exception in a plugin of this worker group", err));
} else {
  const runtime: PluginRuntime = createPluginRuntime(port, preloaded);
  port.on("message", (msg: HostToWorker | HostToWorker[]) => runtime.receive(msg));
  process.on("unhandledRejection", (reason) => runtime.report("unhandled rejection in plugin", reason));
  process.on("uncaughtException", (err) => runtime.report("uncaught exception in plugin", err));
}
