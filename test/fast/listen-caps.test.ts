/**
 * Who may hold 2026-07-28 `subscriptions/listen` streams on /mcp (issue 21, item 13).
 *
 * Before: the per-address share (16) was bypassed by sending from 127.0.0.2, 127.0.0.3, …:
 * one process took all 1,024 of the SDK's slots, and every other client then got HTTP 200
 * with `-32603 "Subscription limit reached"` instead of the documented 503 with Retry-After.
 * Now a full table answers 503 + Retry-After like an address over its share; loopback has no
 * per-address share (any local process picks its source address; ordinary local clients all
 * share 127.0.0.1); a remote address holds at most 16, and remote addresses together leave
 * an eighth of the table to local clients.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { request, type ClientRequest, type IncomingMessage } from "node:http";
import { networkInterfaces } from "node:os";
import { TempDir } from "../helpers/env.ts";
import { startInProcessDaemon, type InProcessDaemon } from "../helpers/in-process.ts";
import { MODERN_REVISION } from "../helpers/clients-v2.ts";

const plugins = new TempDir("patchbay-listen-caps-");
plugins.file("hello.mjs", `export default { tools: { hi: { handler: async () => "hi" } } };`);
after(() => plugins.cleanup());

interface Opened {
  status: number;
  headers: IncomingMessage["headers"];
  /** the refusal's JSON body (a stream that was admitted has none to read) */
  body?: any;
  close(): void;
}

/** One listen request from `localAddress`; resolves at the response head (a stream stays open). */
function listen(base: string, localAddress: string, opts: { token?: string } = {}): Promise<Opened> {
  const u = new URL(`${base}/mcp`);
  const body = JSON.stringify({
    jsonrpc: "2.0",
    id: "listen",
    method: "subscriptions/listen",
    params: {
      notifications: { toolsListChanged: true },
      _meta: { "io.modelcontextprotocol/protocolVersion": MODERN_REVISION, "io.modelcontextprotocol/clientCapabilities": {}, "io.modelcontextprotocol/clientInfo": { name: "listen-caps", version: "1" } },
    },
  });
  return new Promise((resolve, reject) => {
    let req: ClientRequest;
    // eslint-disable-next-line prefer-const
    req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: "POST",
        localAddress,
        agent: false,
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-protocol-version": MODERN_REVISION,
          "mcp-method": "subscriptions/listen",
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        },
      },
      (res) => {
        const close = () => req.destroy();
        if ((res.statusCode ?? 0) >= 300 || !String(res.headers["content-type"]).startsWith("text/event-stream")) {
          let text = "";
          res.setEncoding("utf8").on("data", (d) => (text += d));
          res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: text ? JSON.parse(text) : undefined, close }));
          return;
        }
        res.on("error", () => undefined);
        resolve({ status: res.statusCode!, headers: res.headers, close });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function assertRefused(r: Opened, reason: RegExp) {
  assert.equal(r.status, 503, JSON.stringify(r.body));
  assert.equal(r.headers["retry-after"], "5");
  assert.equal(r.body?.error?.code, -32000);
  assert.match(r.body.error.message, /Too many open subscriptions\/listen streams/);
  assert.match(r.body.error.message, reason);
  assert.equal(r.body.id, "listen");
}

test("loopback: 1,024 streams from 127.0.0.1 (more than 16) and 127.0.0.2…; the next from any address is 503 with Retry-After, never 200/-32603; a closed stream frees its slot", async () => {
  const d: InProcessDaemon = await startInProcessDaemon({ plugins: plugins.path });
  const open: Opened[] = [];
  try {
    // 32 from 127.0.0.1 (a per-address share there only locked out the 17th local client),
    // the rest spread over 127.0.0.2… as the probe did
    for (let i = 0; i < 1_024; i += 16) {
      const from = i < 32 ? "127.0.0.1" : `127.0.0.${2 + i / 16}`;
      const batch = await Promise.all(Array.from({ length: 16 }, () => listen(d.url, from)));
      for (const r of batch) {
        open.push(r);
        assert.equal(r.status, 200, `stream ${open.length} from ${from}: ${JSON.stringify(r.body)}`);
      }
    }
    assertRefused(await listen(d.url, "127.0.0.1"), /all 1024 subscriptions\/listen streams are open/);
    assertRefused(await listen(d.url, "127.0.0.200"), /all 1024/);
    open.pop()!.close();
    let again: Opened | undefined;
    for (let tries = 0; tries < 200 && again?.status !== 200; tries++) {
      again?.close();
      again = await listen(d.url, "127.0.0.1");
      if (again.status !== 200) await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(again?.status, 200, "a slot came back once a stream closed");
    open.push(again!);
    assert.doesNotMatch(d.logs(), /subscription limit reached/);
  } finally {
    for (const r of open) r.close();
    await d.stop();
  }
});

/** This machine's first non-loopback IPv4 address, to be a "remote" client of its own daemon. */
const remoteAddress = Object.values(networkInterfaces())
  .flat()
  .find((n) => n && n.family === "IPv4" && !n.internal)?.address;

test("a remote address holds at most 16 streams, and remote addresses together leave an eighth of the table to local clients", { skip: remoteAddress ? false : "no non-loopback IPv4 address on this machine" }, async () => {
  const token = "listen-caps-token-0123456789";
  for (const [max, remoteMax, reason] of [
    [1_024, 16, /holds 16 subscriptions\/listen streams/],
    [16, 14, /remote clients hold 14 subscriptions\/listen streams; the rest are kept for local clients/],
  ] as const) {
    const d: InProcessDaemon = await startInProcessDaemon({ plugins: plugins.path, config: { host: "0.0.0.0", token }, env: { PATCHBAY_MAX_LISTEN_STREAMS: String(max) } });
    const open: Opened[] = [];
    try {
      const port = new URL(d.url).port;
      const remote = `http://${remoteAddress}:${port}`;
      const local = `http://127.0.0.1:${port}`;
      for (let i = 0; i < remoteMax; i++) {
        const r = await listen(remote, remoteAddress!, { token });
        open.push(r);
        assert.equal(r.status, 200, `remote stream ${i + 1} of ${remoteMax} (table ${max}): ${JSON.stringify(r.body)}`);
      }
      assertRefused(await listen(remote, remoteAddress!, { token }), reason);
      // local clients still get in, up to the whole table
      const localRoom = Math.min(max - remoteMax, 32);
      for (let i = 0; i < localRoom; i++) {
        const r = await listen(local, "127.0.0.1", { token });
        open.push(r);
        assert.equal(r.status, 200, `local stream ${i + 1} (table ${max}): ${JSON.stringify(r.body)}`);
      }
      if (max === 16) assertRefused(await listen(local, "127.0.0.1", { token }), /all 16 subscriptions\/listen streams are open/);
    } finally {
      for (const r of open) r.close();
      await d.stop();
    }
  }
});
