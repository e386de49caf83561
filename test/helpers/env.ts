/** Temp folders and the paths tests need; everything made here is removed by `cleanup`. */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer } from "node:net";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const CLI = join(ROOT, "dist", "cli.js");
export const EXAMPLE_PLUGINS = join(ROOT, "plugins");

export class TempDir {
  readonly path: string;
  constructor(prefix = "patchbay-test-") {
    this.path = mkdtempSync(join(tmpdir(), prefix));
  }
  file(rel: string, content: string): string {
    const p = join(this.path, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
    return p;
  }
  join(...parts: string[]): string {
    return join(this.path, ...parts);
  }
  cleanup(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

export function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolvePromise, reject) => {
    const tick = async () => {
      try {
        const v = await check();
        if (v !== undefined && v !== false) return resolvePromise(v as T);
      } catch {
        // not yet
      }
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, everyMs);
    };
    void tick();
  });
}

/** A TCP port free on 127.0.0.1 right now (for a server that must be given its port up front). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
