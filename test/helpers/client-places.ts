/**
 * For the connect/import tests: a fresh HOME and project folder per test inside a TempDir,
 * and the real CLI run in that project with that HOME — no XDG_CONFIG_HOME, APPDATA,
 * CLAUDE_CONFIG_DIR or PATCHBAY_* of the caller's — so every client path lands in the temp
 * folder and the entry is the default one (no --plugins, no env).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { CLI, type TempDir } from "./env.ts";

export interface ClientPlace {
  home: string;
  /** the working directory: where project-scope files go */
  cwd: string;
  /** the default plugins folder for that HOME */
  plugins: string;
}

export function clientPlaces(dir: TempDir): () => ClientPlace {
  let n = 0;
  return () => {
    const root = dir.join(`p${n++}`);
    const at = { home: join(root, "home"), cwd: join(root, "project"), plugins: join(root, "home", ".patchbay", "plugins") };
    mkdirSync(at.home, { recursive: true });
    mkdirSync(at.cwd, { recursive: true });
    return at;
  };
}

export function runAt(at: ClientPlace, args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [CLI, ...args], {
    cwd: at.cwd,
    env: { ...process.env, HOME: at.home, XDG_CONFIG_HOME: "", APPDATA: "", CLAUDE_CONFIG_DIR: "", PATCHBAY_HOME: "", PATCHBAY_PLUGINS: "", PATCHBAY_CONFIG: "", ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
}
