/**
 * Churn soak: clients open and close sessions on every transport — Streamable HTTP (SDK
 * client; some DELETE politely through terminateSession(), some vanish with close() only),
 * legacy SSE, WebSocket (closing, or dropping the connection), `patchbay stdio` attached —
 * while a plugin file is rewritten over and over (some rewrites broken). Far more clients
 * vanish than the session table holds (SOAK_MAX_SESSIONS), so the daemon must make room.
 *
 * Asserted (structural, no timing or memory thresholds):
 * - no client that ends its session properly ever gets a 503, and every call of every
 *   client succeeds (reloads are atomic; a broken rewrite keeps the last good version);
 * - no uncaught error, unhandled rejection, MaxListenersExceededWarning or other Node
 *   warning on the daemon's stderr;
 * - after every client is gone: the session count is back to its start (vanished sessions
 *   expire after the idle timeout), the loaded-plugin count too, the daemon's threads
 *   (plugin workers are threads) within +2 and its open fds within +10 of the start
 *   (slack for things opened lazily).
 * RSS, fds, threads and sessions before/after are printed as diagnostics.
 *
 * Small in `npm test`; `npm run soak` runs a large one (see test/helpers/soak-churn.ts for
 * the SOAK_* settings).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { WELL_BEHAVED, runSoak, soakConfig } from "./helpers/soak-churn.ts";

test("churn soak: sessions on every transport while a plugin reloads", async (t) => {
  const cfg = soakConfig();
  t.diagnostic(`config: ${JSON.stringify(cfg)}`);
  const r = await runSoak(cfg, (line) => t.diagnostic(line));
  const { before, after } = r;
  t.diagnostic(`clients by kind: ${JSON.stringify(r.counts)}; calls: ${r.calls}; plugin rewrites: ${r.reloads} (${r.brokenReloads} broken); ${r.durationMs} ms`);
  t.diagnostic(`sessions: ${before.sessions} → ${after.sessions}; loaded plugins: ${before.loadedPlugins} → ${after.loadedPlugins}`);
  t.diagnostic(`fds: ${before.figures.fds} → ${after.figures.fds}; threads: ${before.figures.threads} → ${after.figures.threads}; RSS: ${Math.round(before.figures.rssKb / 1024)} MB → ${Math.round(after.figures.rssKb / 1024)} MB`);
  if (r.evictedMetric) t.diagnostic(`evictions: ${r.evictedMetric}`);
  const refusedVanishing = r.failures.filter((f) => !WELL_BEHAVED.has(f.kind) && f.status503 && f.phase === "connect");
  if (refusedVanishing.length) t.diagnostic(`${refusedVanishing.length} clients that later vanish were refused with 503 on connect (not asserted)`);

  const problems: string[] = [];
  const wellBehaved503 = r.failures.filter((f) => WELL_BEHAVED.has(f.kind) && f.status503);
  if (wellBehaved503.length) problems.push(`${wellBehaved503.length} well-behaved clients got 503, e.g. ${JSON.stringify(wellBehaved503.slice(0, 3))}`);
  const otherFailures = r.failures.filter((f) => !f.status503 || (f.phase !== "connect" && !WELL_BEHAVED.has(f.kind)));
  if (otherFailures.length) problems.push(`${otherFailures.length} client failures, e.g. ${JSON.stringify(otherFailures.slice(0, 5))}`);
  for (const line of r.stderrProblems.slice(0, 5)) problems.push(`stderr: ${line}`);
  if (r.stderrProblems.length > 5) problems.push(`… and ${r.stderrProblems.length - 5} more stderr lines`);
  if (!r.settled.sessions || after.sessions !== before.sessions) problems.push(`sessions did not return to ${before.sessions}: ${after.sessions} open (${JSON.stringify(after.byTransport)})`);
  if (after.loadedPlugins !== before.loadedPlugins) problems.push(`loaded plugins ${before.loadedPlugins} → ${after.loadedPlugins}`);
  if (after.figures.threads > before.figures.threads + 2) problems.push(`threads ${before.figures.threads} → ${after.figures.threads} (workers not retired?)`);
  if (after.figures.fds > before.figures.fds + 10) problems.push(`open fds ${before.figures.fds} → ${after.figures.fds}`);
  assert.ok(r.calls > 0 && r.reloads > 0, "the soak made calls and reloads");
  assert.deepEqual(problems, [], problems.join("\n"));
});
