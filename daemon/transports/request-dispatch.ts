/**
 * Hands a JSON-RPC request straight to a connected SDK protocol instance. The SDK's own
 * inbound path classifies every message by trying it, in order, against the zod schemas of
 * a result, an error, a request and a notification: a request fails the first two, and each
 * failed parse builds an error object (issues, messages) — a few percent of the daemon's
 * time per call under load. Our transports already know a message is a well-formed request
 * (transports/json-rpc-message.ts checked it), so they can skip that. The entry point is
 * private in the SDK (sdk-seams.ts): if an SDK release moves it, every message goes through
 * `onmessage` as before (and test/sdk-seams.test.ts fails, so it is noticed).
 */
import { isJSONRPCRequest, type JSONRPCMessage, type MessageExtraInfo } from "@modelcontextprotocol/server";
import { sdkRequestEntry } from "../mcp/sdk-seams.ts";

export type Deliver = (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;

/**
 * Returns how to deliver inbound messages to `server` once it is connected to the transport
 * whose `onmessage` is given: a request goes straight to the SDK's request entry, exactly
 * when the SDK would have classified it a request (it passes the SDK's own request check and
 * is no response), everything else through `onmessage`.
 */
export function deliverTo(server: object, onmessage: Deliver | undefined, opts: { checked?: boolean } = {}): Deliver {
  const entry = sdkRequestEntry(server);
  if (!entry) return (m, e) => onmessage?.(m, e);
  // `checked`: every message passed transports/json-rpc-message.ts, whose union of the spec's
  // message schemas admits an `id` and a `method` only as a request (a property test holds
  // this), so the request check would only repeat that parse
  const isRequest = opts.checked ? (m: JSONRPCMessage) => "method" in m && "id" in m : (m: JSONRPCMessage) => isJSONRPCRequest(m);
  return (m, e) => {
    if (!("result" in m) && !("error" in m) && isRequest(m)) entry.call(server, m, e);
    else onmessage?.(m, e);
  };
}
