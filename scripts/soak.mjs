#!/usr/bin/env node
/**
 * `npm run soak`: the large churn soak (test/soak.test.ts with big SOAK_* settings). Builds,
 * then runs it; any SOAK_* variable set in the environment wins over these defaults (see
 * test/helpers/soak-churn.ts for what each means).
 */
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const defaults = {
  SOAK_CLIENTS: "5000",
  SOAK_CONCURRENCY: "16",
  SOAK_MAX_SESSIONS: "64",
  SOAK_RELOAD_MS: "100",
  SOAK_STDIO_EVERY: "100",
  SOAK_IDLE_TIMEOUT_MS: "5000",
  SOAK_EVICT_AFTER_IDLE_MS: "500",
};
const env = { ...defaults, ...process.env };
console.log(`soak: ${Object.keys(defaults).map((k) => `${k}=${env[k]}`).join(" ")}`);

const build = spawnSync(process.execPath, [join(root, "scripts", "build.mjs")], { cwd: root, stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);
const tsx = join(root, "node_modules", ".bin", "tsx");
const run = spawnSync(tsx, ["--test", ...process.argv.slice(2), join("test", "soak.test.ts")], { cwd: root, env, stdio: "inherit" });
process.exit(run.status ?? 1);
