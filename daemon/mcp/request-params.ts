/**
 * Params checks for the requests Patchbay serves, run before the SDK's own. The SDK
 * validates params inside its handler registration and reports a mismatch as -32603 with
 * the whole schema error (or, for tools/call, a long -32602); JSON-RPC wants -32602
 * Invalid params, and a client author wants a short line that names the field.
 */
import { ProtocolError, ProtocolErrorCode, specTypeSchemas } from "@modelcontextprotocol/server";

interface Issue {
  path?: readonly (PropertyKey | { key: PropertyKey })[];
  message: string;
}
interface StandardLike {
  "~standard": { validate(v: unknown): { issues?: readonly Issue[] } | Promise<unknown> };
}

const S = specTypeSchemas as unknown as Record<string, StandardLike>;

/** The spec's request schemas (neutral across eras; envelope keys and retry fields are lifted before this runs). */
const SCHEMAS = new Map<string, StandardLike>([
  ["initialize", S.InitializeRequest],
  ["ping", S.PingRequest],
  ["tools/list", S.ListToolsRequest],
  ["tools/call", S.CallToolRequest],
  ["resources/list", S.ListResourcesRequest],
  ["resources/templates/list", S.ListResourceTemplatesRequest],
  ["resources/read", S.ReadResourceRequest],
  ["resources/subscribe", S.SubscribeRequest],
  ["resources/unsubscribe", S.UnsubscribeRequest],
  ["prompts/list", S.ListPromptsRequest],
  ["prompts/get", S.GetPromptRequest],
  ["completion/complete", S.CompleteRequest],
  ["logging/setLevel", S.SetLevelRequest],
  ["server/discover", S.DiscoverRequest],
]);

/** The "-32602 Invalid params" text for a request that does not match its method's schema, or undefined. */
export function invalidParamsMessage(method: string, request: unknown): string | undefined {
  const schema = SCHEMAS.get(method);
  if (!schema) return undefined;
  let outcome;
  try {
    outcome = schema["~standard"].validate(request);
  } catch {
    return `Invalid params for ${method}`;
  }
  if (outcome instanceof Promise || !outcome.issues?.length) return undefined;
  const first = outcome.issues[0];
  const path = (first.path ?? []).map((p) => String(typeof p === "object" && p !== null && "key" in p ? p.key : p));
  // the schema covers the whole request; the client wrote params
  const where = (path[0] === "params" ? path.slice(1) : path).join(".") || "params";
  // zod says "record" where a client author thinks "object"
  const what = first.message.replace(/^Invalid input: /, "").replace(/expected record\b/, "expected an object");
  return `Invalid params for ${method}: ${where}: ${what}`.replace(/\s+/g, " ").slice(0, 300);
}

/** Throws the -32602 ProtocolError for a request whose params do not match. */
export function checkParams(method: string, request: unknown): void {
  const message = invalidParamsMessage(method, request);
  if (message) throw new ProtocolError(ProtocolErrorCode.InvalidParams, message);
}
