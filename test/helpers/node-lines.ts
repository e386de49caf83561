/**
 * Other Node.js lines for tests and benchmarks, from the npm registry's `node` package (the
 * machine's own Node is 20; CI has no other). Each line is installed once into
 * `.cache/node-lines/<major>` of the checkout and reused; nothing outside the checkout is
 * touched. A folder whose `node` links to that binary, put first on PATH, makes `#!/usr/bin/env
 * node` scripts (patchbay, npm, npx) run on it.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { ROOT } from "./env.ts";

const CACHE = join(ROOT, ".cache", "node-lines");

function versionOf(bin: string): string | undefined {
  try {
    return execFileSync(bin, ["--version"], { encoding: "utf8", timeout: 20_000 }).trim();
  } catch {
    return undefined;
  }
}

/** The path of a Node binary of line `major` (22, 24 …), installing `node@<major>` on first use. */
export function nodeLine(major: number): string {
  const dir = join(CACHE, String(major));
  const bin = join(dir, "node_modules", "node", "bin", "node");
  if (versionOf(bin)?.startsWith(`v${major}.`)) return bin;
  // install beside, then move into place, so an interrupted install is never mistaken for one
  const staging = `${dir}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  writeFileSync(join(staging, "package.json"), JSON.stringify({ name: `node-line-${major}`, private: true }));
  execFileSync("npm", ["install", "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error", `node@${major}`], { cwd: staging, stdio: ["ignore", "ignore", "inherit"], timeout: 600_000 });
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  const version = versionOf(bin);
  if (!version?.startsWith(`v${major}.`)) throw new Error(`node@${major} installed into ${dir} but ${bin} answers ${version ?? "nothing"}`);
  return bin;
}

/**
 * Environment variables that run `node` (and every `#!/usr/bin/env node` script) on `bin`:
 * a folder holding a `node` link to it, first on PATH. `bin` undefined: this process's Node.
 */
export function envForNode(bin: string | undefined, shimDir: string, extraPath: string[] = []): Record<string, string> {
  mkdirSync(shimDir, { recursive: true });
  const link = join(shimDir, "node");
  if (!existsSync(link)) symlinkSync(bin ?? process.execPath, link);
  return { PATH: [...extraPath, shimDir, process.env.PATH ?? ""].join(delimiter) };
}
