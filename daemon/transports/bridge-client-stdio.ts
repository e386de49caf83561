/**
 * The client's side of the stdio bridge: JSON-RPC lines on stdin and stdout (framing by
 * stdio-wire.ts). Messages that fail the inbound pipeline's own checks (nesting, the v2 schema)
 * are answered here rather than relayed; the daemon's /ws runs the rest of the pipeline
 * (duplicate ids, busy marks, listen spans). Nothing but JSON-RPC goes to stdout: the client
 * reads every line of it as a message.
 */
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { StdioWireTransport } from "./stdio-wire.ts";
import { checkInbound, refusedMessage } from "./inbound-pipeline.ts";
import { messageOf } from "../errors.ts";
import type { Logger } from "../logger.ts";

export class ClientStdio {
  private readonly wire: StdioWireTransport;
  /** a checked message from the client */
  onmessage?: (msg: JSONRPCMessage) => void;

  /**
   * `maxMessageBytes` should be what the daemon's WebSocket frames are limited to: a longer
   * message would close the whole connection to the daemon (1009), failing every call in
   * flight with it, where refused here it fails alone.
   */
  constructor(maxMessageBytes: number, private readonly logger: Logger) {
    this.wire = new StdioWireTransport(process.stdin, process.stdout, { maxMessageBytes });
    this.wire.onvalue = (value) => this.received(value);
  }

  private received(value: unknown): void {
    const refused = checkInbound(value, "frame");
    if (refused) return void this.wire.send(refusedMessage(refused)).catch(() => undefined);
    this.onmessage?.(value as JSONRPCMessage);
  }

  /** The client closed its input (either signal: the wire's close or stdin's end). */
  onInputEnd(handler: () => void): void {
    this.wire.onclose = handler;
    process.stdin.on("end", handler);
  }

  start(): Promise<void> {
    return this.wire.start();
  }

  send(msg: JSONRPCMessage): void {
    void this.wire.send(msg).catch((err) => this.logger.error({ err: messageOf(err) }, "stdout write failed"));
  }
}
