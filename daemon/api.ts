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
}

/** What a handler receives besides its arguments. */
export interface CallContext extends PluginContext {
  /** Aborted when the client cancels the request, the session closes, or the call times out. */
  readonly signal: AbortSignal;
  /** Report progress; sent to the client only if it asked for progress (a progressToken). */
  progress(progress: number, total?: number, message?: string): void;
  /** Send an MCP `notifications/message` log entry to the calling client. */
  sendLog(level: LogLevel, data: unknown): void;
  /** The MCP session making the call, when there is one. */
  readonly session?: { id: string; clientName?: string };
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

/** One tool of a plugin. */
export interface ToolDefinition<I extends ToolInput = ToolInput> {
  /** A human-friendly name for UIs. */
  title?: string;
  /** What the tool does; models read this to decide when to call it. */
  description?: string;
  /** The argument schema; omitted means "no arguments". */
  input?: I;
  /** Optional output schema (zod or JSON Schema); the result's object becomes `structuredContent`. */
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

/** One prompt of a plugin. */
export interface PromptDefinition<A extends ZodShape | PromptArgument[] = ZodShape | PromptArgument[]> {
  title?: string;
  description?: string;
  /** Arguments as a zod shape of strings (`{ focus: z.string() }`) or a plain list. */
  arguments?: A;
  render: (
    args: A extends ZodShape ? z.infer<z.ZodObject<A>> : Record<string, string | undefined>,
    ctx: CallContext,
  ) => PromptReturn | Promise<PromptReturn>;
  /** Completions for arguments, by argument name. */
  complete?: Record<string, Completer>;
}

/** A whole plugin: the default export of a plugin file. */
export interface PluginDefinition<
  TTools extends Record<string, ToolInput> = Record<string, ToolInput>,
  TPrompts extends Record<string, ZodShape | PromptArgument[]> = Record<string, ZodShape | PromptArgument[]>,
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
  /** Runs once in the plugin's worker before anything is served. */
  setup?: (ctx: PluginContext) => void | Promise<void>;
  /** Runs when the plugin is unloaded or replaced by a new version. */
  teardown?: () => void | Promise<void>;
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
  TTools extends Record<string, ToolInput> = Record<string, never>,
  TPrompts extends Record<string, ZodShape | PromptArgument[]> = Record<string, never>,
>(plugin: PluginDefinition<TTools, TPrompts>): PluginDefinition<TTools, TPrompts> {
  return plugin;
}
