import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import { pino } from "pino";
import { AuditLog } from "../daemon/audit-log.ts";
import { RateLimiter } from "../daemon/rate-limiter.ts";
import { TempDir } from "./helpers/env.ts";

test("the audit log rotates by size and keeps at most maxFiles generations", async () => {
  const dir = new TempDir("patchbay-rot-");
  try {
    const log = new AuditLog(dir.join("a.log"), { includeArguments: true, maxBytes: 1024, maxFiles: 2 }, pino({ level: "silent" }));
    for (let i = 0; i < 40; i++) log.write({ time: "t", session: "s", transport: "stdio", method: "tools/call", name: `n${i}`, outcome: "ok", durationMs: 1, arguments: { i } });
    await log.close();
    assert.ok(existsSync(dir.join("a.log.1")));
    assert.ok(existsSync(dir.join("a.log.2")));
    assert.ok(!existsSync(dir.join("a.log.3")));
    const last = readFileSync(dir.join("a.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(last.at(-1).name, "n39");
    assert.deepEqual(last.at(-1).arguments, { i: 39 });
  } finally {
    dir.cleanup();
  }
});

test("the rate limiter counts per client and per window", () => {
  const r = new RateLimiter({ perMinute: 2, perHour: 3 });
  r.take("a", 0);
  r.take("a", 1);
  assert.throws(() => r.take("a", 2), /per minute/);
  r.take("b", 2);
  r.take("a", 61_000);
  assert.throws(() => r.take("a", 130_000), /per hour/);
  assert.doesNotThrow(() => new RateLimiter({}).take("x"));
});
