/**
 * `patchbay stdio` (attached) started as a stdio upstream of the very daemon it would attach
 * to: it would relay that daemon's tools back to it (upstream-chain.ts). Refused before the
 * bridge starts, in one line on stderr that the daemon's upstream reads as a loop.
 */
import { UpstreamLoopError } from "../errors.ts";
import { isDaemonAlive, readStateFile } from "../state-file.ts";
import { attachLoop, inheritedChain } from "../upstream-chain.ts";

export async function refuseAttachLoop(home: string): Promise<void> {
  if (inheritedChain().length === 0) return;
  const state = readStateFile(home);
  const loop = attachLoop(state?.instance);
  if (loop && state && (await isDaemonAlive(state))) throw new UpstreamLoopError(loop);
}
