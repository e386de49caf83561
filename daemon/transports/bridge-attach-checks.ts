/**
 * What the attached bridge checks of a running daemon it found (find-or-start-daemon.ts)
 * before it opens its link:
 * - started as a stdio upstream of that very daemon, it would relay that daemon's tools back
 *   to it (upstream-chain.ts): refused, in one line on stderr that the daemon's upstream
 *   reads as a loop;
 * - a daemon of another version (the package was upgraded while it ran, which is how Claude
 *   Desktop users update) keeps serving its own code until it is restarted: said on stderr,
 *   once, and attached to anyway — restarting it would cut every other client's sessions.
 * A daemon this bridge started itself is neither.
 */
import { UpstreamLoopError } from "../errors.ts";
import type { DaemonState } from "../state-file.ts";
import { attachLoop } from "../upstream-chain.ts";
import { VERSION } from "../version.ts";

export function checkAttach(state: DaemonState): void {
  const loop = attachLoop(state.instance);
  if (loop) throw new UpstreamLoopError(loop);
  if (state.version !== VERSION) process.stderr.write(`patchbay: the running daemon (pid ${state.pid}, ${state.url}) is version ${state.version}, this patchbay is ${VERSION}; attaching to it. Stop it (kill ${state.pid}) to run ${VERSION}.\n`);
}
