/**
 * What `patchbay stdio` (attached) checks of the running daemon before the bridge starts:
 * - started as a stdio upstream of that very daemon, it would relay that daemon's tools back
 *   to it (upstream-chain.ts): refused, in one line on stderr that the daemon's upstream
 *   reads as a loop;
 * - a daemon of another version (the package was upgraded while it ran, which is how Claude
 *   Desktop users update) keeps serving its own code until it is restarted: said on stderr,
 *   once, and attached to anyway — restarting it would cut every other client's sessions.
 */
import { UpstreamLoopError } from "../errors.ts";
import { isDaemonAlive, readStateFile } from "../state-file.ts";
import { attachLoop, inheritedChain } from "../upstream-chain.ts";
import { VERSION } from "../version.ts";

export async function checkAttach(home: string): Promise<void> {
  const state = readStateFile(home);
  if (!state) return;
  const loop = inheritedChain().length ? attachLoop(state.instance) : undefined;
  const otherVersion = state.version !== VERSION;
  if (!loop && !otherVersion) return;
  if (!(await isDaemonAlive(state))) return;
  if (loop) throw new UpstreamLoopError(loop);
  process.stderr.write(`patchbay: the running daemon (pid ${state.pid}, ${state.url}) is version ${state.version}, this patchbay is ${VERSION}; attaching to it. Stop it (kill ${state.pid}) to run ${VERSION}.\n`);
}
