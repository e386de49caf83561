/**
 * The shared HTTP layer in-process (daemon/http-server.ts), for what a real daemon cannot be
 * made to do on demand: a route or upgrade handler that throws, short server timeouts, a
 * client that goes away at a chosen moment. Every server is closed by its test.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { request, type IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";
import { once } from "node:events";
import { pino } from "pino";
import WebSocket, { WebSocketServer } from "ws";
import { DEFAULT_HTTP_TIMEOUTS, HttpServer, isLoopbackHost, readBody, readJsonBody, sendJson, type HttpSecurity, type HttpTimeouts } from "../daemon/http-server.ts";
import { RequestAbortedError } from "../daemon/errors.ts";

/** Fail-safe for tests whose defect is a hang: fail instead of blocking the run. */
const HANG = 20_000;
const SECURITY: HttpSecurity = { host: "127.0.0.1", allowedHosts: [], allowedOrigins: [] };

/** Servers a failed or timed-out test left open; closed at the end so the run can exit. */
const opened: (() => Promise<void>)[] = [];
after(() => Promise.all(opened.map((close) => close())));

/** An HttpServer on a free loopback port, with its log lines kept for assertions. */
async function serve(setup: (http: HttpServer) => void, opts: { security?: Partial<HttpSecurity>; timeouts?: Partial<HttpTimeouts> } = {}) {
  const logs: { msg: string }[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void logs.push(JSON.parse(line)) });
  const http = new HttpServer({ ...SECURITY, ...opts.security }, logger, opts.timeouts);
  // Every connection is ended by the test, upgraded or left hanging by a failure included.
  const sockets = new Set<Socket>();
  http.server.on("connection", (s: Socket) => sockets.add(s));
  setup(http);
  const port = await http.listen(0, "127.0.0.1");
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      for (const s of sockets) s.destroy();
      await http.close();
    })());
  opened.push(close);
  return { http, port, logs, close };
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request({ host: "127.0.0.1", port, path, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    })
      .on("error", reject)
      .end();
  });
}

/** Sends raw bytes and resolves with everything the server writes until it closes. */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => s.write(bytes));
    let got = "";
    s.setEncoding("utf8").on("data", (c) => (got += c));
    s.on("close", () => resolve(got));
    s.on("error", reject);
  });
}

const upgradeRequest = (port: number, path: string, extra = "") =>
  `GET ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`;

/** A promise and its resolver, for handlers that report back to the test. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

test("isLoopbackHost accepts only loopback literals, not names that merely start like one", () => {
  for (const h of ["localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "127.255.255.254", "::1", "[::1]", "0:0:0:0:0:0:0:1"]) assert.equal(isLoopbackHost(h), true, h);
  for (const h of ["127.evil.example", "127.0.0.1.evil.example", "127.0.0.1.nip.io", "localhost.evil.example", "127.0.0.256", "127.0.0", "127.1", "0127.0.0.1", "127.0.0.01", "128.0.0.1", "0.0.0.0", "::", "::2", "::ffff:127.0.0.1", "[::1", "", "evil.example"]) {
    assert.equal(isLoopbackHost(h), false, h);
  }
});

test("checkOrigin: the scheme must be http (ours); allowedOrigins still admits an explicit exception", async () => {
  const req = (origin: string) => ({ headers: { host: "127.0.0.1:7337", origin } }) as unknown as IncomingMessage;
  const logger = pino({ level: "silent" });
  const plain = new HttpServer(SECURITY, logger);
  assert.equal(plain.checkOrigin(req("http://127.0.0.1:7337")), undefined);
  for (const o of ["https://127.0.0.1:7337", "ws://127.0.0.1:7337", "wss://127.0.0.1:7337", "ftp://127.0.0.1:7337"]) assert.match(plain.checkOrigin(req(o)) ?? "", /not allowed/, o);
  const proxied = new HttpServer({ ...SECURITY, allowedOrigins: ["https://127.0.0.1:7337"] }, logger);
  assert.equal(proxied.checkOrigin(req("https://127.0.0.1:7337")), undefined);
});

test("isAuthorized never throws on a malformed credential: it is just not the token", () => {
  const http = new HttpServer({ ...SECURITY, token: "s3cret-token" }, pino({ level: "silent" }));
  const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
  for (const cookie of ["patchbay_token=%", "patchbay_token=%E0%A4%A", "a=1; patchbay_token=%zz", "patchbay_token="]) assert.equal(http.isAuthorized(req({ cookie })), false, cookie);
  for (const authorization of ["Bearer %", "Bearer", "Basic czNjcmV0LXRva2Vu", `Bearer ${"x".repeat(100_000)}`]) assert.equal(http.isAuthorized(req({ authorization })), false, authorization);
  assert.equal(http.isAuthorized(req({ authorization: "Bearer s3cret-token" })), true);
  assert.equal(http.isAuthorized(req({ cookie: `x=1; patchbay_token=${encodeURIComponent("s3cret-token")}` })), true);
});

test("an upgrade handler that throws gets a 500, is logged, and the server keeps serving", { timeout: HANG }, async () => {
  const s = await serve((http) => {
    http.upgrade("/boom", () => {
      throw new Error("handler bug");
    });
    http.route("/ok", (_req, res) => sendJson(res, 200, { ok: true }));
  });
  try {
    const answer = await rawExchange(s.port, upgradeRequest(s.port, "/boom"));
    assert.match(answer, /^HTTP\/1\.1 500 /);
    assert.ok(s.logs.some((l) => l.msg === "upgrade handler failed"));
    assert.equal((await get(s.port, "/ok")).status, 200);
  } finally {
    await s.close();
  }
});

test("a route handler that throws, before or after answering, leaves the server serving", async () => {
  const s = await serve((http) => {
    http.route("/sync", () => {
      throw new Error("sync bug");
    });
    http.route("/async", async () => {
      throw new Error("async bug");
    });
    http.route("/late", async (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("partial");
      throw new Error("late bug");
    });
    http.route("/ok", (_req, res) => sendJson(res, 200, { ok: true }));
  });
  try {
    for (const path of ["/sync", "/async"]) {
      const r = await get(s.port, path);
      assert.equal(r.status, 500, path);
      assert.equal(JSON.parse(r.body).error.code, -32603);
    }
    await get(s.port, "/late").catch(() => undefined); // a truncated answer is all it can get
    assert.equal((await get(s.port, "/ok")).status, 200);
  } finally {
    await s.close();
  }
});

test("server timeouts are on by default (headers ≤ request, keep-alive a few seconds)", () => {
  const { server } = new HttpServer(SECURITY, pino({ level: "silent" }));
  assert.ok(server.requestTimeout > 0);
  assert.ok(server.headersTimeout > 0 && server.headersTimeout <= server.requestTimeout);
  assert.ok(server.keepAliveTimeout > 0);
  assert.deepEqual({ headersMs: server.headersTimeout, requestMs: server.requestTimeout, keepAliveMs: server.keepAliveTimeout }, { headersMs: DEFAULT_HTTP_TIMEOUTS.headersMs, requestMs: DEFAULT_HTTP_TIMEOUTS.requestMs, keepAliveMs: DEFAULT_HTTP_TIMEOUTS.keepAliveMs });
});

// Short enough to watch them cut, long enough (1 s) that the few ms between this process's
// connect and its write cannot be taken for a slow client, even when the machine is busy.
const SHORT: Partial<HttpTimeouts> = { headersMs: 1_000, requestMs: 1_000, checkIntervalMs: 50 };

test("a body that never completes is cut by the request timeout (408) and its reader settles", { timeout: HANG }, async () => {
  const settled = deferred<unknown>();
  const s = await serve((http) => http.route("/body", (req) => readBody(req, 1024).then(settled.resolve, settled.resolve)), { timeouts: SHORT });
  try {
    const answer = await rawExchange(s.port, `POST /body HTTP/1.1\r\nhost: 127.0.0.1:${s.port}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"partial":`);
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.ok((await settled.promise) instanceof RequestAbortedError);
    // headers that never complete are cut the same way
    assert.match(await rawExchange(s.port, `GET /body HTTP/1.1\r\nhost: 127.0.0.1:${s.port}\r\nx-slow: `), /^HTTP\/1\.1 408 /);
  } finally {
    await s.close();
  }
});

test("the request timeout does not cut a long response stream or an upgraded WebSocket", { timeout: HANG }, async () => {
  const wss = new WebSocketServer({ noServer: true });
  const s = await serve(
    (http) => {
      http.route("/stream", (_req, res) => {
        res.writeHead(200, { "content-type": "text/event-stream" });
        let n = 0;
        const timer = setInterval(() => {
          res.write(`data: ${n}\n\n`);
          if (++n === 25) {
            clearInterval(timer);
            res.end();
          }
        }, 100);
      });
      http.upgrade("/ws", (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => ws.on("message", (m) => ws.send(String(m)))));
    },
    { timeouts: SHORT },
  );
  try {
    // 25 events 100 ms apart: the stream outlives the 1 s request timeout more than twice.
    const r = await get(s.port, "/stream");
    assert.equal(r.status, 200);
    assert.equal(r.body.match(/^data: /gm)?.length, 25);
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws`);
    await once(ws, "open");
    // past the request timeout (a wait for something not to happen: a busy machine can only
    // make it pass wrongly, never fail wrongly)
    await new Promise((r) => setTimeout(r, 2_500));
    ws.send("still here");
    const [echo] = await once(ws, "message");
    assert.equal(String(echo), "still here");
    ws.close();
  } finally {
    wss.close();
    await s.close();
  }
});

test("a client that aborts mid-body: the body reader settles and nothing is answered", { timeout: HANG }, async () => {
  const entered = deferred<void>();
  const settled = deferred<{ ok: boolean }>();
  const s = await serve((http) =>
    http.route("/body", async (req, res) => {
      entered.resolve();
      settled.resolve(await readJsonBody(req, res, 1024));
    }),
  );
  try {
    const req = request({ host: "127.0.0.1", port: s.port, method: "POST", path: "/body", headers: { "content-type": "application/json", "content-length": "100" } });
    req.on("error", () => undefined);
    req.write('{"partial":');
    await entered.promise;
    req.destroy();
    assert.deepEqual(await settled.promise, { ok: false });
  } finally {
    await s.close();
  }
});

test("a body read after the client has already gone settles instead of waiting forever", { timeout: HANG }, async () => {
  const entered = deferred<void>();
  const settled = deferred<unknown>();
  const s = await serve((http) =>
    http.route("/late", async (req) => {
      entered.resolve();
      // e.g. a handler that awaits something (a lookup, a lock) before it reads the body
      await new Promise((r) => req.on("close", r));
      settled.resolve(await readBody(req, 1024).catch((err: unknown) => err));
    }),
  );
  try {
    const req = request({ host: "127.0.0.1", port: s.port, method: "POST", path: "/late", headers: { "content-type": "application/json", "content-length": "100" } });
    req.on("error", () => undefined);
    req.write("{");
    await entered.promise;
    req.destroy();
    assert.ok((await settled.promise) instanceof RequestAbortedError);
  } finally {
    await s.close();
  }
});

test("a JSON look-alike media type (application/json-seq) → 415", async () => {
  const s = await serve((http) =>
    http.route("/body", async (req, res) => {
      const r = await readJsonBody(req, res, 1024);
      if (r.ok) sendJson(res, 200, r.body);
    }),
  );
  try {
    const post = (ct: string) =>
      new Promise<number>((resolve, reject) => {
        request({ host: "127.0.0.1", port: s.port, method: "POST", path: "/body", headers: { "content-type": ct } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        })
          .on("error", reject)
          .end("{}");
      });
    assert.equal(await post("application/json-seq"), 415);
    assert.equal(await post("application/jsonx"), 415);
    assert.equal(await post("application/json"), 200);
    assert.equal(await post("Application/JSON; charset=utf-8"), 200);
  } finally {
    await s.close();
  }
});
