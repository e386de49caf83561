/**
 * Bad input on stdio, in both modes of `patchbay stdio` (standalone, and attached through
 * the bridge to a daemon): every line gets an answer, as on /ws — -32700 for a line that is
 * not JSON, -32600 for JSON that is not a JSON-RPC message, nests too deep or is over the
 * size limit (with its id when one is readable) — the connection stays usable, the bridge's
 * connection to the daemon is not dropped by a message its WebSocket would refuse, and the
 * end of input ends the process.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { rmSync, writeFileSync } from "node:fs";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import { CLI, TempDir } from "./helpers/env.ts";
import { startDaemonProcess, type RunningDaemon } from "./helpers/daemon.ts";

const LIMIT = 65_536;
const plugins = new TempDir("patchbay-stdio-input-");
const standaloneHome = new TempDir("patchbay-stdio-input-home-");
const release = standaloneHome.join("release-slow");
let d: RunningDaemon;

before(async () => {
  // slow ends only once the test lets it, after the refusal and a later call have come back
  plugins.file(
    "p.mjs",
    `import { existsSync } from "node:fs";
export default { tools: {
  slow: { handler: () => new Promise((r) => { const t = setInterval(() => existsSync(${JSON.stringify(release)}) && (clearInterval(t), r("slow done")), 20); }) },
  t: { handler: () => "ok" },
} };`,
  );
  d = await startDaemonProcess({ plugins: plugins.path, env: { PATCHBAY_MAX_BODY_BYTES: String(LIMIT) } });
});
after(async () => {
  await d?.stop();
  plugins.cleanup();
  standaloneHome.cleanup();
});

interface Line {
  child: ChildProcessWithoutNullStreams;
  /** every message the process wrote, in order */
  got: any[];
  next(): Promise<any>;
  write(line: string): void;
  ask(msg: { id: number | string }): Promise<any>;
  /** the answer to `id`, whenever it came (does not move `next`) */
  answerTo(id: number | string): Promise<any>;
}

function run(args: string[], home: string): Line {
  const child = spawn(process.execPath, [CLI, "stdio", ...args], { env: { ...process.env, PATCHBAY_HOME: home, PATCHBAY_MAX_BODY_BYTES: String(LIMIT), PATCHBAY_LOG_LEVEL: "warn" } });
  child.stderr.resume();
  const got: any[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: child.stdout }).on("line", (l) => {
    got.push(JSON.parse(l));
    waiters.splice(0).forEach((w) => w());
  });
  let read = 0;
  const next = () =>
    new Promise<any>((resolve) => {
      const check = () => (got.length > read ? resolve(got[read++]) : waiters.push(check));
      check();
    });
  const write = (line: string) => void child.stdin.write(line + "\n");
  const ask = async (msg: { id: number | string }) => {
    write(JSON.stringify(msg));
    for (;;) {
      const m = await next();
      if (m.id === msg.id) return m;
    }
  };
  const answerTo = (id: number | string) =>
    new Promise<any>((resolve) => {
      const check = () => {
        const m = got.find((x) => x.id === id && x.method === undefined);
        if (m) resolve(m);
        else waiters.push(check);
      };
      check();
    });
  return { child, got, next, write, ask, answerTo };
}

const INIT = { jsonrpc: "2.0", id: "init", method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } } };
const nested = (levels: number) => "[".repeat(levels) + "]".repeat(levels);

for (const mode of ["standalone", "attached"] as const) {
  test(`stdio ${mode}: every bad line gets its answer, the connection stays usable, and the end of input ends the process`, { timeout: 60_000 }, async () => {
    rmSync(release, { force: true });
    const s = run(mode === "standalone" ? ["--standalone", "--plugins", plugins.path] : [], mode === "standalone" ? standaloneHome.path : d.home);
    try {
      assert.equal((await s.ask(INIT)).result?.serverInfo?.name, "patchbay");
      s.write(JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }));
      // one answer per line, in order, each with the id when one can be read
      const cases: [string, number, string | number | null, RegExp][] = [
        ["garbage", -32700, null, /Parse error/],
        ["{", -32700, null, /Parse error/],
        ["42", -32600, null, /not a JSON-RPC/],
        ["null", -32600, null, /not a JSON-RPC/],
        ["[]", -32600, null, /not a JSON-RPC/],
        [JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/list", params: [] }), -32600, 3, /not a JSON-RPC/],
        [JSON.stringify({ jsonrpc: "2.0", id: 4, method: "ping", extra: true }), -32600, 4, /not a JSON-RPC/],
        [`{"jsonrpc":"2.0","id":5,"method":"initialize","params":{"protocolVersion":"2025-11-25","clientInfo":{"name":"x","version":"1"},"capabilities":{"experimental":{"x":${nested(2000)}}}}}`, -32600, 5, /nested deeper than 256/],
      ];
      for (const [line, code, id, message] of cases) {
        s.write(line);
        const answer = await s.next();
        assert.equal(answer.error?.code, code, `${line.slice(0, 60)} → ${JSON.stringify(answer)}`);
        assert.equal(answer.id, id, line.slice(0, 60));
        assert.match(answer.error.message, message, line.slice(0, 60));
      }
      // a line over the limit is refused and skipped, without dropping a call in flight
      s.write(JSON.stringify({ jsonrpc: "2.0", id: "slow", method: "tools/call", params: { name: "p__slow", arguments: {} } }));
      const big = JSON.stringify({ jsonrpc: "2.0", id: 6, method: "tools/call", params: { name: "p__t", arguments: { pad: "x".repeat(LIMIT * 2) } } });
      s.write(big);
      const refused = await s.next();
      assert.equal(refused.error?.code, -32600, JSON.stringify(refused).slice(0, 300));
      assert.match(refused.error.message, /over the 65536 byte limit/);
      assert.deepEqual((await s.ask({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "p__t", arguments: {} } } as any)).result?.content, [{ type: "text", text: "ok" }]);
      writeFileSync(release, "");
      assert.deepEqual((await s.answerTo("slow")).result?.content, [{ type: "text", text: "slow done" }], "the call in flight was not lost");
      // (standalone answers initialize before its plugins have loaded: their list_changed is expected there)
      if (mode === "attached") assert.ok(!s.got.some((m) => m.method === "notifications/tools/list_changed"), "the bridge did not reconnect");
      // the daemon is unharmed
      if (mode === "attached") assert.equal((await d.health()).status, "ok");
    } finally {
      s.child.stdin.end();
      if (s.child.exitCode === null && s.child.signalCode === null) await once(s.child, "exit");
    }
    assert.equal(s.child.exitCode, 0);
  });
}
