/**
 * The daemon's log file rotates by size (issue 21, item 9): file → file.1 → … → file.N, the
 * oldest dropped, so however much is logged the files stay within (N + 1) × logMaxBytes.
 * In process, on a real file.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { TempDir } from "./helpers/env.ts";
import { RotatingFile, createLogger } from "../daemon/logger.ts";
import { LogTail } from "../daemon/log-tail.ts";

test("a log file rotates by size and keeps logMaxFiles generations", () => {
  const dir = new TempDir("patchbay-log-rotation-");
  try {
    const file = join(dir.path, "logs", "daemon.log");
    const max = 16 * 1024;
    const log = createLogger({ level: "info", file, maxBytes: max, maxFiles: 2 });
    for (let i = 0; i < 2_000; i++) log.info({ i }, `line ${i} ${"x".repeat(80)}`);
    for (const f of [file, `${file}.1`, `${file}.2`]) {
      assert.ok(existsSync(f), `${f} exists`);
      assert.ok(statSync(f).size <= max, `${f} is ${statSync(f).size} bytes`);
    }
    assert.ok(!existsSync(`${file}.3`));
    // the newest line is in the current file, whole lines only, in order
    const lines = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { i: number });
    assert.equal(lines.at(-1)!.i, 1_999);
    for (let k = 1; k < lines.length; k++) assert.equal(lines[k].i, lines[k - 1].i + 1);
    const older = readFileSync(`${file}.1`, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { i: number });
    assert.equal(older.at(-1)!.i + 1, lines[0].i);
  } finally {
    dir.cleanup();
  }
});

test("logMaxFiles 0 keeps no old generation; a failing file never throws", () => {
  const dir = new TempDir("patchbay-log-rotation-0-");
  try {
    const file = join(dir.path, "daemon.log");
    const out = new RotatingFile(file, 16 * 1024, 0);
    for (let i = 0; i < 1_000; i++) out.write(`${"y".repeat(100)}\n`);
    assert.ok(statSync(file).size <= 16 * 1024);
    assert.ok(!existsSync(`${file}.1`));
    out.close();
    dir.cleanup();
    // the folder is gone: writing loses the line, nothing more
    assert.doesNotThrow(() => out.write("lost\n"));
  } finally {
    dir.cleanup();
  }
});

test("the log tail keeps the daemon's own lines however many stderr lines an upstream writes", () => {
  const tail = new LogTail(30);
  tail.push({ level: 30, msg: "daemon listening", time: 1 });
  for (let i = 0; i < 1_000; i++) tail.push({ level: 40, msg: `flood ${i}`, stderr: true, plugin: "up", time: 2 + i });
  tail.push({ level: 40, msg: "stderr: dropped 5000 lines in 1 s", plugin: "up", time: 2_000 });
  const lines = tail.recent();
  assert.ok(lines.some((l) => l.msg === "daemon listening"));
  assert.ok(lines.some((l) => /dropped 5000/.test(l.msg)));
  assert.equal(lines.filter((l) => l.stderr).length, 10);
  assert.equal(lines.at(-2)!.msg, "flood 999");
});
