/**
 * The plugin authoring API: what `import { definePlugin, z } from "mcp-patchbay"` gives a
 * plugin file. Everything here is types plus two runtime values (`definePlugin`, `z`), so a
 * plugin bundle that imports it stays tiny and every plugin in a worker shares one zod.
 */
import { z } from "zod";

export { z };

/** A JSON Schema object, for plugins that describe inputs without zod. */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, unknown>;
  required?: string[];
  [keyword: string]: unknown;
}

/** A zod "raw shape": `{ title: z.string() }`. */
export type ZodShape = Record<string, z.ZodType>;

/** A tool's input: a zod shape, a zod object, or a JSON Schema object. */
export type ToolInput = ZodShape | z.ZodType | JsonSchema;

/** The handler argument type inferred from a {@link ToolInput}. */
export type InferInput<I> = I extends z.ZodType
  ? z.infer<I>
  : I extends ZodShape
    ? z.infer<z.ZodObject<I>>
    : Record<string, unknown>;

/** MCP log levels, lowest first (RFC 5424 names, as MCP uses them). */
export type LogLevel = "debug" | "info" | "notice" | "warning" | "error" | "critical" | "alert" | "emergency";

/** A logger that writes to the daemon's log, tagged with the plugin's name. */
export interface PluginLogger {
  debug(message: string, data?: unknown): void;
  info(message: string, data?: unknown): void;
  warn(message: string, data?: unknown): void;
  error(message: string, data?: unknown): void;
}

/** What `setup(ctx)`, resource listings and every handler receive. */
export interface PluginContext {
  /** The plugin's name as exposed (prefix of its tool names). */
  readonly pluginName: string;
  /** A folder under `$PATCHBAY_HOME/data/<plugin>` that survives reloads and restarts. */
  readonly dataDir: string;
  /** Writes to the daemon's log (stderr or file), never to stdout. */
  readonly log: PluginLogger;
  /** Tell every connected client that this plugin's resource list changed. */
  resourcesChanged(): void;
  /**
   * Tell the clients subscribed to `uri` that its content changed: they get
   * `notifications/resources/updated` (`resources/subscribe` in the 2025 era, a
   * `subscriptions/listen` stream in 2026-07-28); nobody else hears of it. Calls for one URI
   * close together are merged into one notice. Usable from `setup` (e.g. from a file
   * watcher) as well as from handlers.
   *
   * @throws TypeError when `uri` is not a non-empty string
   */
  resourceUpdated(uri: string): void;
}

/** A JSON object, as MCP messages carry them. */
export type JsonObject = { [key: string]: unknown };

/** Options of {@link CallContext.sample}, {@link CallContext.elicit} and {@link CallContext.roots}. */
export interface ClientRequestOptions {
  /**
   * Names this request within the handler run. In the 2026-07-28 revision it is the key of
   * the question in the `input_required` result (`inputRequests[key]`) and of the client's
   * answer (`inputResponses[key]`); in the 2025 era it is only a label. Default: `r0`, `r1`, …
   * by the order of the asks within the run (the n-th `sample`/`elicit`/`roots` call of the
   * run gets `r<n>`, whether or not earlier ones had a key). Each key may be used once per
   * run; a handler asking the same key twice gets a rejected promise.
   */
  key?: string;
}

/** Extra fields every MCP content block may carry. */
interface ContentExtras {
  annotations?: { audience?: ("user" | "assistant")[]; priority?: number; lastModified?: string };
  _meta?: JsonObject;
}

/** One content block of a sampling message (MCP `SamplingMessageContentBlock`). */
export type SamplingContent =
  | ({ type: "text"; text: string } & ContentExtras)
  | ({ type: "image"; data: string; mimeType: string } & ContentExtras)
  | ({ type: "audio"; data: string; mimeType: string } & ContentExtras)
  | { type: "tool_use"; id: string; name: string; input: JsonObject; _meta?: JsonObject }
  | { type: "tool_result"; toolUseId: string; content: ContentItem[]; structuredContent?: JsonObject; isError?: boolean; _meta?: JsonObject };

/** One message of a sampling conversation. */
export interface SamplingMessage {
  role: "user" | "assistant";
  content: SamplingContent | SamplingContent[];
  _meta?: JsonObject;
}

/** `sampling/createMessage` params, as in the MCP spec (sent to the client unchanged). */
export interface CreateMessageParams {
  messages: SamplingMessage[];
  /** The most tokens the client's model should produce. */
  maxTokens: number;
  systemPrompt?: string;
  includeContext?: "none" | "thisServer" | "allServers";
  temperature?: number;
  stopSequences?: string[];
  modelPreferences?: {
    hints?: { name?: string }[];
    costPriority?: number;
    speedPriority?: number;
    intelligencePriority?: number;
  };
  /** Provider-specific metadata, passed to the client's model as is. */
  metadata?: JsonObject;
  /** Tools the client's model may call (MCP `Tool` objects); needs the client's `sampling.tools` capability. */
  tools?: JsonObject[];
  toolChoice?: { mode?: "auto" | "required" | "none" };
  _meta?: JsonObject;
}

/** The client's `sampling/createMessage` result, as the client sent it. */
export interface CreateMessageResult {
  role: "user" | "assistant";
  content: SamplingContent | SamplingContent[];
  /** The model that answered. */
  model: string;
  /** `endTurn`, `stopSequence`, `maxTokens`, `toolUse` or another reason the client names. */
  stopReason?: string;
  _meta?: JsonObject;
  [key: string]: unknown;
}

/**
 * `elicitation/create` params in form mode: the client shows a form built from
 * `requestedSchema` (an object of flat fields: strings with `format`/`minLength`/`maxLength`,
 * numbers and integers with `minimum`/`maximum`, booleans, single-select enums as `enum`,
 * titled `oneOf: [{ const, title }]` or legacy `enumNames`, multi-selects as `type: "array"`
 * with `items.enum` or `items.anyOf`; each may have a `default`). The schema is sent as given.
 */
export interface ElicitFormParams {
  mode?: "form";
  /** What the user is asked. */
  message: string;
  requestedSchema: JsonSchema;
  _meta?: JsonObject;
}

/**
 * `elicitation/create` params in URL mode: the client sends the user to `url` (to sign in,
 * pay, …) out of band; `elicitationId` identifies this interaction.
 */
export interface ElicitUrlParams {
  mode: "url";
  message: string;
  url: string;
  elicitationId: string;
  _meta?: JsonObject;
}

/** `elicitation/create` params, form or URL mode. */
export type ElicitParams = ElicitFormParams | ElicitUrlParams;

/** The client's `elicitation/create` result, as the client sent it. */
export interface ElicitResult {
  /** `accept` (with `content` in form mode), `decline` or `cancel`. */
  action: "accept" | "decline" | "cancel";
  /** The form's values, by field name (form mode, `accept` only). */
  content?: { [field: string]: string | number | boolean | string[] };
  _meta?: JsonObject;
  [key: string]: unknown;
}

/** One root the client exposes (a folder or another URI boundary). */
export interface Root {
  uri: string;
  name?: string;
  _meta?: JsonObject;
}

/** The client's `roots/list` result, as the client sent it. */
export interface ListRootsResult {
  roots: Root[];
  _meta?: JsonObject;
  [key: string]: unknown;
}

/**
 * What a handler receives besides its arguments: tool handlers, prompt renderers and
 * resource readers.
 *
 * ## Asking the client
 * `sample`, `elicit` and `roots` ask the client that made the call and resolve with its
 * result, passed through unchanged. The handler is written once for both protocol eras:
 * - 2025 era: a server→client request on the session, tied to the calling request. The
 *   handler waits, suspended, for the answer.
 * - 2026-07-28: the call answers `input_required` with the question, and the client sends
 *   the call again with the answer. The handler is run again **from the top** and every
 *   question it already had answered resolves at once with the recorded answer (matched by
 *   {@link ClientRequestOptions.key}), until it asks something new or returns. So the code
 *   before an `await ctx.elicit(...)` runs once per round: keep side effects after the
 *   questions, or make them idempotent, and ask in the same order on every run.
 *
 * Questions asked together (`Promise.all([ctx.elicit(a), ctx.sample(b)])`) go to the client
 * together (one `input_required` round in 2026-07-28). A question rejects when the client
 * refuses or cannot answer it (no such capability, an error result: the `Error` has the
 * JSON-RPC `code` when there is one), and when the call is cancelled or times out (the call
 * timeout covers the wait for the user).
 */
export interface CallContext extends PluginContext {
  /** Aborted when the client cancels the request, the session closes, or the call times out. */
  readonly signal: AbortSignal;
  /** Report progress; sent to the client only if it asked for progress (a progressToken). */
  progress(progress: number, total?: number, message?: string): void;
  /** Send an MCP `notifications/message` log entry to the calling client. */
  sendLog(level: LogLevel, data: unknown): void;
  /** The MCP session making the call, when there is one (2025 era only). */
  readonly session?: { id: string; clientName?: string };
  /**
   * Asks the client's model for a completion (`sampling/createMessage`; the client needs the
   * `sampling` capability). See "Asking the client" above.
   *
   * @example
   * const answer = await ctx.sample({ messages: [{ role: "user", content: { type: "text", text: "Summarize: ..." } }], maxTokens: 200 });
   */
  sample(params: CreateMessageParams, opts?: ClientRequestOptions): Promise<CreateMessageResult>;
  /**
   * Asks the user for input (`elicitation/create`), by a form (`requestedSchema`) or by
   * sending them to a URL (`mode: "url"`); the client needs the `elicitation` capability
   * (`elicitation.url` for URL mode). See "Asking the client" above.
   *
   * @example
   * const r = await ctx.elicit({ message: "Your name?", requestedSchema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] } });
   * if (r.action === "accept") greet(r.content?.name);
   */
  elicit(params: ElicitParams, opts?: ClientRequestOptions): Promise<ElicitResult>;
  /**
   * Asks the client for its roots (`roots/list`; the client needs the `roots` capability).
   * See "Asking the client" above.
   */
  roots(opts?: ClientRequestOptions): Promise<ListRootsResult>;
}

/** One item of MCP content. */
export type ContentItem =
  | { type: "text"; text: string }
  | { type: "image"; data: string; mimeType: string }
  | { type: "audio"; data: string; mimeType: string }
  | { type: "resource_link"; uri: string; name: string; mimeType?: string; description?: string }
  | { type: "resource"; resource: { uri: string; text?: string; blob?: string; mimeType?: string } };

/** A full MCP `CallToolResult`, for handlers that want complete control. */
export interface CallToolResult {
  content: ContentItem[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
}

/**
 * What a tool handler may return: a string (one text item), a `CallToolResult`, or any
 * other value (sent as JSON text, and as `structuredContent` when it is an object).
 */
export type ToolReturn = string | CallToolResult | Record<string, unknown> | unknown[] | number | boolean | null | void;

/** MCP tool annotations (hints for clients; never trusted for security). */
export interface ToolAnnotations {
  title?: string;
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

/**
 * One tool of a plugin. `I` is what `input` was inferred as (`unknown` when the tool has
 * none); `input` itself is always checked against {@link ToolInput}.
 */
export interface ToolDefinition<I = ToolInput> {
  /** A human-friendly name for UIs. */
  title?: string;
  /** What the tool does; models read this to decide when to call it. */
  description?: string;
  /** The argument schema; omitted means "no arguments". */
  input?: I & ToolInput;
  /**
   * Optional output schema (zod or JSON Schema); the result's object becomes `structuredContent`.
   * A successful result that does not match it is answered as an `isError` result naming the mismatch.
   */
  output?: ToolInput;
  annotations?: ToolAnnotations;
  /** Runs the tool. A thrown error becomes an `isError: true` result with its message. */
  handler: (args: InferInput<I>, ctx: CallContext) => ToolReturn | Promise<ToolReturn>;
}

/** One item of a resource read: text or base64 blob. */
export interface ResourceContents {
  uri: string;
  mimeType?: string;
  text?: string;
  blob?: string;
}

/**
 * What a resource reader may return: a string (text), a `Uint8Array` (blob), an object with
 * `contents` (a full `ReadResourceResult`), or any other value (JSON text).
 */
export type ResourceReturn = string | Uint8Array | { contents: ResourceContents[] } | Record<string, unknown> | unknown[];

/** A fixed resource, keyed by its URI in `resources`. */
export interface ResourceDefinition {
  name?: string;
  title?: string;
  description?: string;
  mimeType?: string;
  read: (uri: string, ctx: CallContext) => ResourceReturn | Promise<ResourceReturn>;
}

/** One entry that a resource template's `list` returns. */
export interface ListedResource {
  uri: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
}

/** A completion callback: the current value typed so far → suggestions. */
export type Completer = (value: string, ctx: PluginContext) => string[] | Promise<string[]>;

/** A URI template (RFC 6570 level 1, `{var}`), keyed by the template in `resourceTemplates`. */
export interface ResourceTemplateDefinition {
  name?: string;
  title?: string;
  description?: string;
  mimeType?: string;
  /** Lists the concrete resources this template currently stands for (shown in `resources/list`). */
  list?: (ctx: PluginContext) => ListedResource[] | Promise<ListedResource[]>;
  /** Reads one resource; `vars` holds the template's variables taken from the URI. */
  read: (uri: string, vars: Record<string, string>, ctx: CallContext) => ResourceReturn | Promise<ResourceReturn>;
  /** Completions for template variables, by variable name. */
  complete?: Record<string, Completer>;
}

/** A prompt argument described without zod. */
export interface PromptArgument {
  name: string;
  description?: string;
  required?: boolean;
}

/** One message of a rendered prompt. */
export interface PromptMessage {
  role: "user" | "assistant";
  content: ContentItem;
}

/** What a prompt renderer may return: a string (one user message), messages, or a full result. */
export type PromptReturn = string | PromptMessage[] | { description?: string; messages: PromptMessage[] };

/** One prompt of a plugin. `A` is what `arguments` was inferred as (`unknown` when it has none). */
export interface PromptDefinition<A = ZodShape | PromptArgument[]> {
  title?: string;
  description?: string;
  /** Arguments as a zod shape of strings (`{ focus: z.string() }`) or a plain list. */
  arguments?: A & (ZodShape | PromptArgument[]);
  render: (
    args: A extends ZodShape ? z.infer<z.ZodObject<A>> : Record<string, string | undefined>,
    ctx: CallContext,
  ) => PromptReturn | Promise<PromptReturn>;
  /** Completions for arguments, by argument name. */
  complete?: Record<string, Completer>;
}

/**
 * A whole plugin: the default export of a plugin file. `TTools` maps each tool to its
 * inferred `input`, `TPrompts` each prompt to its inferred `arguments`. A tool without
 * `input` (or a prompt without `arguments`) infers as `unknown`: the constraints accept it,
 * so its siblings keep their inferred argument types, and `input`/`arguments` are checked
 * against ToolInput / the argument forms inside ToolDefinition and PromptDefinition.
 */
export interface PluginDefinition<
  TTools extends Record<string, unknown> = Record<string, ToolInput>,
  TPrompts extends Record<string, unknown> = Record<string, ZodShape | PromptArgument[]>,
> {
  /** Exposed name (prefix of tool and prompt names); defaults to the file or folder name. */
  name?: string;
  /** Shown on the dashboard and in `/healthz`. */
  version?: string;
  description?: string;
  tools?: { [K in keyof TTools]: ToolDefinition<TTools[K]> };
  resources?: Record<string, ResourceDefinition>;
  resourceTemplates?: Record<string, ResourceTemplateDefinition>;
  prompts?: { [K in keyof TPrompts]: PromptDefinition<TPrompts[K]> };
  /**
   * Runs in the plugin's worker before anything is served: at load, and again each time a
   * parked plugin is woken by a call (see `keepAlive`).
   */
  setup?: (ctx: PluginContext) => void | Promise<void>;
  /** Runs when the plugin is unloaded, replaced by a new version, or parked. */
  teardown?: () => void | Promise<void>;
  /**
   * Whether the plugin's worker thread stays up while nobody calls it. By default (unset) an
   * idle plugin is parked after `workerIdleMs` (or sooner, least recently used first, when
   * more than `maxRunningPlugins` run): its thread ends, module-level state is lost, and the
   * next call starts it again (running `setup` again). A plugin that still has a
   * timer, watcher, socket or child process referenced when it goes idle is not parked, nor
   * one while a client is subscribed to one of its resources (a parked one is started for
   * its first subscriber, so the work `setup` starts can send `ctx.resourceUpdated`).
   * `true`: never park (state in module variables survives); `false`: park even then.
   * A plugin in a worker group (config `workerGroups`) shares its group's thread and is
   * never parked, whatever this says.
   */
  keepAlive?: boolean;
}

/**
 * Declares a plugin. Returns its argument unchanged; it exists so TypeScript infers each
 * handler's argument types from its zod `input`.
 *
 * @example
 * export default definePlugin({
 *   tools: { hello: { input: { who: z.string() }, handler: ({ who }) => `hello ${who}` } },
 * });
 */
export function definePlugin<
  TTools extends Record<string, unknown> = Record<string, never>,
  TPrompts extends Record<string, unknown> = Record<string, never>,
>(plugin: PluginDefinition<TTools, TPrompts>): PluginDefinition<TTools, TPrompts> {
  return plugin;
}
