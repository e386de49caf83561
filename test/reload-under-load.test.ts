/**
 * No call is lost in a hot reload (issue 21, item 1): several official SDK clients call one
 * plugin's tool over Streamable HTTP, back to back, while its file is saved again and again.
 * Every call must be answered by the old version or the new one — never "plugin … is not
 * running" from a version whose thread had already been stopped.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { TempDir, waitFor } from "./helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "./helpers/daemon.ts";
import { httpClient, textOf } from "./helpers/clients.ts";
import { v2HttpClient } from "./helpers/clients-v2.ts";

const plugins = new TempDir("patchbay-reload-load-");
let d: RunningDaemon;
/** v1 SDK clients (2025 sessions) and v2 SDK clients pinned to 2026-07-28 (stateless requests), half each */
const clients: { client: { callTool(p: { name: string; arguments: Record<string, unknown> }): Promise<any> }; close(): Promise<void> }[] = [];
const CLIENTS = 8;

const version = (n: number) => `import { definePlugin, z } from "mcp-patchbay";
export default definePlugin({
  tools: {
    echo: { description: "echo", input: { x: z.number() }, handler: async ({ x }) => "v${n}:" + x },
  },
});
`;

before(async () => {
  writeFileSync(plugins.join("churn.ts"), version(0));
  // threads idle for 300 ms are parked, so each round can start from a parked plugin
  d = await startDaemonProcess({ plugins: plugins.path, env: { PATCHBAY_LOG_LEVEL: "info", PATCHBAY_WORKER_IDLE_MS: "300" } });
  for (let i = 0; i < CLIENTS; i++) clients.push(i % 2 ? await v2HttpClient(d.url, { name: `churn-${i}`, modern: true }) : await httpClient(d.url, { name: `churn-${i}`, isolateAbort: true }));
});
after(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await d?.stop();
  plugins.cleanup();
});

test("calls from 8 clients during 30 saves 150 ms apart, several rounds: none fails", async () => {
  let saves = 0;
  for (let round = 0; round < 4; round++) {
    // Each round starts as a user's session would: the plugin loaded and not called since,
    // so its thread is parked and the first calls wake it while the saves swap versions.
    saves++;
    writeFileSync(plugins.join("churn.ts"), version(saves));
    const loaded = saves;
    await waitFor(`v${loaded} serving`, async () => (textOf(await clients[0].client.callTool({ name: "churn__echo", arguments: { x: 0 } })) === `v${loaded}:0`) || undefined);
    await waitFor("churn parked", async () => (await d.health()).plugins.find((x: any) => x.name === "churn")?.worker === "parked" || undefined);
    let stop = false;
    const failures: string[] = [];
    let calls = 0;
    const callers = clients.map(async (c) => {
      for (let x = 0; !stop; x++) {
        const r = await c.client.callTool({ name: "churn__echo", arguments: { x } }).catch((err: Error) => ({ isError: true, content: [{ type: "text", text: `thrown: ${err.message}` }] }));
        calls++;
        const text = textOf(r);
        if (r.isError || !/^v\d+:\d+$/.test(text)) failures.push(text);
      }
    });
    for (let i = 0; i < 30; i++) {
      saves++;
      writeFileSync(plugins.join("churn.ts"), version(saves));
      await new Promise((r) => setTimeout(r, 150));
    }
    // the last save is served before the round ends, so the next round starts from a settled plugin
    const last = saves;
    await waitFor(`v${last} serving`, async () => (textOf(await clients[0].client.callTool({ name: "churn__echo", arguments: { x: 0 } })) === `v${last}:0`) || undefined);
    stop = true;
    await Promise.all(callers);
    console.log(`round ${round}: ${calls} calls, ${failures.length} failed`);
    assert.ok(calls > 100, `round ${round}: only ${calls} calls were made`);
    assert.deepEqual(failures.slice(0, 5), [], `round ${round}: ${failures.length} of ${calls} calls failed`);
  }
});
