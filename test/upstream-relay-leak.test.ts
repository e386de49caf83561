/**
 * Relaying to a Streamable HTTP upstream must leave nothing behind per call (issue 21,
 * item 8): the SDK's transport passed one long-lived AbortSignal to every fetch, undici
 * added a listener to it per request, and after 12,000 relayed calls the daemon had printed
 * 5,316 MaxListenersExceededWarning lines with RSS rising from 132 to 287 MB. Here daemon A
 * relays to daemon B; after more calls than the listener limit (1,500) A's stderr holds no
 * warning — the fuzz suites' invariant (stderrProblems), held for the relay too — and a
 * cancelled relayed call leaves none either.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { TempDir, waitFor } from "./helpers/env.ts";
import { startDaemonProcess } from "./helpers/daemon.ts";
import { httpClient } from "./helpers/clients.ts";
import { stderrProblems } from "./helpers/fuzz-harness.ts";

const CALLS = 2_500;

test(`${CALLS} calls relayed to a Streamable HTTP upstream: no MaxListenersExceededWarning, nothing the fuzz invariant forbids`, async () => {
  const b = new TempDir("patchbay-relay-b-");
  const a = new TempDir("patchbay-relay-a-");
  b.file("plugins/far.mjs", `export default { tools: {
    add: { description: "add", input: { type: "object", properties: { n: { type: "number" } } }, handler: ({ n }) => String(n + 1) },
    wait: { description: "waits until cancelled", handler: (_a, ctx) => new Promise((r) => ctx.signal.addEventListener("abort", () => r("cancelled"))) },
  } };`);
  const B = await startDaemonProcess({ plugins: b.join("plugins"), env: { PATCHBAY_LOG_LEVEL: "warn" } });
  a.file("plugins/b.mcp.json", JSON.stringify({ url: `${B.url}/mcp` }));
  const A = await startDaemonProcess({ plugins: a.join("plugins"), env: { PATCHBAY_LOG_LEVEL: "warn" } });
  const c = await httpClient(A.url, { isolateAbort: true });
  try {
    await waitFor("A lists B's tools", async () => ((await c.client.listTools()).tools.some((t) => t.name === "b__far__add") ? true : undefined), 20_000, 100);
    // a few at a time, as clients do
    let next = 0;
    const worker = async () => {
      while (next < CALLS) {
        const n = next++;
        const r = await c.client.callTool({ name: "b__far__add", arguments: { n } });
        assert.equal((r.content as { text: string }[])[0].text, String(n + 1));
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    // cancelled relayed calls: the listener that links the caller's cancel goes with them
    for (let i = 0; i < 20; i++) {
      const ac = new AbortController();
      const p = c.client.callTool({ name: "b__far__wait", arguments: {} }, undefined, { signal: ac.signal });
      setTimeout(() => ac.abort(), 20);
      await p.catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 500));
    assert.doesNotMatch(A.stderr(), /MaxListenersExceededWarning/);
    assert.deepEqual(stderrProblems(A.stderr()), []);
    assert.deepEqual(stderrProblems(B.stderr()), []);
  } finally {
    await c.close();
    await A.stop();
    await B.stop();
    a.cleanup();
    b.cleanup();
  }
});
