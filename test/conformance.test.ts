/**
 * The MCP conformance suites (0.2.0-alpha.12 for 2026-07-28 and 2025-11-25, 0.1.16 active and
 * pending) against a daemon serving test/conformance/plugins: test/conformance/runner.ts, the
 * same runner as `npm run conformance`. Only the tasks-* extension scenarios may fail
 * (test/conformance/expected-failures.yml).
 *
 * Skipped, with a message, only when the node@22 dev dependency that runs the suites is missing;
 * under CI=true a missing Node 22 fails instead.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { findNode22, runConformance } from "./conformance/runner.ts";

const ci = process.env.CI !== undefined && !["", "0", "false"].includes(process.env.CI.toLowerCase());
const node22 = findNode22();
const skip = node22 || ci ? false : "Node 22 is missing (node_modules/node, the node@22 dev dependency that runs the conformance suites): run npm install";

test("conformance suites pass against the fixture plugins", { skip, timeout: 15 * 60_000 }, async (t) => {
  assert.ok(node22, "Node 22 (node_modules/node/bin/node, from the node@22 dev dependency) is required to run the conformance suites under CI");
  // progress and each run's summary line as diagnostics; the whole report when it fails
  const report = await runConformance({ log: (line) => t.diagnostic(line) });
  assert.ok(report.ok, report.text);
});
