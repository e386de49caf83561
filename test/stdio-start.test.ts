/**
 * How `patchbay stdio --standalone` starts (daemon/transports/held-until-loaded.ts): it
 * answers `initialize` before its plugins have loaded, holds the other requests until the
 * first load has settled, so the first `tools/list` has the plugins' tools, and does not
 * send a `list_changed` per plugin before that list. A plugin that waits for a file we
 * create stands for a slow one; nothing here depends on how fast the machine is.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { writeFileSync } from "node:fs";
import { CLI, TempDir, waitFor } from "./helpers/env.ts";

const dir = new TempDir("patchbay-stdio-start-");
after(() => dir.cleanup());

/** A plugins folder with a quick plugin and one that loads only once its gate file exists. */
function folder(name: string) {
  const gate = dir.join(`${name}-gate`);
  dir.file(`${name}/quick.mjs`, `export default { tools: { hi: { handler: async () => "hi" } } };\n`);
  dir.file(
    `${name}/late.mjs`,
    `import { existsSync } from "node:fs";
// loads only once the test creates the gate file
while (!existsSync(${JSON.stringify(gate)})) await new Promise((r) => setTimeout(r, 10));
export default { tools: { ready: { handler: async () => "ready" } } };
`,
  );
  return { plugins: dir.join(name), gate };
}

function standalone(plugins: string) {
  const child = spawn(process.execPath, [CLI, "stdio", "--standalone", "--plugins", plugins], {
    env: { ...process.env, PATCHBAY_HOME: dir.join("home"), PATCHBAY_LOG_LEVEL: "warn" },
    stdio: ["pipe", "pipe", "ignore"],
  });
  const got: any[] = [];
  createInterface({ input: child.stdout! }).on("line", (line) => got.push(JSON.parse(line)));
  return {
    got,
    send: (m: object) => void child.stdin!.write(JSON.stringify(m) + "\n"),
    answer: (id: number) => waitFor(`answer ${id}`, () => got.find((m) => m.id === id && m.method === undefined)),
    async close() {
      child.stdin!.end();
      if (child.exitCode === null) await once(child, "exit");
    },
  };
}

test("stdio --standalone: initialize is answered before the plugins have loaded; the first tools/list waits for them", async () => {
  const { plugins, gate } = folder("plugins-2025");
  const { got, send, answer, close } = standalone(plugins);
  try {
    send({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "stdio-start", version: "1" } } });
    // late.mjs cannot have loaded: the gate does not exist yet
    const init = await answer(1);
    assert.equal(init.result.serverInfo.name.length > 0, true);
    send({ jsonrpc: "2.0", method: "notifications/initialized" });
    send({ jsonrpc: "2.0", id: 2, method: "ping" });
    assert.deepEqual((await answer(2)).result, {});
    send({ jsonrpc: "2.0", id: 3, method: "tools/list" });
    // answered only once the load settles, so open the gate a little later: an unheld list
    // would already be here without late__ready
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(gate, "");
    const list = await answer(3);
    assert.deepEqual(list.result.tools.map((t: { name: string }) => t.name).sort(), ["late__ready", "quick__hi"]);
    const before = got.slice(0, got.indexOf(list));
    assert.deepEqual(before.filter((m) => m.method).map((m) => m.method), [], "no notification before the first list: it holds every plugin");
    // a call goes through as usual
    send({ jsonrpc: "2.0", id: 4, method: "tools/call", params: { name: "late__ready", arguments: {} } });
    assert.equal((await answer(4)).result.content[0].text, "ready");
  } finally {
    await close();
  }
});

test("stdio --standalone, 2026-07-28: server/discover is answered before the plugins have loaded; tools/list waits for them", async () => {
  const { plugins, gate } = folder("plugins-2026");
  const { send, answer, close } = standalone(plugins);
  const _meta = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}, "io.modelcontextprotocol/clientInfo": { name: "stdio-start", version: "1" } };
  try {
    send({ jsonrpc: "2.0", id: 1, method: "server/discover", params: { _meta } });
    const discover = await answer(1);
    assert.ok(discover.result, JSON.stringify(discover));
    send({ jsonrpc: "2.0", id: 2, method: "tools/list", params: { _meta } });
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(gate, "");
    const list = await answer(2);
    assert.deepEqual(list.result.tools.map((t: { name: string }) => t.name).sort(), ["late__ready", "quick__hi"]);
  } finally {
    await close();
  }
});
