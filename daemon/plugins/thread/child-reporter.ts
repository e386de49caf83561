/**
 * The plugin thread's half of ending the child processes plugins start with the daemon
 * (host/child-processes.ts says why and how the main thread ends them): this thread reports
 * each child it starts, and its exit, on a BroadcastChannel.
 */
import { BroadcastChannel, isMainThread, threadId } from "node:worker_threads";
import { ChildProcess } from "node:child_process";
import { CHILDREN_CHANNEL, type ChildNote } from "../worker-protocol.ts";

let tracking = false;
/** In a plugin thread: report every child process this thread starts (idempotent). */
export function trackSpawnedChildren(): void {
  if (tracking || isMainThread) return;
  tracking = true;
  const channel = new BroadcastChannel(CHILDREN_CHANNEL);
  // reporting must not keep an idle plugin thread alive
  (channel as unknown as { unref?: () => void }).unref?.();
  // `spawn` is on the prototype at run time though Node's types leave it out
  const proto = ChildProcess.prototype as unknown as { spawn: (this: ChildProcess, options: { detached?: boolean }) => unknown };
  const original = proto.spawn;
  proto.spawn = function (this: ChildProcess, options: { detached?: boolean }) {
    const result = original.call(this, options);
    const pid = this.pid;
    if (pid !== undefined) {
      const note: ChildNote = { pid, thread: threadId, detached: options?.detached === true };
      channel.postMessage(note);
      this.once("exit", () => channel.postMessage({ ...note, exited: true }));
    }
    return result;
  };
}
