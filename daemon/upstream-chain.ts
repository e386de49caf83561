/**
 * Loop detection through stdio upstreams. An HTTP upstream says who it is in every answer
 * (instance.ts); a stdio upstream is a child process, and when that child is Patchbay itself
 * no id can come back: `patchbay stdio --standalone` as its own upstream started a new daemon,
 * which loaded the same `NAME.mcp.json` and started another — 69 processes in 20 s, without
 * end. And `patchbay stdio` (attached) as an upstream of the daemon it attaches to relays that
 * daemon's tools back to it.
 *
 * So every stdio upstream is started with `PATCHBAY_UPSTREAM_CHAIN` in its environment: the
 * chain this daemon inherited, plus a link naming this daemon's instance id and the upstream
 * file that started the child. A Patchbay process that finds the variable knows which daemons
 * and files it descends from:
 * - a daemon refuses to start an upstream from a file already in its chain (the same file
 *   would start the same thing again), and refuses any stdio upstream once the chain is
 *   `MAX_UPSTREAM_DEPTH` long (a loop through copies or links of a file looks new each time);
 * - the attached bridge refuses to attach to a daemon whose instance is in its chain.
 * A chain that does not come back (A starts B, with other plugins) stays allowed.
 */
import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import { INSTANCE_ID } from "./instance.ts";

export const UPSTREAM_CHAIN_ENV = "PATCHBAY_UPSTREAM_CHAIN";
/** stdio upstreams nested deeper than this are taken for a loop */
export const MAX_UPSTREAM_DEPTH = 8;

export interface ChainLink {
  /** the instance id of the daemon that started the next process */
  instance: string;
  /** the real path of the upstream file it started it from */
  file: string;
}

const ID = /^[0-9a-f-]{8,64}$/i;

/** The chain this process was started under; anything malformed in the variable is ignored. */
export function inheritedChain(env: NodeJS.ProcessEnv = process.env): ChainLink[] {
  const raw = env[UPSTREAM_CHAIN_ENV];
  if (!raw || raw.length > 64 * 1024) return [];
  try {
    const parsed: unknown = JSON.parse(raw);
    if (!Array.isArray(parsed)) return [];
    return parsed
      .filter((l): l is ChainLink => typeof l === "object" && l !== null && typeof l.instance === "string" && ID.test(l.instance) && typeof l.file === "string" && l.file.length > 0)
      .slice(-64)
      .map((l) => ({ instance: l.instance, file: l.file }));
  } catch {
    return [];
  }
}

function realFile(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return resolve(file);
  }
}

/** The variable's value for a stdio upstream this daemon starts from `file`. */
export function childChainValue(file: string, env: NodeJS.ProcessEnv = process.env): string {
  return JSON.stringify([...inheritedChain(env), { instance: INSTANCE_ID, file: realFile(file) }]);
}

/** Why starting a stdio upstream from `file` would loop, or undefined when it would not. */
export function stdioUpstreamLoop(file: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const chain = inheritedChain(env);
  if (chain.length === 0) return undefined;
  const real = realFile(file);
  const link = chain.find((l) => l.file === real);
  if (link)
    return `loop refused: this daemon was itself started by ${real} (as an upstream of Patchbay instance ${link.instance.slice(0, 8)}), and starting it again would start daemons without end`;
  if (chain.length >= MAX_UPSTREAM_DEPTH)
    return `loop refused: this daemon is a stdio upstream ${chain.length} levels deep (${UPSTREAM_CHAIN_ENV}); a deeper chain is taken for a loop`;
  return undefined;
}

/** Why attaching to the daemon with this instance id would relay it to itself, or undefined. */
export function attachLoop(instance: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!instance) return undefined;
  const link = inheritedChain(env).find((l) => l.instance === instance);
  return link
    ? `loop refused: the running daemon (instance ${instance.slice(0, 8)}) started this patchbay stdio as its upstream ${link.file}; attaching would relay its own tools back to it`
    : undefined;
}
