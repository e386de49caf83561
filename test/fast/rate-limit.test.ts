/**
 * Rate limits key on what a client cannot choose: its session (not `clientInfo.name`), plus
 * one global limit over all sessions; keys of idle sessions expire.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { RateLimiter, RATE_LIMITED, type RateLimitKey } from "../../daemon/rate-limiter.ts";
import { TempDir } from "../helpers/env.ts";
import { startInProcessDaemon } from "../helpers/in-process.ts";
import { httpClient, type RecordingClient } from "../helpers/clients.ts";

const session = (id: string): RateLimitKey => ({ key: `session:${id}`, limits: { perMinute: 2 }, label: "for this session" });
const GLOBAL: RateLimitKey = { key: "global", limits: { perMinute: 3 }, label: "across all sessions" };

test("limiter: each session has its own quota, all of them share the global one, a refusal costs nothing", () => {
  let now = 0;
  const r = new RateLimiter({}, () => now);
  r.take([session("a"), GLOBAL]);
  r.take([session("a"), GLOBAL]);
  assert.throws(() => r.take([session("a"), GLOBAL]), /at most 2 calls per minute for this session/);
  r.take([session("b"), GLOBAL]);
  assert.throws(() => r.take([session("c"), GLOBAL]), (e: { code: number; message: string }) => e.code === RATE_LIMITED && /at most 3 calls per minute across all sessions/.test(e.message));
  now = 60_000;
  // the windows slid past; the refused calls above were never counted
  r.take([session("a"), GLOBAL]);
  r.take([session("c"), GLOBAL]);
});

test("limiter: keys of sessions that stopped calling expire", () => {
  let now = 0;
  const r = new RateLimiter({}, () => now);
  for (let i = 0; i < 50; i++) r.take([session(`s${i}`)]);
  assert.equal(r.size, 50);
  now = 61_000;
  r.take([session("fresh")]);
  assert.equal(r.size, 1, "only the key used within its window is left");
  const hourly = new RateLimiter({}, () => now);
  hourly.take([{ key: "h", limits: { perHour: 5 }, label: "" }]);
  now += 2 * 60_000;
  hourly.take([{ key: "other", limits: { perHour: 5 }, label: "" }]);
  assert.equal(hourly.size, 2, "an hourly key lives as long as its window");
  now += 3_600_000;
  hourly.take([{ key: "other", limits: { perHour: 5 }, label: "" }]);
  assert.equal(hourly.size, 1);
  r.forget("session:fresh");
  assert.equal(r.size, 0);
});

test("daemon: two clients with the same name have separate quotas; rotating names over new sessions stops at the global limit", async () => {
  const plugins = new TempDir("patchbay-rate-");
  plugins.file("p.mjs", `export default { tools: { t: { handler: () => "ok" } } };`);
  const d = await startInProcessDaemon({ plugins: plugins.path, env: { PATCHBAY_RATE_LIMIT_PER_MINUTE: "3", PATCHBAY_RATE_LIMIT_GLOBAL_PER_MINUTE: "7" } });
  const clients: RecordingClient[] = [];
  const open = async (name: string) => {
    const c = await httpClient(d.url, { name });
    clients.push(c);
    return c;
  };
  const call = (c: RecordingClient) =>
    c.client.callTool({ name: "p__t", arguments: {} }).then(
      () => "ok",
      (e: { code?: number; message: string }) => (e.code === RATE_LIMITED ? e.message : Promise.reject(e)),
    );
  try {
    // one process naming itself after another does not use up the other's quota
    const a = await open("same-name");
    const b = await open("same-name");
    for (let i = 0; i < 3; i++) assert.equal(await call(a), "ok");
    const overA = await call(a);
    for (let i = 0; i < 3; i++) assert.equal(await call(b), "ok", "b's quota is its own");
    assert.match(overA, /at most 3 calls per minute for this session/);
    assert.match(await call(b), /for this session/);
    // six calls so far; a new name in a new session for every call gets one more through
    const results: string[] = [];
    for (let i = 0; i < 5; i++) results.push(await call(await open(`rotating-${i}`)));
    assert.equal(results.filter((r) => r === "ok").length, 1, results.join("\n"));
    for (const r of results.filter((x) => x !== "ok")) assert.match(r, /across all sessions/);
  } finally {
    for (const c of clients) {
      await (c.client.transport as StreamableHTTPClientTransport).terminateSession().catch(() => undefined);
      await c.close();
    }
    await d.stop();
    plugins.cleanup();
  }
});
