/**
 * The MCP conformance suites (0.2.0-alpha.12 for 2026-07-28 and 2025-11-25, 0.1.16 active and
 * pending) against a daemon serving test/conformance/plugins: test/conformance/runner.ts, the
 * same runner as `npm run conformance`. Only the tasks-* extension scenarios may fail
 * (test/conformance/expected-failures.yml).
 * The suites need Node 22: node@22 from the npm registry, installed once into .cache/node-lines.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { findNode22, runConformance } from "./conformance/runner.ts";

test("conformance suites pass against the fixture plugins", { timeout: 15 * 60_000 }, async (t) => {
  assert.match(execFileSync(findNode22(), ["--version"], { encoding: "utf8" }), /^v22\./);
  // progress and each run's summary line as diagnostics; the whole report when it fails
  const report = await runConformance({ log: (line) => t.diagnostic(line) });
  assert.ok(report.ok, report.text);
});
