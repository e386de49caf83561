/**
 * Every setting's edges, from the config file, the environment and the command line: each
 * value gets a defined answer — taken, or refused with the key (and variable or flag) named
 * before anything starts.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
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
    for (const bad of [min - 1, max + 1]) refused(() => loadConfig({}, { [envName]: String(bad) }), new RegExp(`environment: ${envName} \\("${key}"\\): must be a whole number`), `${envName}=${bad}`);
  }
});

test("a call timeout past Node's timer limit stops the daemon before it starts, naming the key, with no TimeoutOverflowWarning", () => {
  const plugins = dir.join("no-plugins");
  const viaEnv = run(["start", "--port", "0", "--plugins", plugins], { PATCHBAY_CALL_TIMEOUT_MS: String(2 ** 31) });
  assert.equal(viaEnv.status, 2, viaEnv.stderr + viaEnv.stdout);
  assert.equal(viaEnv.stderr, `patchbay: environment: PATCHBAY_CALL_TIMEOUT_MS ("callTimeoutMs"): must be a whole number of milliseconds from 100 to 2147483647 (Node's timer limit, about 24.8 days)\n`);
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
    refused(() => loadConfig({}, { PATCHBAY_TOKEN: token }), new RegExp(`PATCHBAY_TOKEN \\("token"\\): .*${message.source}`), `env: ${JSON.stringify(token)}`);
    refused(() => loadConfig({ token }, {}), new RegExp(`--token \\("token"\\): .*${message.source}`), `flag: ${JSON.stringify(token)}`);
  }
  assert.equal(loadConfig({ token: "inner spaces ok" }, {}).token, "inner spaces ok");
  const plugins = dir.join("no-plugins");
  const flag = run(["start", "--host", "0.0.0.0", "--port", "0", "--plugins", plugins, "--token", "        "]);
  assert.equal(flag.status, 2, flag.stdout);
  assert.equal(flag.stderr, `patchbay: command line: --token ("token"): must not be empty or only whitespace\n`);
  const env = run(["start", "--host", "0.0.0.0", "--port", "0", "--plugins", plugins], { PATCHBAY_TOKEN: "        " });
  assert.equal(env.status, 2, env.stdout);
  assert.equal(env.stderr, `patchbay: environment: PATCHBAY_TOKEN ("token"): must not be empty or only whitespace\n`);
});
