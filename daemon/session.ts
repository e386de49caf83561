/**
 * One MCP session: a low-level SDK `Server` whose handlers read the live registry. The path
 * of a tool call is a straight line: transport → this handler → registry lookup → the
 * plugin's worker → back. Every transport builds sessions here, so behaviour is the same
 * on all of them.
 */
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  LoggingLevelSchema,
  type LoggingLevel,
  SUPPORTED_PROTOCOL_VERSIONS,
  LATEST_PROTOCOL_VERSION,
} from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "pino";
import { CallCancelledError, CallTimeoutError, RpcCode, messageOf } from "./errors.ts";
import { PluginCallError, type CallOptions } from "./plugins/plugin-worker.ts";
import type { ListChanges, Registry, RegisteredPlugin } from "./registry.ts";
import type { SessionInfo, SessionStore } from "./session-store.ts";
import { recordSessionClosed, recordSessionOpened, startRequestSpan, type RequestSpan } from "./telemetry/instrumentation.ts";
import type { CallKind, WorkerSpan } from "./plugins/worker-protocol.ts";

export const SERVER_NAME = "patchbay";

/** A hook the audit log and rate limiter attach to (issue-level features live outside). */
export interface CallGuard {
  /** Throws an McpError to refuse the call (e.g. rate limit). */
  before?(session: SessionInfo, method: string, target: string): void;
  after?(session: SessionInfo, method: string, target: string, outcome: { ok: boolean; durationMs: number; error?: string; args?: unknown }): void;
}

export interface SessionDeps {
  registry: Registry;
  store: SessionStore;
  logger: Logger;
  version: string;
  pageSize: number;
  guard?: CallGuard;
}

const LEVELS = LoggingLevelSchema.options;

/**
 * The schemas of the requests this server handles, checked before the SDK sees a request:
 * the SDK parses params inside the handler registration and reports a mismatch as -32603
 * with the whole zod error, where JSON-RPC wants -32602 Invalid params and a short message.
 */
const REQUEST_SCHEMAS = new Map<string, { safeParse(v: unknown): { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } } }>([
  ["tools/list", ListToolsRequestSchema],
  ["tools/call", CallToolRequestSchema],
  ["resources/list", ListResourcesRequestSchema],
  ["resources/templates/list", ListResourceTemplatesRequestSchema],
  ["resources/read", ReadResourceRequestSchema],
  ["prompts/list", ListPromptsRequestSchema],
  ["prompts/get", GetPromptRequestSchema],
  ["completion/complete", CompleteRequestSchema],
  ["logging/setLevel", SetLevelRequestSchema],
]);

/** "-32602 Invalid params" text for a request whose params do not match its method's schema. */
function invalidParamsMessage(method: string, issues: { path: PropertyKey[]; message: string }[]): string {
  const first = issues[0];
  const where = first?.path.map(String).join(".") || "params";
  // zod says "record" where a client author thinks "object"
  const what = (first?.message ?? "invalid").replace(/expected record\b/, "expected an object");
  return `Invalid params for ${method}: ${where}: ${what}`.slice(0, 300);
}

/**
 * A cursor is one we issued: base64url of a positive decimal offset. Anything else (an empty
 * string, other base64, a non-integer) is -32602, never silently page one. Node's base64url
 * decoder skips characters it does not know, hence the round-trip check.
 */
function decodeCursor(cursor: string, length: number): number {
  const text = /^[A-Za-z0-9_-]{1,24}$/.test(cursor) ? Buffer.from(cursor, "base64url").toString("utf8") : "";
  const n = /^[1-9][0-9]{0,14}$/.test(text) ? Number(text) : NaN;
  if (!(n <= length) || Buffer.from(text).toString("base64url") !== cursor) {
    throw new McpError(ErrorCode.InvalidParams, `Invalid cursor: ${JSON.stringify(cursor.slice(0, 64))} (pass back a nextCursor exactly as received, or none for the first page)`);
  }
  return n;
}

function paginate<T>(items: T[], cursor: string | undefined, pageSize: number): { page: T[]; nextCursor?: string } {
  const start = cursor === undefined ? 0 : decodeCursor(cursor, items.length);
  const end = start + pageSize;
  return { page: items.slice(start, end), nextCursor: end < items.length ? Buffer.from(String(end)).toString("base64url") : undefined };
}

function errorTypeOf(err: unknown): string {
  if (err instanceof McpError) return String(err.code);
  if (err instanceof CallTimeoutError) return "timeout";
  if (err instanceof CallCancelledError) return "cancelled";
  return "_OTHER";
}

/**
 * Creates the session's Server, connects it to the transport and registers it in the store.
 * Resolves once connected; the session ends when the transport closes.
 */
export async function openSession(transport: Transport, info: SessionInfo, deps: SessionDeps): Promise<Server> {
  const { registry, logger, store } = deps;
  const log = logger.child({ session: info.id, transport: info.transport });
  const server = new Server(
    { name: SERVER_NAME, version: deps.version, title: "Patchbay" },
    {
      capabilities: {
        tools: { listChanged: true },
        resources: { listChanged: true },
        prompts: { listChanged: true },
        logging: {},
        completions: {},
      },
      instructions: "Patchbay aggregates the tools, resources and prompts of every plugin in its plugins folder. Tool and prompt names are <plugin>__<name>.",
      debouncedNotificationMethods: ["notifications/tools/list_changed", "notifications/resources/list_changed", "notifications/prompts/list_changed"],
    },
  );
  let level: LoggingLevel | undefined;
  let initialized = false;

  server.oninitialized = () => {
    initialized = true;
    const client = server.getClientVersion();
    info.clientName = client?.name;
    info.clientVersion = client?.version;
    log.info({ client: client?.name }, "session initialized");
  };
  // Called by the store's one registry fan-out (see SessionStore.broadcast).
  const onChanged = (c: ListChanges) => {
    if (!initialized) return;
    // Failures here mean the peer is gone; the transport's close path cleans up.
    if (c.tools) server.sendToolListChanged().catch(() => undefined);
    if (c.resources) server.sendResourceListChanged().catch(() => undefined);
    if (c.prompts) server.sendPromptListChanged().catch(() => undefined);
  };

  /** Runs a plugin call with the request's cancellation, progress and logging wired in. */
  async function callPlugin(
    plugin: RegisteredPlugin,
    kind: CallKind,
    target: string,
    extra: { signal: AbortSignal; _meta?: { progressToken?: string | number }; sendNotification: (n: any) => Promise<void> },
    span: RequestSpan,
    fields: { args?: Record<string, unknown>; uri?: string },
  ) {
    const progressToken = extra._meta?.progressToken;
    // Notifications for this request are chained and awaited before the result is returned:
    // a progress or log message must never arrive after the response it belongs to.
    let notes: Promise<unknown> = Promise.resolve();
    const notify = (n: { method: string; params: Record<string, unknown> }) => {
      notes = notes.then(() => extra.sendNotification(n)).catch(() => undefined);
    };
    const opts: CallOptions = {
      signal: extra.signal,
      onProgress: progressToken === undefined ? undefined : (p) => notify({ method: "notifications/progress", params: { progressToken, progress: p.progress, total: p.total, message: p.message } }),
      onClientLog: (lvl, data) => {
        const l = (LEVELS as readonly string[]).includes(lvl) ? (lvl as LoggingLevel) : "info";
        if (level && LEVELS.indexOf(l) < LEVELS.indexOf(level)) return;
        notify({ method: "notifications/message", params: { level: l, logger: plugin.manifest.name, data } });
      },
    };
    let outcome;
    try {
      outcome = await plugin.worker.call({ kind, target, ...fields, session: { id: info.id, clientName: info.clientName }, traceparent: span.traceparent }, opts);
    } catch (err) {
      // a failed call still took plugin time (e.g. argument validation in the worker)
      span.addWorkerSpan((err as { span?: WorkerSpan }).span);
      throw err;
    }
    span.addWorkerSpan(outcome.span);
    await notes;
    return outcome.value;
  }

  /** Wraps a handler in its span, the guard and error accounting. */
  async function instrumented<T>(method: string, target: string | undefined, attributes: Record<string, string>, extra: { requestId: string | number; _meta?: Record<string, unknown> }, args: unknown, fn: (span: RequestSpan) => Promise<T>): Promise<T> {
    const span = startRequestSpan({ method, target, attributes, meta: extra._meta, session: info, requestId: extra.requestId });
    const started = performance.now();
    if (target) info.calls++;
    // a session with a request in flight is busy: never evicted, never idle-closed
    const done = store.busy(info.id);
    try {
      if (target) deps.guard?.before?.(info, method, target);
      const result = await fn(span);
      const isToolError = method === "tools/call" && (result as { isError?: boolean }).isError === true;
      if (isToolError) info.errors++;
      span.end(isToolError ? "tool_error" : undefined);
      if (target) deps.guard?.after?.(info, method, target, { ok: !isToolError, durationMs: performance.now() - started, args });
      return result;
    } catch (err) {
      info.errors++;
      span.end(errorTypeOf(err));
      if (target) deps.guard?.after?.(info, method, target, { ok: false, durationMs: performance.now() - started, error: messageOf(err), args });
      throw err;
    } finally {
      done();
    }
  }

  server.setRequestHandler(SetLevelRequestSchema, async (req) => {
    level = req.params.level;
    return {};
  });

  server.setRequestHandler(ListToolsRequestSchema, async (req, extra) =>
    instrumented("tools/list", undefined, {}, extra, undefined, async () => {
      const all = [...registry.tools.values()].sort((a, b) => a.exposed.localeCompare(b.exposed));
      const { page, nextCursor } = paginate(all, req.params?.cursor, deps.pageSize);
      return {
        tools: page.map((t) => ({
          name: t.exposed,
          title: t.info.title,
          description: t.info.description,
          inputSchema: t.info.inputSchema as { type: "object" },
          outputSchema: t.info.outputSchema as { type: "object" } | undefined,
          annotations: t.info.annotations,
        })),
        nextCursor,
      };
    }),
  );

  server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
    const name = req.params.name;
    const tool = registry.tools.get(name);
    const attrs: Record<string, string> = { "gen_ai.tool.name": name, "gen_ai.operation.name": "execute_tool" };
    if (tool) attrs["patchbay.plugin.name"] = tool.plugin.manifest.name;
    if (tool?.plugin.manifest.version) attrs["patchbay.plugin.version"] = tool.plugin.manifest.version;
    return instrumented("tools/call", name, attrs, extra, req.params.arguments, async (span) => {
      if (!tool) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${name}`);
      try {
        return (await callPlugin(tool.plugin, "tool", tool.info.name, extra, span, { args: req.params.arguments ?? {} })) as { content: [] };
      } catch (err) {
        if (err instanceof CallCancelledError) throw err;
        if (err instanceof PluginCallError && !err.detail.validation) log.error({ err: err.detail }, "tool call failed in plugin");
        // Validation failures, timeouts and dead workers are tool-level errors the model can read.
        return { content: [{ type: "text" as const, text: messageOf(err) }], isError: true };
      }
    });
  });

  server.setRequestHandler(ListResourcesRequestSchema, async (req, extra) =>
    instrumented("resources/list", undefined, {}, extra, undefined, async (span) => {
      const fixed = [...registry.resources.values()].map((r) => r.info);
      const dynamic = await Promise.all(
        registry.templates
          .filter((t) => t.info.listable)
          .map(async (t) => {
            try {
              return (await callPlugin(t.plugin, "list-template", t.info.uriTemplate, extra, span, {})) as typeof fixed;
            } catch (err) {
              log.warn({ template: t.info.uriTemplate, err: messageOf(err) }, "listing a resource template failed");
              return [];
            }
          }),
      );
      const seen = new Set<string>();
      const all = [...fixed, ...dynamic.flat()].filter((r) => (seen.has(r.uri) ? false : (seen.add(r.uri), true)));
      const { page, nextCursor } = paginate(all, req.params?.cursor, deps.pageSize);
      return { resources: page, nextCursor };
    }),
  );

  server.setRequestHandler(ListResourceTemplatesRequestSchema, async (req, extra) =>
    instrumented("resources/templates/list", undefined, {}, extra, undefined, async () => {
      const all = registry.templates.map((t) => ({ uriTemplate: t.info.uriTemplate, name: t.info.name, title: t.info.title, description: t.info.description, mimeType: t.info.mimeType }));
      const { page, nextCursor } = paginate(all, req.params?.cursor, deps.pageSize);
      return { resourceTemplates: page, nextCursor };
    }),
  );

  server.setRequestHandler(ReadResourceRequestSchema, async (req, extra) => {
    const uri = req.params.uri;
    const fixed = registry.resources.get(uri);
    const tpl = fixed ? undefined : registry.findTemplate(uri);
    const plugin = fixed?.plugin ?? tpl?.plugin;
    const attrs: Record<string, string> = { "mcp.resource.uri": uri };
    if (plugin) attrs["patchbay.plugin.name"] = plugin.manifest.name;
    return instrumented("resources/read", uri, attrs, extra, undefined, async (span) => {
      if (!plugin) throw new McpError(RpcCode.ResourceNotFound, `Resource not found: ${uri}`, { uri });
      try {
        return (await (fixed
          ? callPlugin(plugin, "resource", uri, extra, span, {})
          : callPlugin(plugin, "template", tpl!.info.uriTemplate, extra, span, { uri }))) as { contents: [] };
      } catch (err) {
        if (err instanceof CallCancelledError) throw err;
        throw new McpError(ErrorCode.InternalError, `Reading ${uri} failed: ${messageOf(err)}`);
      }
    });
  });

  server.setRequestHandler(ListPromptsRequestSchema, async (req, extra) =>
    instrumented("prompts/list", undefined, {}, extra, undefined, async () => {
      const all = [...registry.prompts.values()].sort((a, b) => a.exposed.localeCompare(b.exposed));
      const { page, nextCursor } = paginate(all, req.params?.cursor, deps.pageSize);
      return { prompts: page.map((p) => ({ name: p.exposed, title: p.info.title, description: p.info.description, arguments: p.info.arguments })), nextCursor };
    }),
  );

  server.setRequestHandler(GetPromptRequestSchema, async (req, extra) => {
    const name = req.params.name;
    const prompt = registry.prompts.get(name);
    const attrs: Record<string, string> = { "gen_ai.prompt.name": name };
    if (prompt) attrs["patchbay.plugin.name"] = prompt.plugin.manifest.name;
    return instrumented("prompts/get", name, attrs, extra, req.params.arguments, async (span) => {
      if (!prompt) throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${name}`);
      try {
        return (await callPlugin(prompt.plugin, "prompt", prompt.info.name, extra, span, { args: req.params.arguments ?? {} })) as { messages: [] };
      } catch (err) {
        if (err instanceof CallCancelledError) throw err;
        if (err instanceof PluginCallError && err.detail.validation) throw new McpError(ErrorCode.InvalidParams, err.message);
        throw new McpError(ErrorCode.InternalError, `Prompt ${name} failed: ${messageOf(err)}`);
      }
    });
  });

  server.setRequestHandler(CompleteRequestSchema, async (req, extra) =>
    instrumented("completion/complete", undefined, {}, extra, undefined, async (span) => {
      const { ref, argument } = req.params;
      let plugin: RegisteredPlugin | undefined;
      let target = "";
      let refType: "prompt" | "template" = "prompt";
      if (ref.type === "ref/prompt") {
        const p = registry.prompts.get(ref.name);
        if (!p) throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${ref.name}`);
        plugin = p.plugin;
        target = p.info.name;
      } else {
        const t = registry.templates.find((x) => x.info.uriTemplate === ref.uri);
        if (!t) throw new McpError(ErrorCode.InvalidParams, `Unknown resource template: ${ref.uri}`);
        plugin = t.plugin;
        target = t.info.uriTemplate;
        refType = "template";
      }
      let values: string[] = [];
      try {
        values = (await callPlugin(plugin, "complete", target, extra, span, { args: { refType, argName: argument.name, value: argument.value } })) as string[];
      } catch (err) {
        if (err instanceof CallCancelledError) throw err;
        log.warn({ err: messageOf(err) }, "completion failed");
      }
      return { completion: { values: values.slice(0, 100), total: values.length, hasMore: values.length > 100 } };
    }),
  );

  let closed = false;
  const cleanup = (reason: string) => {
    if (closed) return;
    closed = true;
    store.delete(info.id, reason);
    recordSessionClosed(info);
    log.info({ reason }, "session closed");
  };
  server.onclose = () => cleanup("transport closed");
  server.onerror = (err) => log.debug({ err: messageOf(err) }, "session protocol error");

  store.add({
    info,
    transport,
    listChanged: onChanged,
    close: async (reason) => {
      cleanup(reason);
      await server.close().catch(() => undefined);
    },
  });
  recordSessionOpened(info);
  await server.connect(transport);
  // The SDK keeps the negotiated version to itself; it is the client's if supported, else the latest.
  const onmessage = transport.onmessage;
  transport.onmessage = (msg, extra) => {
    // every message from the client counts as activity, on every transport
    store.touch(info.id);
    if ("method" in msg && "id" in msg) {
      if (msg.method === "initialize") {
        const asked = (msg.params as { protocolVersion?: string } | undefined)?.protocolVersion;
        info.protocolVersion = asked && SUPPORTED_PROTOCOL_VERSIONS.includes(asked) ? asked : LATEST_PROTOCOL_VERSION;
      }
      const parsed = REQUEST_SCHEMAS.get(msg.method)?.safeParse(msg);
      if (parsed && !parsed.success) {
        const message = invalidParamsMessage(msg.method, parsed.error?.issues ?? []);
        transport.send({ jsonrpc: "2.0", id: msg.id, error: { code: ErrorCode.InvalidParams, message } }).catch(() => undefined);
        return;
      }
    }
    onmessage?.(msg, extra);
  };
  return server;
}

/** Default SessionInfo for a new session. */
export function newSessionInfo(id: string, transport: SessionInfo["transport"], extra: Partial<SessionInfo> = {}): SessionInfo {
  const now = Date.now();
  return { id, transport, startedAt: now, lastActivityAt: now, calls: 0, errors: 0, ...extra };
}

