/**
 * The half of the plugin API that asks the client (issue 9): `ctx.sample`, `ctx.elicit` and
 * `ctx.roots`. daemon/api.ts does not declare them yet, so this file names the agreed shapes
 * and `ask(ctx)` views a handler's context with them; the fixtures then typecheck before and
 * after the API lands. Once `CallContext` declares these methods, delete this file and call
 * `ctx.sample(...)` / `ctx.elicit(...)` / `ctx.roots()` directly.
 *
 * Params and results are the MCP spec's, passed through unchanged.
 */
import type { CallContext } from "mcp-patchbay";

export type JsonObject = Record<string, unknown>;

/** `sampling/createMessage` params. */
export interface CreateMessageParams {
  messages: { role: "user" | "assistant"; content: JsonObject }[];
  maxTokens: number;
  [key: string]: unknown;
}

/** `sampling/createMessage` result. */
export interface CreateMessageResult {
  role: "user" | "assistant";
  content: JsonObject | JsonObject[];
  model: string;
  stopReason?: string;
  [key: string]: unknown;
}

/** `elicitation/create` params: form mode (a `requestedSchema`) or URL mode. */
export type ElicitParams =
  | { mode?: "form"; message: string; requestedSchema: JsonObject; [key: string]: unknown }
  | { mode: "url"; message: string; url: string; elicitationId: string; [key: string]: unknown };

/** `elicitation/create` result. */
export interface ElicitResult {
  action: "accept" | "decline" | "cancel";
  content?: JsonObject;
  [key: string]: unknown;
}

/** `roots/list` result. */
export interface ListRootsResult {
  roots: { uri: string; name?: string }[];
  [key: string]: unknown;
}

/**
 * `key` names the request inside a 2026-07-28 `input_required` result (`inputRequests[key]`)
 * and is where the client's answer comes back (`inputResponses[key]`). The conformance suite
 * expects particular keys (for example `user_name` for `test_input_required_result_elicitation`).
 */
export interface AskOptions {
  key?: string;
}

export interface ClientRequests {
  sample(params: CreateMessageParams, options?: AskOptions): Promise<CreateMessageResult>;
  elicit(params: ElicitParams, options?: AskOptions): Promise<ElicitResult>;
  roots(options?: AskOptions): Promise<ListRootsResult>;
}

/** The handler's context, with the client requests. */
export function ask(ctx: CallContext): CallContext & ClientRequests {
  return ctx as CallContext & ClientRequests;
}

/** The text of a sampling result, whichever content shape the client chose. */
export function sampledText(result: CreateMessageResult): string {
  const items = Array.isArray(result.content) ? result.content : [result.content];
  const text = items.find((c) => c?.type === "text")?.text;
  return typeof text === "string" ? text : "(no text)";
}
