import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { exposedName, NAME_PATTERN, PLUGIN_NAME_PATTERN, pluginNameFromPath, validPluginName } from "../daemon/plugins/naming.ts";
import { compareCodePoints } from "../daemon/code-point-order.ts";
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

test("the winner of a plugin-name collision does not depend on the locale: file paths compare by code point", async (t) => {
  // ICU takes its default locale from LANG/LC_ALL even when the OS has no such locale; in
  // Danish "aa" is the letter å and sorts after "z". Without that, this test proves nothing.
  const danish = spawnSync(process.execPath, ["-e", 'process.stdout.write(String("aa".localeCompare("z")))'], { env: { ...process.env, LANG: "da_DK.UTF-8", LC_ALL: "da_DK.UTF-8" }, encoding: "utf8" });
  if (danish.stdout !== "1") return t.skip(`this Node's ICU does not collate Danish (got ${danish.stdout})`);
  const dir = new TempDir("patchbay-locale-");
  try {
    dir.file("aa.mjs", `export default { name: "dup", tools: { which: { handler: () => "aa" } } };`);
    dir.file("z.mjs", `export default { name: "dup", tools: { which: { handler: () => "z" } } };`);
    const winners: Record<string, string> = {};
    for (const locale of ["en_US.UTF-8", "da_DK.UTF-8", "C"]) {
      const d = await startDaemonProcess({ plugins: dir.path, env: { LANG: locale, LC_ALL: locale } });
      const c = await httpClient(d.url);
      try {
        const served = textOf(await c.client.callTool({ name: "dup__which", arguments: {} }));
        const reported = ((await d.health()).conflicts as string[]).find((m) => m.startsWith('plugin name "dup"'));
        winners[locale] = `${served}; reported: ${reported?.replace(/^.*serving .*\//, "serving ")}`;
      } finally {
        await c.close();
        await d.stop();
      }
    }
    const aa = "aa; reported: serving aa.mjs";
    assert.deepEqual(winners, { "en_US.UTF-8": aa, "da_DK.UTF-8": aa, C: aa });
  } finally {
    dir.cleanup();
  }
});

test("code point order: uppercase before lowercase, as LC_ALL=C sort; astral after U+FFFF", () => {
  const names = ["z", "aa", "Z", "é", "\u{1F600}", "\uFF5E", "a"];
  assert.deepEqual([...names].sort(compareCodePoints), ["Z", "a", "aa", "z", "é", "\uFF5E", "\u{1F600}"]);
  // the same order as UTF-8 bytes
  assert.deepEqual([...names].sort(compareCodePoints), [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
});

test("a plugin name from a file or folder name is always valid and the same on every run", () => {
  assert.equal(pluginNameFromPath("tasks.ts"), "tasks");
  assert.equal(pluginNameFromPath("with space.mjs"), "with_space");
  assert.equal(pluginNameFromPath("héllo.mjs"), "hello");
  assert.equal(pluginNameFromPath("a.b.mjs"), "a_b");
  assert.equal(pluginNameFromPath("my plugin/index.ts"), "my_plugin");
  assert.equal(pluginNameFromPath("git hub.mcp.json"), "git_hub");
  const long = pluginNameFromPath(`${"p".repeat(60)}.mjs`);
  assert.equal(long.length, 48);
  assert.match(long, /^p{39}_[0-9a-f]{8}$/);
  assert.equal(pluginNameFromPath(`${"p".repeat(60)}.mjs`), long);
  assert.notEqual(pluginNameFromPath(`${"p".repeat(59)}q.mjs`), long);
  assert.match(pluginNameFromPath("日本.mjs"), /^plugin_[0-9a-f]{8}$/);
  assert.notEqual(pluginNameFromPath("日本.mjs"), pluginNameFromPath("中国.mjs"));
  for (const stem of ["with space", "héllo", "a.b", "x".repeat(49), "日本", "🙂", "-", "Ωmega", ""]) assert.match(validPluginName(stem), PLUGIN_NAME_PATTERN, JSON.stringify(stem));
});

test("through the daemon: files named with spaces, accents and dots load under a derived name; an invalid explicit name is a clear error", async () => {
  const dir = new TempDir("patchbay-plugin-names-");
  const tool = (reply: string, extra = "") => `export default { ${extra}tools: { t: { handler: () => ${JSON.stringify(reply)} } } };`;
  dir.file("with space.mjs", tool("space"));
  dir.file("héllo.mjs", tool("accent"));
  dir.file("a.b.mjs", tool("dot"));
  dir.file("my plugin/index.mjs", tool("folder"));
  dir.file(`${"p".repeat(60)}.mjs`, tool("long"));
  dir.file("explicit.mjs", tool("never", `name: "bad name", `));
  const d = await startDaemonProcess({ plugins: dir.path });
  const c = await httpClient(d.url);
  try {
    const long = pluginNameFromPath(`${"p".repeat(60)}.mjs`);
    for (const [name, reply] of [["with_space", "space"], ["hello", "accent"], ["a_b", "dot"], ["my_plugin", "folder"], [long, "long"]]) {
      assert.equal(textOf(await c.client.callTool({ name: `${name}__t`, arguments: {} })), reply, name);
    }
    const health = await d.health();
    const byFile = (f: string) => health.plugins.find((p: any) => p.file.endsWith(f));
    assert.equal(byFile("with space.mjs").name, "with_space");
    assert.equal(byFile("with space.mjs").status, "loaded");
    const bad = byFile("explicit.mjs");
    assert.equal(bad.status, "error", JSON.stringify(bad));
    assert.match(JSON.stringify(bad), /name: \\"bad name\\" is not a valid plugin name: use 1 to 48 of A-Z a-z 0-9 _ - \(such as \\"bad_name\\"\), or leave name out to use the file name/);
  } finally {
    await c.close();
    await d.stop();
    dir.cleanup();
  }
});
