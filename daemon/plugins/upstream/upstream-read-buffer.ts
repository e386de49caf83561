/**
 * The stdio upstream's line reader, in place of the SDK's. The SDK's `ReadBuffer` joins every
 * chunk onto everything buffered so far (`Buffer.concat` per 64 KiB chunk) and searches the
 * whole buffer for a newline each time: a 20 MB `tools/list` answer (20 tools with 1 MB
 * descriptions) cost about 320 copies of up to 20 MB — 11 s on a loaded machine, past any
 * sane deadline, where this reader takes about 1 s. Its 10 MiB default cap also ended such a
 * connection with only "Connection closed". Here chunks are kept as they come, only the new
 * chunk is searched, and a line is joined once; the cap is `upstreamMaxMessageBytes`, and
 * going past it throws the SDK's own message (the transport then closes the connection and
 * upstream-server.ts says why).
 *
 * Installed over the transport's private `_readBuffer` when it has the SDK's shape (append,
 * readMessage, clear); if a later SDK changes that, the SDK's reader stays, with the cap.
 */
import type { JSONRPCMessage } from "@modelcontextprotocol/client";
import { isJsonRpcMessage } from "../../transports/json-rpc-message.ts";

export class LineReadBuffer {
  private chunks: Buffer[] = [];
  private bytes = 0;
  /** complete lines waiting to be read */
  private lines: Buffer[] = [];

  constructor(private readonly maxBytes: number) {}

  append(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl === -1) break;
      const piece = chunk.subarray(start, nl);
      this.lines.push(this.chunks.length ? Buffer.concat([...this.chunks, piece]) : piece);
      this.chunks = [];
      this.bytes = 0;
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.bytes += chunk.length - start;
      if (this.bytes > this.maxBytes) {
        this.clear();
        throw new Error(`ReadBuffer exceeded maximum size of ${this.maxBytes} bytes`);
      }
      this.chunks.push(chunk.subarray(start));
    }
  }

  /** The next message, or null; a line that is not JSON is skipped (as the SDK does), one that is JSON but no JSON-RPC message throws. */
  readMessage(): JSONRPCMessage | null {
    for (;;) {
      const line = this.lines.shift();
      if (!line) return null;
      let value: unknown;
      try {
        value = JSON.parse(line.toString("utf8").replace(/\r$/, ""));
      } catch {
        continue;
      }
      if (!isJsonRpcMessage(value)) throw new Error(`the upstream server sent JSON that is not a JSON-RPC message`);
      return value as JSONRPCMessage;
    }
  }

  clear(): void {
    this.chunks = [];
    this.lines = [];
    this.bytes = 0;
  }
}

/** Puts a LineReadBuffer in the SDK stdio transport, where it has the expected shape. */
export function installLineReader(transport: object, maxBytes: number): boolean {
  const t = transport as { _readBuffer?: Record<string, unknown> };
  const rb = t._readBuffer;
  if (!rb || typeof rb.append !== "function" || typeof rb.readMessage !== "function" || typeof rb.clear !== "function") return false;
  t._readBuffer = new LineReadBuffer(maxBytes) as unknown as Record<string, unknown>;
  return true;
}
