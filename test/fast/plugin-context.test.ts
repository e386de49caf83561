/**
 * What a handler's context holds: the fields of the plugin API, what the plugin's setup(ctx)
 * added (a client, a cache), and a signal that works whether it is read before or after a
 * cancel. The context is built per call without spreading (daemon/plugins/thread/plugin-context.ts).
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { TempDir } from "../helpers/env.ts";
import { startInProcessDaemon } from "../helpers/in-process.ts";
import { httpClient, textOf } from "../helpers/clients.ts";

const plugins = new TempDir("patchbay-ctx-");
after(() => plugins.cleanup());

test("a handler's context has the API's fields, what setup added, and destructures", async () => {
  plugins.file(
    "c.mjs",
    `export default {
      setup(ctx) { ctx.greeting = "set up"; },
      tools: {
        look: { handler(_a, ctx) {
          const { pluginName, dataDir, log, signal, progress, sendLog, sample, elicit, roots, resourcesChanged, resourceUpdated, greeting } = ctx;
          return JSON.stringify({ pluginName, dataDir: typeof dataDir, log: typeof log?.info, signal: signal instanceof AbortSignal && !signal.aborted,
            fns: [progress, sendLog, sample, elicit, roots, resourcesChanged, resourceUpdated].map((f) => typeof f), greeting, spread: Object.keys({ ...ctx }).includes("greeting") });
        } },
      },
    };`,
  );
  const d = await startInProcessDaemon({ plugins: plugins.path });
  const c = await httpClient(d.url);
  try {
    const got = JSON.parse(textOf(await c.client.callTool({ name: "c__look", arguments: {} })));
    assert.deepEqual(got, { pluginName: "c", dataDir: "string", log: "function", signal: true, fns: Array(7).fill("function"), greeting: "set up", spread: true });
  } finally {
    await c.close();
    await d.stop();
  }
});
