/** In stdio mode stdout carries JSON-RPC and nothing else — even with debug logs and a chatty plugin. */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { CLI, TempDir, waitFor } from "./helpers/env.ts";
import { startDaemonProcess } from "./helpers/daemon.ts";

const plugins = new TempDir("patchbay-stdout-");
const home = new TempDir("patchbay-stdout-home-");
// fs.writeSync(1, …) bypasses every console/process.stdout redirection: it writes to the
// process's fd 1, which worker threads share with the main thread.
plugins.file("rawfd.mjs", `import { writeSync } from "node:fs";\nwriteSync(1, "rawfd at load\\n");\nexport default { tools: { raw: { handler: () => { writeSync(1, "rawfd in handler\\n"); return "raw"; } } } };\n`);
plugins.file("chatty.ts", `console.log("chatty at load");\nexport default { tools: { talk: { handler: () => { console.log("chatty in handler"); console.error("chatty on stderr"); return "said"; } } } };\n`);
after(() => {
  plugins.cleanup();
  home.cleanup();
});

async function session(args: string[]) {
  const proc = spawn(process.execPath, [CLI, "stdio", ...args], { env: { ...process.env, PATCHBAY_HOME: home.path, PATCHBAY_LOG_LEVEL: "debug" }, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  let err = "";
  proc.stdout.setEncoding("utf8").on("data", (d) => (out += d));
  proc.stderr.setEncoding("utf8").on("data", (d) => (err += d));
  const send = (m: unknown) => proc.stdin.write(JSON.stringify(m) + "\n");
  send({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw-stdio", version: "1" } } });
  await waitFor("initialize answer", () => out.includes('"id":1') || undefined);
  send({ jsonrpc: "2.0", method: "notifications/initialized" });
  send({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "chatty__talk", arguments: {} } });
  await waitFor("call answer", () => out.includes('"id":2') || undefined);
  send({ jsonrpc: "2.0", id: 4, method: "tools/call", params: { name: "rawfd__raw", arguments: {} } });
  await waitFor("raw fd call answer", () => out.includes('"id":4') || undefined);
  send({ jsonrpc: "2.0", id: 3, method: "no/such/method" });
  await waitFor("error answer", () => out.includes('"id":3') || undefined);
  proc.stdin.end();
  await once(proc, "exit");
  return { out, err };
}

function assertOnlyJsonRpc(out: string) {
  const lines = out.split("\n").filter(Boolean);
  assert.ok(lines.length >= 3);
  for (const line of lines) {
    const msg = JSON.parse(line);
    assert.equal(msg.jsonrpc, "2.0", line);
  }
  assert.ok(!out.includes("chatty"));
  assert.ok(!out.includes("rawfd"), "a plugin's raw write to fd 1 is not on stdout");
  assert.match(out, /"text":"raw"/);
}

test("--standalone: stdout is only JSON-RPC; plugin output and logs go to stderr", async () => {
  const { out, err } = await session(["--standalone", "--plugins", plugins.path]);
  assertOnlyJsonRpc(out);
  assert.match(err, /chatty in handler/);
  // fd 1 of the plugins is our stderr
  assert.match(err, /rawfd at load/);
  assert.match(err, /rawfd in handler/);
  assert.match(out, /"code":-32601/);
});

test("attached to a daemon: stdout is only JSON-RPC", async () => {
  const d = await startDaemonProcess({ plugins: plugins.path, home: home.path });
  try {
    const { out } = await session([]);
    assertOnlyJsonRpc(out);
    assert.match(out, /"text":"said"/);
  } finally {
    await d.stop();
  }
});
