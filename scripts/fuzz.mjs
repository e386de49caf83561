#!/usr/bin/env node
/**
 * `npm run fuzz`: the long fuzz run. Builds, then runs every test/fuzz-*.test.ts against real
 * daemons with many cases per property and one random seed for all of them, printed first.
 *
 *   FUZZ_RUNS=2000   cases per property (default 2000; the plugin property runs a tenth)
 *   FUZZ_SEED=…      replay a run (the seed printed here, or the one in a failure report)
 *   FUZZ_PATH=…      with FUZZ_SEED, replay one shrunk counterexample (from the report)
 *   FUZZ_IGNORE=tag  look past a known violation tag while hunting (see fuzz-harness.ts)
 * Extra arguments go to `node --test`, e.g. `npm run fuzz -- --test-name-pattern=WebSocket`.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const env = { ...process.env };
env.FUZZ_RUNS ||= "2000";
env.FUZZ_SEED ||= String((Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) | 0);
console.log(`fuzz: FUZZ_SEED=${env.FUZZ_SEED} FUZZ_RUNS=${env.FUZZ_RUNS}${env.FUZZ_IGNORE ? ` FUZZ_IGNORE=${env.FUZZ_IGNORE}` : ""}`);
console.log(`      replay with: FUZZ_SEED=${env.FUZZ_SEED} FUZZ_RUNS=${env.FUZZ_RUNS} npm run fuzz`);

const build = spawnSync(process.execPath, [join(root, "scripts", "build.mjs")], { cwd: root, stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);

const files = readdirSync(join(root, "test")).filter((f) => /^fuzz-.*\.test\.ts$/.test(f)).sort().map((f) => join("test", f));
const tsx = join(root, "node_modules", ".bin", "tsx");
const run = spawnSync(tsx, ["--test", "--test-concurrency=1", ...process.argv.slice(2), ...files], { cwd: root, env, stdio: "inherit" });
console.log(`fuzz: done (FUZZ_SEED=${env.FUZZ_SEED} FUZZ_RUNS=${env.FUZZ_RUNS})`);
process.exit(run.status ?? 1);
