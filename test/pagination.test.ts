/** Cursor pagination of list results, and a bad cursor. */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { TempDir } from "./helpers/env.ts";
import { startDaemonProcess } from "./helpers/daemon.ts";
import { httpClient } from "./helpers/clients.ts";

const plugins = new TempDir("patchbay-page-");
after(() => plugins.cleanup());

test("tools/list and prompts/list page with nextCursor; an invalid cursor is -32602", async () => {
  plugins.file("p.mjs", `export default { tools: { a: { handler: () => 1 }, b: { handler: () => 2 }, c: { handler: () => 3 } }, prompts: { x: { render: () => "x" }, y: { render: () => "y" }, z: { render: () => "z" } } };`);
  const d = await startDaemonProcess({ plugins: plugins.path, env: { PATCHBAY_PAGE_SIZE: "2" } });
  const c = await httpClient(d.url);
  try {
    const first = await c.client.listTools();
    assert.deepEqual(first.tools.map((t) => t.name), ["p__a", "p__b"]);
    assert.ok(first.nextCursor);
    const second = await c.client.listTools({ cursor: first.nextCursor });
    assert.deepEqual(second.tools.map((t) => t.name), ["p__c"]);
    assert.equal(second.nextCursor, undefined);
    const prompts = await c.client.listPrompts();
    assert.equal(prompts.prompts.length, 2);
    assert.equal((await c.client.listPrompts({ cursor: prompts.nextCursor })).prompts[0].name, "p__z");
    await assert.rejects(c.client.listTools({ cursor: "not-a-cursor" }), (e: any) => e.code === -32602 && /Invalid cursor/.test(e.message));
  } finally {
    await c.close();
    await d.stop();
  }
});
