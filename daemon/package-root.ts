/** Where the package lives, from source (`daemon/`) or from the bundle (`dist/`). */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findRoot(start: string): string {
  let dir = start;
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, "package.json"))) return dir;
    dir = dirname(dir);
  }
  return dirname(start);
}

export const packageRoot = findRoot(dirname(fileURLToPath(import.meta.url)));
export const distDir = join(packageRoot, "dist");
