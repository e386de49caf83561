/**
 * Raw JSON-RPC over each connection-based transport (WebSocket, legacy SSE, stdio), without
 * an SDK client in between, so tests can send what a client should not: requests before
 * initialize, duplicate ids. Every message received is kept; `answer` takes the first
 * answer to an id not taken yet.
 */
import { once } from "node:events";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import WebSocket from "ws";
import { CLI } from "./env.ts";

export interface RawWire {
  send(msg: object): Promise<void>;
  /** the next answer (result or error) to `id` not taken before */
  answer(id: number | string): Promise<any>;
  /** send a request and take its answer */
  ask(msg: { id: number | string }): Promise<any>;
  close(): Promise<void>;
}

function inbox() {
  const got: any[] = [];
  const taken = new Set<number>();
  let wake: (() => void)[] = [];
  return {
    push(m: any) {
      got.push(m);
      const w = wake;
      wake = [];
      w.forEach((f) => f());
    },
    answer(id: number | string): Promise<any> {
      return new Promise((resolve) => {
        const look = () => {
          const i = got.findIndex((m, k) => !taken.has(k) && m.id === id && m.method === undefined);
          if (i < 0) return void wake.push(look);
          taken.add(i);
          resolve(got[i]);
        };
        look();
      });
    },
  };
}

function wire(box: ReturnType<typeof inbox>, send: (msg: object) => Promise<void>, close: () => Promise<void>): RawWire {
  return {
    send,
    answer: box.answer,
    ask: async (msg) => {
      const a = box.answer(msg.id);
      await send(msg);
      return a;
    },
    close,
  };
}

export async function rawWebSocket(daemonUrl: string): Promise<RawWire> {
  const ws = new WebSocket(`${daemonUrl.replace("http", "ws")}/ws`, ["mcp"]);
  await once(ws, "open");
  const box = inbox();
  ws.on("message", (data) => box.push(JSON.parse(String(data))));
  return wire(box, async (msg) => ws.send(JSON.stringify(msg)), async () => ws.close());
}

/** GET /sse, then POST each message to the announced endpoint (which must accept it: 202). */
export async function rawSse(daemonUrl: string): Promise<RawWire> {
  const ac = new AbortController();
  const res = await fetch(`${daemonUrl}/sse`, { headers: { accept: "text/event-stream" }, signal: ac.signal });
  if (res.status !== 200) throw new Error(`GET /sse answered ${res.status}`);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const box = inbox();
  let announce!: (url: string) => void;
  const endpoint = new Promise<string>((r) => (announce = r));
  void (async () => {
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buf += value;
      let end;
      while ((end = buf.indexOf("\n\n")) >= 0) {
        const event = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const name = /^event: (.*)$/m.exec(event)?.[1];
        const data = /^data: (.*)$/m.exec(event)?.[1];
        if (name === "endpoint" && data) announce(new URL(data, daemonUrl).href);
        else if (data) box.push(JSON.parse(data));
      }
    }
  })();
  return wire(
    box,
    async (msg) => {
      const r = await fetch(await endpoint, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(msg) });
      const text = await r.text();
      // a refusal of the POST itself is the message's answer
      if (r.status !== 202) box.push(JSON.parse(text));
    },
    async () => ac.abort(),
  );
}

/** `patchbay stdio ARGS`, a line per message. */
export function rawStdio(args: string[], env: Record<string, string>): RawWire {
  const child = spawn(process.execPath, [CLI, "stdio", ...args], { env: { ...process.env, PATCHBAY_LOG_LEVEL: "warn", ...env }, stdio: ["pipe", "pipe", "ignore"] });
  const box = inbox();
  createInterface({ input: child.stdout! }).on("line", (line) => box.push(JSON.parse(line)));
  return wire(
    box,
    async (msg) => void child.stdin!.write(JSON.stringify(msg) + "\n"),
    async () => {
      child.stdin!.end();
      if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
    },
  );
}
