/** The one check every transport makes of an inbound value: is it a JSON-RPC 2.0 message the spec's schema accepts. */
import { specTypeSchemas } from "@modelcontextprotocol/server";

const JSONRPC_MESSAGE = (specTypeSchemas as unknown as Record<string, { "~standard": { validate(v: unknown): { issues?: unknown[] } | Promise<unknown> } }>).JSONRPCMessage;

/** Never throws: a value too deep for the validator to walk is no message of ours either. */
export function isJsonRpcMessage(v: unknown): boolean {
  try {
    const r = JSONRPC_MESSAGE["~standard"].validate(v);
    return !(r instanceof Promise) && !r.issues;
  } catch {
    return false;
  }
}
