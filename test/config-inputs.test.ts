/**
 * Every setting's edges, from the config file, the environment and the command line: each
 * value gets a defined answer — taken, or refused with the key (and variable or flag) named
 * before anything starts.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync } from "node:fs";
import { CLI, TempDir } from "./helpers/env.ts";
import { loadConfig, MAX_TIMER_MS } from "../daemon/config.ts";
import { ConfigError } from "../daemon/errors.ts";

const dir = new TempDir("patchbay-config-inputs-");
after(() => dir.cleanup());

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, PATCHBAY_HOME: dir.join("home"), ...env }, encoding: "utf8", timeout: 30_000 });
}

const fromFile = (name: string, config: Record<string, unknown>) => loadConfig({ config: dir.file(`${name}.json`, JSON.stringify(config)) }, {});
const refused = (fn: () => unknown, message: RegExp, what: string) => assert.throws(fn, (e: Error) => e instanceof ConfigError && message.test(e.message), what);

// [key, env variable or undefined, lowest accepted, highest accepted]
const DURATIONS: [string, string | undefined, number, number][] = [
  ["callTimeoutMs", "PATCHBAY_CALL_TIMEOUT_MS", 100, MAX_TIMER_MS],
  ["workerIdleMs", "PATCHBAY_WORKER_IDLE_MS", 0, MAX_TIMER_MS],
  ["sessionIdleTimeoutMs", "PATCHBAY_SESSION_IDLE_TIMEOUT_MS", 1_000, MAX_TIMER_MS],
  ["sessionEvictAfterIdleMs", "PATCHBAY_SESSION_EVICT_AFTER_IDLE_MS", 0, MAX_TIMER_MS],
  ["sessionEvictDetachedAfterIdleMs", "PATCHBAY_SESSION_EVICT_DETACHED_AFTER_IDLE_MS", 0, 86_400_000],
  ["reloadDebounceMs", undefined, 0, 60_000],
  ["shutdownGraceMs", "PATCHBAY_SHUTDOWN_GRACE_MS", 0, MAX_TIMER_MS - 5_000],
  ["wsHeartbeatMs", "PATCHBAY_WS_HEARTBEAT_MS", 100, MAX_TIMER_MS],
  ["sseKeepAliveMs", "PATCHBAY_SSE_KEEPALIVE_MS", 100, MAX_TIMER_MS],
  ["requestStateTtlSeconds", "PATCHBAY_REQUEST_STATE_TTL_SECONDS", 1, 86_400],
];

test("every duration setting has a range: both ends taken, one past either end refused naming the key, from the file and the environment", () => {
  assert.equal(MAX_TIMER_MS, 2 ** 31 - 1);
  for (const [key, envName, min, max] of DURATIONS) {
    const range = new RegExp(`"${key}": must be a whole number of (milliseconds|seconds) from ${min} to ${max}`);
    assert.equal((fromFile(`${key}-min`, { [key]: min }) as Record<string, unknown>)[key], min, key);
    assert.equal((fromFile(`${key}-max`, { [key]: max }) as Record<string, unknown>)[key], max, key);
    for (const bad of [min - 1, max + 1, min + 0.5]) refused(() => fromFile(`${key}-bad`, { [key]: bad }), range, `${key} = ${bad} in the file`);
    if (!envName) continue;
    assert.equal((loadConfig({}, { [envName]: String(max) }) as Record<string, unknown>)[key], max, envName);
    for (const bad of [min - 1, max + 1]) refused(() => loadConfig({}, { [envName]: String(bad) }), new RegExp(`environment ${envName}: "${key}": must be a whole number`), `${envName}=${bad}`);
  }
});

test("a call timeout past Node's timer limit stops the daemon before it starts, naming the key, with no TimeoutOverflowWarning", () => {
  const plugins = dir.join("no-plugins");
  const viaEnv = run(["start", "--port", "0", "--plugins", plugins], { PATCHBAY_CALL_TIMEOUT_MS: String(2 ** 31) });
  assert.equal(viaEnv.status, 2, viaEnv.stderr + viaEnv.stdout);
  assert.equal(viaEnv.stderr, `patchbay: environment PATCHBAY_CALL_TIMEOUT_MS: "callTimeoutMs": must be a whole number of milliseconds from 100 to 2147483647 (Node's timer limit, about 24.8 days)\n`);
  const file = dir.file("huge-timeout.json", JSON.stringify({ callTimeoutMs: 3e9 }));
  const viaFile = run(["start", "--port", "0", "--plugins", plugins, "--config", file]);
  assert.equal(viaFile.status, 2, viaFile.stderr + viaFile.stdout);
  assert.match(viaFile.stderr, /huge-timeout\.json: "callTimeoutMs": must be a whole number of milliseconds from 100 to 2147483647/);
  assert.doesNotMatch(viaEnv.stderr + viaFile.stderr, /TimeoutOverflowWarning/);
});

test("a token no client could send is refused from the file, the environment and the flag — eight spaces too, with --host 0.0.0.0", () => {
  for (const [token, message] of [
    ["        ", /must not be empty or only whitespace/],
    ["\t\t\t\t\t\t\t\t", /must not be empty or only whitespace/],
    [" padded-token", /must not start or end with whitespace/],
    ["padded-token ", /must not start or end with whitespace/],
    ["pässwörd-token", /only printable ASCII/],
    ["new\nline-token", /only printable ASCII/],
    ["short", /at least 8 characters/],
  ] as const) {
    refused(() => fromFile("token", { token }), new RegExp(`"token": .*${message.source}`), `file: ${JSON.stringify(token)}`);
    refused(() => loadConfig({}, { PATCHBAY_TOKEN: token }), new RegExp(`environment PATCHBAY_TOKEN: "token": .*${message.source}`), `env: ${JSON.stringify(token)}`);
    refused(() => loadConfig({ token }, {}), new RegExp(`command line --token: "token": .*${message.source}`), `flag: ${JSON.stringify(token)}`);
  }
  assert.equal(loadConfig({ token: "inner spaces ok" }, {}).token, "inner spaces ok");
  const plugins = dir.join("no-plugins");
  const flag = run(["start", "--host", "0.0.0.0", "--port", "0", "--plugins", plugins, "--token", "        "]);
  assert.equal(flag.status, 2, flag.stdout);
  assert.equal(flag.stderr, `patchbay: command line --token: "token": must not be empty or only whitespace\n`);
  const env = run(["start", "--host", "0.0.0.0", "--port", "0", "--plugins", plugins], { PATCHBAY_TOKEN: "        " });
  assert.equal(env.status, 2, env.stdout);
  assert.equal(env.stderr, `patchbay: environment PATCHBAY_TOKEN: "token": must not be empty or only whitespace\n`);
});

test("numbers from the environment are decimal digits only: 0x1F90, 1e3, padded or Infinity are refused naming the variable", () => {
  for (const raw of ["0x1F90", "0o17620", "0b1", "1e3", " 8080", "8080 ", "+8080", "Infinity", "8_080", "８０８０"]) {
    refused(() => loadConfig({}, { PATCHBAY_PORT: raw }), new RegExp(`^environment PATCHBAY_PORT: expected a number in decimal digits, got ${JSON.stringify(JSON.stringify(raw)).slice(1, -1).replace(/[+.]/g, "\\$&")}$`), raw);
  }
  assert.equal(loadConfig({}, { PATCHBAY_PORT: "8080" }).port, 8080);
  assert.equal(loadConfig({}, { PATCHBAY_PORT: "08080" }).port, 8080);
  refused(() => loadConfig({}, { PATCHBAY_PORT: "65536" }), /environment PATCHBAY_PORT: "port": must be a whole number from 0 to 65535/, "65536");
  refused(() => loadConfig({}, { PATCHBAY_CALL_TIMEOUT_MS: "0x10000" }), /PATCHBAY_CALL_TIMEOUT_MS: expected a number in decimal digits/, "hex timeout");
  const r = run(["start", "--plugins", dir.join("no-plugins")], { PATCHBAY_PORT: "0x1F90" });
  assert.equal(r.status, 2, r.stdout);
  assert.equal(r.stderr, `patchbay: environment PATCHBAY_PORT: expected a number in decimal digits, got "0x1F90"\n`);
});

test("a flag that takes a value, given twice, is a usage error naming it (exit 2); a repeated switch is harmless", () => {
  for (const args of [
    ["start", "--port", "0", "--port", "1"],
    ["start", "--port=0", "--port", "1"],
    ["start", "--plugins", "a", "--port", "0", "--plugins", "b"],
    ["stdio", "--profile", "a", "--profile", "b"],
    ["status", "--config", "a.json", "--config", "b.json"],
  ]) {
    const r = run(args);
    const flag = args.filter((a) => a.startsWith("--")).map((a) => a.replace(/=.*/, "")).find((a, i, all) => all.indexOf(a) !== i);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stderr, `patchbay: ${flag} is given more than once; give it once.\nRun \`patchbay --help\` for usage.\n`, args.join(" "));
  }
  const twice = run(["status", "--json", "--json"]);
  assert.equal(twice.status, 1, twice.stderr);
  assert.deepEqual(JSON.parse(twice.stdout), { running: false });
});

test("a PATCHBAY_HOME that cannot be created or written is one line naming the path, the cause and the fix (exit 1), for start and stdio", () => {
  const file = dir.file("a-file", "");
  const cases: [string, RegExp][] = [
    [dir.join("a-file", "home"), /cannot create it: a part of the path is a file, not a folder \(ENOTDIR\)/],
    [file, /it is a file, not a folder/],
  ];
  for (const [home, cause] of cases) {
    for (const args of [["start", "--port", "0", "--plugins", dir.join("no-plugins")], ["stdio", "--standalone"], ["stdio"]]) {
      const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...process.env, PATCHBAY_HOME: home }, input: "", encoding: "utf8", timeout: 30_000 });
      const what = `${args.join(" ")} with PATCHBAY_HOME=${home}`;
      assert.equal(r.status, 1, `${what}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^patchbay: cannot use PATCHBAY_HOME ${home.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: ${cause.source}\\. Point PATCHBAY_HOME at a folder you can write, or fix that path's permissions\\.\\n$`), what);
    }
  }
});

test("a read-only PATCHBAY_HOME is the same one line (run as an unprivileged user: root may write anywhere)", (t) => {
  const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  const ro = new TempDir("patchbay-ro-home-");
  try {
    chmodSync(ro.path, 0o555);
    for (const [home, cause] of [
      [ro.path, "cannot write in it: permission denied \\(EACCES\\)"],
      [ro.join("sub"), "cannot create it: permission denied \\(EACCES\\)"],
    ]) {
      const r = spawnSync(process.execPath, [CLI, "start", "--port", "0", "--plugins", ro.join("plugins")], { ...asUser, env: { ...process.env, PATCHBAY_HOME: home }, encoding: "utf8", timeout: 30_000 });
      if (r.error && (r.error as NodeJS.ErrnoException).code === "EPERM") return t.skip("cannot run as an unprivileged user here");
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^patchbay: cannot use PATCHBAY_HOME ${home}: ${cause}\\. Point PATCHBAY_HOME at a folder you can write, or fix that path's permissions\\.\\n$`));
    }
  } finally {
    chmodSync(ro.path, 0o755);
    ro.cleanup();
  }
});

test("every error the CLI prints is whole lines: a 'patchbay: ' line, a newline last, no stack trace", () => {
  const plugins = dir.join("no-plugins");
  const outcomes = [
    run(["start", "--bogus"]),
    run(["frobnicate"]),
    run(["start", "--port", "99999"]),
    run(["start", "--port", "0", "--port", "1"]),
    run(["start", "--plugins", plugins], { PATCHBAY_PORT: "0x1F90" }),
    run(["start", "--plugins", plugins], { PATCHBAY_TELEMETRY: "yes" }),
    run(["start", "--port", "0", "--plugins", plugins, "--log-level", "loud"]),
    run(["start", "--port", "0", "--plugins", plugins, "--config", dir.join("missing.json")]),
    run(["start", "--port", "0", "--plugins", plugins, "--config", dir.file("two-bad.json", JSON.stringify({ port: -1, callTimeoutMs: 0 }))]),
    run(["start", "--host", "0.0.0.0", "--port", "0", "--plugins", plugins]),
    run(["start", "--port", "0", "--plugins", plugins], { PATCHBAY_HOME: dir.file("home-is-a-file", "") }),
    run(["start", "--port", "0", "--plugins", plugins], { PATCHBAY_AUDIT_FILE: dir.join("home-is-a-file", "audit.log") }),
    run(["new-plugin", "bad name", "--plugins", plugins]),
    run(["new-plugin"]),
  ];
  for (const r of outcomes) {
    const what = `${r.stderr}`;
    assert.notEqual(r.status, 0, what);
    assert.ok(r.stderr.endsWith("\n") && !r.stderr.endsWith("\n\n"), `no single trailing newline: ${JSON.stringify(r.stderr)}`);
    // the daemon's own log lines may come first (JSON when stderr is not a terminal)
    assert.match(r.stderr, /^patchbay: /m, what);
    assert.doesNotMatch(r.stderr, /^\s+at /m, what);
  }
});
