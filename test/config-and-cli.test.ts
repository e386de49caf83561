/** Config files, env vars and CLI flags: every bad input has a clear error naming the key. */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { CLI, TempDir } from "./helpers/env.ts";
import { loadConfig } from "../daemon/config.ts";
import { ConfigError } from "../daemon/errors.ts";
import { startDaemonProcess } from "./helpers/daemon.ts";
import { httpClient, textOf } from "./helpers/clients.ts";

const dir = new TempDir("patchbay-config-");
after(() => dir.cleanup());

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, PATCHBAY_HOME: dir.join("home"), ...env }, encoding: "utf8", timeout: 30_000 });
}

test("a config file with an unknown key is rejected, naming the key", () => {
  const f = dir.file("unknown.json", JSON.stringify({ port: 1234, prot: 5 }));
  assert.throws(() => loadConfig({ config: f }, {}), (e: Error) => e instanceof ConfigError && /unknown key "prot"/.test(e.message) && e.message.includes(f));
});

test("a bad value is rejected, naming the key", () => {
  const f = dir.file("bad.json", JSON.stringify({ port: "eighty" }));
  assert.throws(() => loadConfig({ config: f }, {}), /"port": .*number/);
  const g = dir.file("bad2.json", JSON.stringify({ callTimeoutMs: -1 }));
  assert.throws(() => loadConfig({ config: g }, {}), /"callTimeoutMs"/);
});

test("invalid JSON in the config file is a clear error", () => {
  const f = dir.file("broken.json", "{ port: 1 ");
  assert.throws(() => loadConfig({ config: f }, {}), /not valid JSON/);
});

test("precedence: file < env < flags; relative pluginsDir resolves against the file", () => {
  const f = dir.file("conf/p.json", JSON.stringify({ port: 1000, pluginsDir: "../myplugins", host: "127.0.0.1" }));
  const c1 = loadConfig({ config: f }, {});
  assert.equal(c1.port, 1000);
  assert.equal(c1.pluginsDir, dir.join("myplugins"));
  const c2 = loadConfig({ config: f }, { PATCHBAY_PORT: "2000" });
  assert.equal(c2.port, 2000);
  const c3 = loadConfig({ config: f, port: 3000 }, { PATCHBAY_PORT: "2000" });
  assert.equal(c3.port, 3000);
});

test("idle parking and running-plugin limit settings: default, env, and bad values named", () => {
  const none = dir.file("parking-none.json", "{}");
  assert.equal(loadConfig({ config: none }, {}).workerIdleMs, 300_000);
  assert.deepEqual(loadConfig({ config: none }, {}).keepAlivePlugins, []);
  assert.equal(loadConfig({ config: none }, { PATCHBAY_WORKER_IDLE_MS: "0" }).workerIdleMs, 0);
  assert.throws(() => loadConfig({ config: none }, { PATCHBAY_WORKER_IDLE_MS: "-5" }), /"workerIdleMs"/);
  assert.throws(() => loadConfig({ config: none }, { PATCHBAY_WORKER_IDLE_MS: "soon" }), /PATCHBAY_WORKER_IDLE_MS: expected a number/);
  const bad = dir.file("parking-bad.json", JSON.stringify({ keepAlivePlugins: "tasks" }));
  assert.throws(() => loadConfig({ config: bad }, {}), /"keepAlivePlugins"/);
  assert.equal(loadConfig({ config: none }, {}).maxRunningPlugins, 32);
  assert.equal(loadConfig({ config: none }, { PATCHBAY_MAX_RUNNING_PLUGINS: "0" }).maxRunningPlugins, 0);
  assert.throws(() => loadConfig({ config: none }, { PATCHBAY_MAX_RUNNING_PLUGINS: "-1" }), /"maxRunningPlugins"/);
  assert.throws(() => loadConfig({ config: none }, { PATCHBAY_MAX_RUNNING_PLUGINS: "1.5" }), /"maxRunningPlugins"/);
});

test("workerGroups: default none, globs kept, bad names and empty groups rejected with the key named", () => {
  const none = dir.file("groups-none.json", "{}");
  assert.deepEqual(loadConfig({ config: none }, {}).workerGroups, {});
  const good = dir.file("groups-good.json", JSON.stringify({ workerGroups: { small: ["util*", "greeter"] } }));
  assert.deepEqual(loadConfig({ config: good }, {}).workerGroups, { small: ["util*", "greeter"] });
  for (const [name, value, message] of [
    ["groups-badname", { "has space": ["a"] }, /"workerGroups.has space"/],
    ["groups-empty", { small: [] }, /at least one member pattern/],
    ["groups-emptypattern", { small: [""] }, /must not be empty/],
    ["groups-notarray", { small: "a*" }, /"workerGroups/],
    ["groups-notobject", ["a*"], /"workerGroups/],
  ] as const) {
    const f = dir.file(`${name}.json`, JSON.stringify({ workerGroups: value }));
    assert.throws(() => loadConfig({ config: f }, {}), message, name);
  }
});

test("a non-numeric PATCHBAY_PORT is rejected", () => {
  assert.throws(() => loadConfig({}, { PATCHBAY_PORT: "abc" }), /PATCHBAY_PORT: expected a number/);
});

test("CLI: unknown flag and bad --port exit 2 with a message", () => {
  const a = run(["start", "--bogus"]);
  assert.equal(a.status, 2);
  assert.match(a.stderr, /Unknown option '--bogus'/);
  const b = run(["start", "--port", "http"]);
  assert.equal(b.status, 2);
  assert.match(b.stderr, /--port: expected a number/);
  const c = run(["frobnicate"]);
  assert.equal(c.status, 2);
  assert.match(c.stderr, /unknown command "frobnicate"/);
  const d = run(["start", "--config", dir.file("x.json", JSON.stringify({ nope: 1 }))]);
  assert.equal(d.status, 2);
  assert.match(d.stderr, /unknown key "nope"/);
});

test("CLI: refuses a non-loopback host without a token", () => {
  const r = run(["start", "--host", "0.0.0.0", "--port", "0", "--plugins", dir.join("none")]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /refusing to listen on 0\.0\.0\.0 without a token/);
});

test("new-plugin writes a plugin that works as written", async () => {
  const plugins = dir.join("np-plugins");
  const r = run(["new-plugin", "weather", "--plugins", plugins]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(`${plugins}/weather.ts`));
  assert.match(readFileSync(`${plugins}/weather.ts`, "utf8"), /definePlugin/);
  const again = run(["new-plugin", "weather", "--plugins", plugins]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /already exists/);
  const d = await startDaemonProcess({ plugins });
  const c = await httpClient(d.url);
  try {
    assert.equal(textOf(await c.client.callTool({ name: "weather__echo", arguments: { message: "hi", shout: true } })), "HI");
  } finally {
    await c.close();
    await d.stop();
  }
});

test("the daemon writes a 0600 state file, refuses a second start on the same home, removes it on SIGTERM", async () => {
  const home = dir.join("state-home");
  const d = await startDaemonProcess({ plugins: dir.join("none2"), home });
  const stateFile = `${home}/daemon.json`;
  try {
    const state = JSON.parse(readFileSync(stateFile, "utf8"));
    assert.equal(state.pid, d.proc.pid);
    assert.equal(statSync(stateFile).mode & 0o777, 0o600);
    const second = run(["start", "--port", "0", "--plugins", dir.join("none2")], { PATCHBAY_HOME: home });
    assert.equal(second.status, 1);
    assert.match(second.stderr, /already running \(pid \d+\) at http:\/\/127\.0\.0\.1:\d+/);
    const c = await httpClient(`http://127.0.0.1:${state.port}`, { name: "status-probe" });
    const status = run(["status"], { PATCHBAY_HOME: home });
    assert.equal(status.status, 0);
    assert.match(status.stdout, /running \(pid \d+\)/);
    assert.match(status.stdout, /Sessions: 1 \(streamable-http: 1\)/);
    assert.match(status.stdout, /streamable-http\s+status-probe\s+0 calls/);
    await c.close();
  } finally {
    assert.equal(await d.stop(), 0);
  }
  assert.equal(existsSync(stateFile), false);
  const status = run(["status"], { PATCHBAY_HOME: home });
  assert.equal(status.status, 1);
  assert.match(status.stdout, /No patchbay daemon is running/);
});
