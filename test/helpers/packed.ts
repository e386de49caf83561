/**
 * The packed tarball, as users get it: `npm pack` of the checkout (its `dist` must be built),
 * installed into a temporary prefix the way `npm i -g` does, optionally on another Node line.
 * Tests drive the installed `patchbay`, never the checkout's `dist`.
 */
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { ROOT } from "./env.ts";
import { envForNode } from "./node-lines.ts";

const run = promisify(execFile);

export interface Packed {
  tarball: string;
  /** every path in the tarball, without the leading `package/` */
  files: string[];
}

/** Packs the checkout into `dest` (scripts off: `npm test` has just built dist). */
export async function pack(dest: string): Promise<Packed> {
  await run("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", dest], { cwd: ROOT, maxBuffer: 16 << 20 });
  const name = readdirSync(dest).find((f) => f.endsWith(".tgz"));
  if (!name) throw new Error(`npm pack wrote no tarball into ${dest}`);
  const tarball = join(dest, name);
  const { stdout } = await run("tar", ["-tzf", tarball], { maxBuffer: 16 << 20 });
  return { tarball, files: stdout.split("\n").filter(Boolean).map((f) => f.replace(/^package\//, "")) };
}

export interface Installed {
  /** the installed `patchbay` executable */
  bin: string;
  /** what `npm i -g` printed (stdout and stderr) */
  output: string;
  /** environment that runs `node` and `patchbay` on the chosen Node line */
  env: Record<string, string>;
}

/**
 * `npm i -g <tarball>` into `prefix`, with npm itself running on `nodeBin` (undefined: this
 * process's Node), so npm checks `engines` against that line.
 */
export async function installGlobal(tarball: string, prefix: string, nodeBin: string | undefined, cache?: string): Promise<Installed> {
  const env = { ...(process.env as Record<string, string>), ...envForNode(nodeBin, join(prefix, "node-shim"), [join(prefix, "bin")]), npm_config_update_notifier: "false" };
  const args = ["install", "-g", "--prefix", prefix, "--no-audit", "--no-fund", ...(cache ? ["--cache", cache] : []), tarball];
  const { stdout, stderr } = await run("npm", args, { env, maxBuffer: 16 << 20, timeout: 300_000 });
  return { bin: join(prefix, "bin", "patchbay"), output: stdout + stderr, env };
}
