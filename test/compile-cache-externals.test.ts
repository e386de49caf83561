/**
 * The compile cache keys a bundle by the content of the files it was made from; the packages a
 * plugin imports stay external, named by absolute paths. An `npm install` that moves a package
 * changes no input, so a cached bundle would import a file that is gone (and a parked plugin
 * would be listed from it, failing at its first call): a restart must compile it again.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { renameSync } from "node:fs";
import { TempDir } from "./helpers/env.ts";
import { startDaemonProcess } from "./helpers/daemon.ts";
import { httpClient, textOf } from "./helpers/clients.ts";

const plugins = new TempDir("patchbay-cache-ext-");
const home = new TempDir("patchbay-cache-ext-home-");
after(() => {
  plugins.cleanup();
  home.cleanup();
});

test("a cached bundle whose external package moved is compiled again on restart", async () => {
  plugins.file("node_modules/dep/package.json", JSON.stringify({ name: "dep", version: "1.0.0", type: "module", main: "index.js" }));
  plugins.file("node_modules/dep/index.js", `export const word = "one";\n`);
  plugins.file("uses.mjs", `import { word } from "dep";\nexport default { tools: { word: { handler: () => word } } };\n`);

  const first = await startDaemonProcess({ plugins: plugins.path, home: home.path });
  try {
    const c = await httpClient(first.url);
    assert.equal(textOf(await c.client.callTool({ name: "uses__word", arguments: {} })), "one");
    await c.close();
  } finally {
    await first.stop();
  }

  // what an upgrade of the package does: its entry file moves; the plugin's own file is untouched
  plugins.file("node_modules/dep/package.json", JSON.stringify({ name: "dep", version: "2.0.0", type: "module", main: "lib/main.js" }));
  plugins.file("node_modules/dep/lib/main.js", `export const word = "two";\n`);
  renameSync(plugins.join("node_modules/dep/index.js"), plugins.join("node_modules/dep/old-index.js.bak"));

  const second = await startDaemonProcess({ plugins: plugins.path, home: home.path });
  try {
    const c = await httpClient(second.url);
    const r = await c.client.callTool({ name: "uses__word", arguments: {} });
    assert.equal(textOf(r), "two", JSON.stringify(r));
    await c.close();
    assert.match(second.stderr(), /"plugin":"uses".*"cached":false/);
  } finally {
    await second.stop();
  }
});
