/**
 * MCP's stdio framing (one JSON-RPC message per line), for both modes of `patchbay stdio`:
 * each line's JSON goes to the inbound pipeline (inbound-pipeline.ts: standalone, through
 * serveConnection; attached, the bridge's check before it relays to /ws). Unlike the SDK's
 * `StdioServerTransport` it answers what it cannot take, as `/ws` does: a line that is not
 * JSON gets -32700; a line over the size limit -32600 (its bytes are dropped as they arrive,
 * never buffered); the pipeline answers JSON that is not a JSON-RPC message. The SDK's
 * transport dropped all of these without a word, leaving a client waiting for its answer,
 * and after a line over its buffer stopped reading input altogether (so the end of input
 * never came either).
 */
import type { Readable, Writable } from "node:stream";
import type { JSONRPCMessage } from "@modelcontextprotocol/server";
import { Refusal } from "../errors.ts";
import { refusalMessage } from "./json-rpc-message.ts";
import type { Framing } from "./inbound-pipeline.ts";

export interface StdioWireOptions {
  /** the longest line taken, in bytes (`maxBodyBytes`, as for HTTP bodies and WebSocket frames) */
  maxMessageBytes: number;
}

const NEWLINE = 0x0a;

export class StdioWireTransport implements Framing {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onvalue?: (value: unknown) => void;
  private parts: Buffer[] = [];
  private buffered = 0;
  /** the line being read went over the limit: skip to its end */
  private skipping = false;
  private closed = false;

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
    private readonly opts: StdioWireOptions,
  ) {}

  async start(): Promise<void> {
    this.input.on("data", this.onData);
    this.input.on("end", this.onEnd);
    this.input.on("close", this.onEnd);
    this.input.on("error", this.onInputError);
    this.output.on("error", this.onOutputError);
  }

  private readonly onData = (chunk: Buffer | string) => {
    const buf = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
    let from = 0;
    for (;;) {
      const nl = buf.indexOf(NEWLINE, from);
      if (nl < 0) {
        this.keep(buf.subarray(from));
        return;
      }
      this.keep(buf.subarray(from, nl));
      from = nl + 1;
      this.endOfLine();
      if (this.closed) return;
    }
  };

  private keep(part: Buffer) {
    if (this.skipping || part.length === 0) return;
    if (this.buffered + part.length > this.opts.maxMessageBytes) {
      this.skipping = true;
      this.parts = [];
      this.buffered = 0;
      return;
    }
    this.parts.push(part);
    this.buffered += part.length;
  }

  private endOfLine() {
    if (this.skipping) {
      this.skipping = false;
      this.refuse(null, Refusal.InvalidRequest, `Invalid Request: message over the ${this.opts.maxMessageBytes} byte limit (maxBodyBytes)`);
      return;
    }
    const line = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.buffered);
    this.parts = [];
    this.buffered = 0;
    const text = line.toString("utf8");
    // blank lines (and a lone \r of a CRLF) carry nothing
    if (text.trim() === "") return;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.refuse(null, Refusal.ParseError, "Parse error: the line is not valid JSON");
      return;
    }
    try {
      this.onvalue?.(json);
    } catch (err) {
      // one message must not end the reading of all the others
      this.onerror?.(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private refuse(id: string | number | null, refusal: { readonly rpc: number }, message: string) {
    void this.send(refusalMessage(refusal, message, id)).catch(() => undefined);
  }

  send(message: JSONRPCMessage): Promise<void> {
    if (this.closed) return Promise.reject(new Error("stdio transport is closed"));
    return new Promise((resolve, reject) => {
      // The reader may be slower than we are: past the stream's buffer, wait for it to drain.
      if (this.output.write(JSON.stringify(message) + "\n")) return resolve();
      const settle = (err?: Error) => {
        this.output.off("drain", onDrain);
        this.output.off("error", onError);
        if (err) reject(err);
        else resolve();
      };
      const onDrain = () => settle();
      const onError = (err: Error) => settle(err);
      this.output.once("drain", onDrain);
      this.output.once("error", onError);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.input.off("data", this.onData);
    this.input.off("end", this.onEnd);
    this.input.off("close", this.onEnd);
    this.input.off("error", this.onInputError);
    if (this.input.listenerCount("data") === 0) this.input.pause();
    this.parts = [];
    this.onclose?.();
  }

  private readonly onEnd = () => void this.close();
  private readonly onInputError = (err: Error) => this.onerror?.(err);
  // the client stopped reading (EPIPE): nothing more can reach it
  private readonly onOutputError = (err: Error) => {
    if (this.closed) return;
    this.onerror?.(err);
    void this.close();
  };
}
