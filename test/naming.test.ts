import { test, after } from "node:test";
import assert from "node:assert/strict";
import { exposedName, NAME_PATTERN } from "../daemon/plugins/naming.ts";
import { TempDir } from "./helpers/env.ts";
import { startDaemonProcess } from "./helpers/daemon.ts";
import { httpClient, textOf } from "./helpers/clients.ts";

test("exposed names are <plugin>__<tool>", () => {
  assert.equal(exposedName("tasks", "create_task"), "tasks__create_task");
  assert.equal(exposedName("my.plugin", "do it"), "my_plugin__do_it");
  assert.equal(exposedName("p", "t", "-"), "p-t");
});

test("a 100-character name comes out at most 64 characters, valid and stable", () => {
  const long = "x".repeat(100);
  const a = exposedName("plugin", long);
  assert.ok(a.length <= 64, `${a.length}`);
  assert.match(a, NAME_PATTERN);
  assert.equal(exposedName("plugin", long), a);
  // a different long name must not collide after shortening
  assert.notEqual(exposedName("plugin", "x".repeat(99) + "y"), a);
  assert.equal(a, "plugin__xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx_" + a.slice(-8));
});

const plugins = new TempDir("patchbay-naming-");
after(() => plugins.cleanup());

test("through the daemon: same tool name in two plugins, long names, duplicate plugin names", async () => {
  const long = "t".repeat(100);
  plugins.file("alpha.mjs", `export default { tools: { run: { handler: () => "alpha" }, ${long}: { handler: () => "long" } } };`);
  plugins.file("beta.mjs", `export default { tools: { run: { handler: () => "beta" } } };`);
  plugins.file("one.mjs", `export default { name: "dup", tools: { which: { handler: () => "one" } } };`);
  plugins.file("two.mjs", `export default { name: "dup", tools: { which: { handler: () => "two" } } };`);
  plugins.file("res-a.mjs", `export default { resources: { "same://thing": { read: () => "a" } } };`);
  plugins.file("res-b.mjs", `export default { resources: { "same://thing": { read: () => "b" } } };`);
  const d = await startDaemonProcess({ plugins: plugins.path });
  const c = await httpClient(d.url);
  try {
    assert.equal(textOf(await c.client.callTool({ name: "alpha__run", arguments: {} })), "alpha");
    assert.equal(textOf(await c.client.callTool({ name: "beta__run", arguments: {} })), "beta");
    const { tools } = await c.client.listTools();
    const longName = tools.map((t) => t.name).find((n) => n.startsWith("alpha__ttt"))!;
    assert.equal(longName, exposedName("alpha", long));
    assert.ok(longName.length <= 64);
    assert.equal(textOf(await c.client.callTool({ name: longName, arguments: {} })), "long");
    // duplicate plugin name: the file that sorts first wins, and it is reported
    assert.equal(textOf(await c.client.callTool({ name: "dup__which", arguments: {} })), "one");
    const health = await d.health();
    assert.ok(health.conflicts.some((m: string) => /plugin name "dup" is used by .*one\.mjs and .*two\.mjs; serving .*one\.mjs/.test(m)), JSON.stringify(health.conflicts));
    assert.ok(health.conflicts.some((m: string) => /resource "same:\/\/thing" is defined by .*res-a\.mjs and .*res-b\.mjs/.test(m)));
    assert.equal(health.plugins.find((p: any) => p.file.endsWith("two.mjs")).shadowedBy !== undefined, true);
    const read = await c.client.readResource({ uri: "same://thing" });
    assert.equal((read.contents[0] as { text: string }).text, "a");
    assert.match(d.stderr(), /plugin name \\"dup\\" is used by/);
  } finally {
    await c.close();
    await d.stop();
  }
});
