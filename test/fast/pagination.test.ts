/** Cursor pagination of list results, and bad cursors. */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { TempDir } from "../helpers/env.ts";
import { startInProcessDaemon } from "../helpers/in-process.ts";
import { httpClient } from "../helpers/clients.ts";

const plugins = new TempDir("patchbay-page-");
after(() => plugins.cleanup());

test("tools/list and prompts/list page with nextCursor; an invalid cursor is -32602", async () => {
  plugins.file("p.mjs", `export default { tools: { a: { handler: () => 1 }, b: { handler: () => 2 }, c: { handler: () => 3 } }, prompts: { x: { render: () => "x" }, y: { render: () => "y" }, z: { render: () => "z" } } };`);
  const d = await startInProcessDaemon({ plugins: plugins.path, env: { PATCHBAY_PAGE_SIZE: "2" } });
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

const b64 = (s: string) => Buffer.from(s).toString("base64url");

test("a cursor we did not issue is -32602 on every list, never page one", async () => {
  plugins.file("q.mjs", `export default { tools: { a: { handler: () => 1 }, b: { handler: () => 2 } }, prompts: { x: { render: () => "x" } }, resources: { "q://one": { read: () => "1" } }, resourceTemplates: { "q://item/{id}": { read: () => "i" } } };`);
  const d = await startInProcessDaemon({ plugins: plugins.path, env: { PATCHBAY_PAGE_SIZE: "1" } });
  const c = await httpClient(d.url);
  try {
    const valid = (await c.client.listTools()).nextCursor!;
    assert.equal((await c.client.listTools({ cursor: valid })).tools.length, 1);
    // empty; base64 of a non-integer, a negative, a padded or out-of-range number; a valid
    // cursor with junk Node's decoder would skip; characters outside base64url
    const bad = ["", b64("abc"), b64("1.5"), b64("-1"), b64("01"), b64(" 1"), b64("1e0"), b64("0"), b64("999"), `${valid}!`, `${valid}==`, "!!!!"];
    const lists = [
      (cursor: string) => c.client.listTools({ cursor }),
      (cursor: string) => c.client.listPrompts({ cursor }),
      (cursor: string) => c.client.listResources({ cursor }),
      (cursor: string) => c.client.listResourceTemplates({ cursor }),
    ];
    for (const list of lists) {
      for (const cursor of bad) {
        await assert.rejects(list(cursor), (e: any) => e.code === -32602 && /Invalid cursor/.test(e.message), `cursor ${JSON.stringify(cursor)}`);
      }
    }
  } finally {
    await c.close();
    await d.stop();
  }
});
