/**
 * The one context every MCP handler runs in, whatever the feature and whatever the era:
 * who is calling (era-neutral), the request's span, the rate-limit guard and audit, the
 * accounting on the session or stateless client, and `callPlugin`, the straight line to a
 * plugin's worker with the request's cancellation, progress, logging and client requests
 * (ctx.sample / ctx.elicit / ctx.roots) wired in.
 *
 * Asking the client, per era:
 * - 2025 era: a real server→client request on the session, tied to the calling request
 *   (on Streamable HTTP it rides that POST's SSE stream). The plugin's `await` is simply
 *   suspended in its worker until the answer comes; the call's cancellation and timeout
 *   cover the wait.
 * - 2026-07-28: there is no server→client channel; the call answers `input_required` and
 *   the client re-sends it with the answers. We REPLAY: when the plugin asks, its worker
 *   call is cancelled and the call returns the question(s) plus a signed `requestState`
 *   holding every answer so far, by question key (the plugin's `opts.key`, or r0, r1, … by
 *   ask order); the retry runs the plugin again from the top and its worker answers every
 *   ask whose key it brought at once, until the plugin asks something new or finishes. Why replay rather than keep the handler
 *   suspended in its worker until the retry arrives: the revision is stateless — the retry
 *   may reach another daemon behind a load balancer, or this one after a restart, and
 *   nothing must be held per client between rounds. The price: what a handler does before
 *   its first (or next) `await ctx.elicit(...)` runs again on every round, so side effects
 *   belong after the asks (or must be idempotent).
 */
import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  LOG_LEVEL_META_KEY,
  PROTOCOL_VERSION_META_KEY,
  ProtocolError,
  ProtocolErrorCode,
  inputRequired,
  type ClientCapabilities,
  type InputRequiredResult,
  type LoggingLevel,
  type ProtocolEra,
  type RequestStateCodec,
  type Server,
  type ServerContext,
} from "@modelcontextprotocol/server";
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { CallCancelledError, CallTimeoutError, ClientRequestError, InputNeeded, messageOf } from "../errors.ts";
import type { CallOptions, HostCall, StopHandle } from "../plugins/host/plugin-host.ts";
import type { CallKind, ClientRequest, WorkerSpan } from "../plugins/worker-protocol.ts";
import type { Profile, Profiles } from "../profiles.ts";
import type { RegisteredPlugin, Registry } from "../registry.ts";
import type { SessionInfo, SessionStore, TransportKind } from "../session-store.ts";
import type { ContextCosts } from "../context/definition-costs.ts";
import type { BuiltinTools } from "../context/builtin-tools.ts";
import { startRequestSpan, type RequestSpan, type SpanCaller } from "../telemetry/instrumentation.ts";
import { LOGGING_LEVELS } from "./logging-levels.ts";
import type { StartupGate } from "./startup-wait.ts";

/** What one server instance serves: a 2025 session, a WebSocket/stdio connection, or any stateless request (pooled). */
export interface Connection {
  transport: TransportKind;
  era: ProtocolEra;
  /** The store entry this instance serves; none on a pooled stateless (2026-07-28 HTTP) instance. */
  session?: SessionInfo;
  /** 2025 era: the URIs this session subscribed to with resources/subscribe. */
  subscriptions?: Set<string>;
  /** The session ended and its subscriptions were released: a late resources/subscribe counts for nobody. */
  released?: boolean;
  /** 2025 era: the client sent notifications/initialized (nothing unsolicited goes out before). */
  initialized?: boolean;
  /** The profile the client chose (`?profile=`, `--profile`): it sees and can call only that part of the registry. */
  profile?: Profile;
}

/** Who is calling, read the same way in both eras. */
export interface Caller {
  era: ProtocolEra;
  protocolVersion?: string;
  transport: TransportKind;
  /** 2025-era sessions only: 2026-07-28 traffic has none (spans must not carry one). */
  sessionId?: string;
  /** The store entry of the connection, in either era (a WebSocket or stdio client of 2026-07-28 has one too); none for stateless HTTP. For limits and the audit log, never for telemetry. */
  connectionId?: string;
  bridged?: boolean;
  clientName?: string;
  clientVersion?: string;
  capabilities?: ClientCapabilities;
}

/** A hook the audit log and rate limiter attach to (issue-level features live outside). */
export interface CallGuard {
  /** Throws an error with a JSON-RPC `code` to refuse the call (e.g. rate limit). */
  before?(caller: Caller, method: string, target: string): void;
  after?(caller: Caller, method: string, target: string, outcome: { ok: boolean; durationMs: number; error?: string; args?: unknown }): void;
}

/** What requestState carries between 2026-07-28 rounds: the target it was minted for and the client's answers so far. */
export interface ReplayState {
  /** tool name, prompt name or resource URI plus a digest of the arguments: a state minted for one call is refused for another */
  t: string;
  /** the client's results so far, by question key */
  a: Record<string, unknown>;
}

export interface McpDeps {
  registry: Registry;
  store: SessionStore;
  logger: Logger;
  version: string;
  pageSize: number;
  guard?: CallGuard;
  /** signs and checks requestState (2026-07-28 input_required rounds) */
  requestState: RequestStateCodec<ReplayState>;
  /** bounds one server→client request of the 2025 era (the plugin's own call timeout bounds the whole call) */
  clientRequestTimeoutMs: number;
  /** cacheScope for list results and discover: "public" unless a token guards the daemon */
  cacheScope: "public" | "private";
  /** the config's named profiles (none: every client sees everything) */
  profiles?: Profiles;
  /** the plugins folder's first load after start; listings wait for it a while (startup-wait.ts) */
  startup?: StartupGate;
  /** token costs, expose modes and the two search tools (context/) */
  context?: ContextEconomy;
}

/** What tools/list and tools/call need of the context economy. */
export interface ContextEconomy {
  costs: ContextCosts;
  builtins: BuiltinTools;
}

/** Most questions one call may ask across all its rounds; a plugin asking in a loop gets an error, not endless rounds. */
export const MAX_CLIENT_REQUESTS_PER_CALL = 16;

/** Abort reasons made once: abort() without one builds a DOMException with a stack trace each time. */
const ASKED = new Error("the plugin asked the client: answered with input_required");
const CALL_ENDED = new Error("the plugin call ended");


type Envelope = Record<string, unknown>;
const implementation = (v: unknown): { name?: string; version?: string } => (v && typeof v === "object" ? (v as { name?: string; version?: string }) : {});

/**
 * The caller of one request. 2026-07-28: only the request's own `_meta` envelope — never
 * the instance's getClientVersion()/getClientCapabilities(), which on a pooled instance may
 * still hold an earlier caller's values. 2025 era: what the session's initialize declared.
 */
export function callerOf(server: Server, conn: Connection, ctx: ServerContext): Caller {
  if (conn.era === "modern") {
    const env = (ctx.mcpReq.envelope ?? {}) as Envelope;
    const info = implementation(env[CLIENT_INFO_META_KEY]);
    const version = env[PROTOCOL_VERSION_META_KEY];
    return {
      era: "modern",
      protocolVersion: typeof version === "string" ? version : undefined,
      transport: conn.transport,
      connectionId: conn.session?.id,
      bridged: conn.session?.bridged,
      clientName: typeof info.name === "string" ? info.name : undefined,
      clientVersion: typeof info.version === "string" ? info.version : undefined,
      capabilities: env[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined,
    };
  }
  const info = server.getClientVersion();
  return {
    era: "legacy",
    protocolVersion: conn.session?.protocolVersion ?? server.getNegotiatedProtocolVersion(),
    transport: conn.transport,
    sessionId: conn.session?.id,
    connectionId: conn.session?.id,
    bridged: conn.session?.bridged,
    clientName: info?.name,
    clientVersion: info?.version,
    capabilities: server.getClientCapabilities(),
  };
}

/** A plugin asked the client something while serving a 2026-07-28 request: answer input_required (in the error catalogue). */
export { InputNeeded };

function errorTypeOf(err: unknown): string {
  if (err instanceof CallTimeoutError) return "timeout";
  if (err instanceof CallCancelledError) return "cancelled";
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "number" && Number.isSafeInteger(code)) return String(code);
  return "_OTHER";
}

/** The capability a 2025-era client must have declared for a plugin to ask it this. */
function missingCapability(req: ClientRequest, caps: ClientCapabilities | undefined): string | undefined {
  switch (req.method) {
    case "sampling/createMessage":
      return caps?.sampling ? undefined : "sampling";
    case "roots/list":
      return caps?.roots ? undefined : "roots";
    case "elicitation/create": {
      const e = caps?.elicitation as { form?: unknown; url?: unknown } | undefined;
      if (!e) return "elicitation";
      // a bare `elicitation: {}` is form support (its meaning before modes existed)
      if (req.params?.mode === "url") return e.url ? undefined : "elicitation.url";
      return e.form || !e.url ? undefined : "elicitation.form";
    }
  }
}

/** The embedded request for one question (2026-07-28), built with the SDK's own builders. */
function inputRequestFor(req: ClientRequest) {
  const params = (req.params ?? {}) as never;
  switch (req.method) {
    case "sampling/createMessage":
      return inputRequired.createMessage(params);
    case "roots/list":
      return inputRequired.listRoots();
    case "elicitation/create":
      return (req.params as { mode?: string } | undefined)?.mode === "url" ? inputRequired.elicitUrl(params) : inputRequired.elicit(params);
  }
}

export interface CallSpec {
  method: string;
  /** tool/prompt name or URI, for guarded and named methods; undefined for lists */
  target?: string;
  attributes?: Record<string, string>;
  /** for the audit log */
  args?: unknown;
}

export class CallContext {
  readonly caller: Caller;
  span!: RequestSpan;
  /** where calls and errors are counted: the session, or the stateless client's recent-clients entry */
  private readonly account: { calls: number; errors: number };

  constructor(
    readonly deps: McpDeps,
    readonly server: Server,
    readonly conn: Connection,
    readonly ctx: ServerContext,
  ) {
    this.caller = callerOf(server, conn, ctx);
    const s = conn.session;
    if (s && this.caller.era === "modern" && s.protocolVersion === undefined) {
      // a 2026-07-28 connection (WebSocket, stdio) has no handshake: its first request names it
      s.protocolVersion = this.caller.protocolVersion;
      s.clientName = this.caller.clientName;
      s.clientVersion = this.caller.clientVersion;
    }
    this.account =
      s ??
      deps.store.seenStateless({ clientName: this.caller.clientName, clientVersion: this.caller.clientVersion, protocolVersion: this.caller.protocolVersion ?? "unknown", transport: conn.transport });
  }

  get logger(): Logger {
    return this.deps.logger;
  }

  private spanCaller(): SpanCaller {
    return { transport: this.caller.transport, sessionId: this.caller.sessionId, protocolVersion: this.caller.protocolVersion };
  }

  /** Runs a handler inside its span, the guard and the accounting. */
  async run<T>(spec: CallSpec, fn: (call: CallContext) => Promise<T>): Promise<T> {
    const { method, target } = spec;
    const attributes = spec.attributes ?? {};
    this.span = startRequestSpan({ method, target, attributes, meta: this.ctx.mcpReq._meta as Record<string, unknown> | undefined, caller: this.spanCaller(), requestId: this.ctx.mcpReq.id });
    const started = performance.now();
    if (target) this.account.calls++;
    try {
      if (target) this.deps.guard?.before?.(this.caller, method, target);
      const result = await fn(this);
      if ((result as { resultType?: string } | undefined)?.resultType === "input_required") {
        // not an outcome yet: the client answers and retries (its retry is its own span)
        this.span.setAttributes({ "patchbay.input_required": true });
        this.span.end();
        return result;
      }
      const isToolError = method === "tools/call" && (result as { isError?: boolean }).isError === true;
      if (isToolError) this.account.errors++;
      this.span.end(isToolError ? "tool_error" : undefined);
      if (target) this.deps.guard?.after?.(this.caller, method, target, { ok: !isToolError, durationMs: performance.now() - started, args: spec.args });
      return result;
    } catch (err) {
      this.account.errors++;
      this.span.end(errorTypeOf(err));
      if (target) this.deps.guard?.after?.(this.caller, method, target, { ok: false, durationMs: performance.now() - started, error: messageOf(err), args: spec.args });
      throw err;
    }
  }

  /** The size of this call's result, for its span and the dashboard. */
  noteResultSize(bytes: number): void {
    this.span.setResultSize(bytes);
  }

  /**
   * Runs a plugin call with the request's cancellation, progress, logging and client
   * requests. On a 2026-07-28 request whose plugin asks the client, rejects with
   * InputNeeded (turn it into a result with `inputRequiredResult`).
   */
  async callPlugin(plugin: RegisteredPlugin, kind: CallKind, target: string, fields: { args?: Record<string, unknown>; uri?: string }, replayTarget?: string): Promise<unknown> {
    const hooks = new PluginCallHooks(this, plugin, fields, replayTarget);
    const req: HostCall = { kind, target, args: fields.args, uri: fields.uri, answers: hooks.answers, session: this.caller.sessionId ? { id: this.caller.sessionId, clientName: this.caller.clientName } : undefined, traceparent: this.span.traceparent };
    let outcome;
    try {
      outcome = await plugin.worker.call(req, hooks);
    } catch (err) {
      // a failed call still took plugin time (e.g. argument validation in the worker)
      this.span.addWorkerSpan((err as { span?: WorkerSpan }).span);
      // progress and log messages of this request go out before its error or input_required
      if (hooks.notes) await hooks.notes;
      if (hooks.asks && !this.ctx.mcpReq.signal.aborted) throw new InputNeeded(hooks.asks, hooks.answers ?? {}, hooks.replay ? hooks.boundTarget() : undefined);
      throw err;
    } finally {
      hooks.end();
    }
    this.span.addWorkerSpan(outcome.span);
    if (hooks.notes) await hooks.notes;
    return outcome.value;
  }

  /** The input_required result for a plugin's questions, with the answers so far signed into requestState. */
  async inputRequiredResult(need: InputNeeded, target: string): Promise<InputRequiredResult> {
    const inputRequests = Object.fromEntries(need.asks.map((a) => [a.key, inputRequestFor(a)]));
    const requestState = await this.deps.requestState.mint({ t: need.bound ?? target, a: need.answers }, this.ctx);
    return inputRequired({ inputRequests, requestState });
  }

  /**
   * The answers a 2026-07-28 request brings: this round's inputResponses (the SDK has already
   * dropped entries that are not bare result objects) under those signed into its
   * requestState (verified by the SDK before the handler runs, -32602 if tampered or
   * expired), which the client cannot change once given. A key no question asks is ignored
   * by the worker; a question left unanswered is simply asked again. A first request may
   * bring answers too (a client that knows the questions): they are client input like any
   * other answer.
   */
  recordedAnswers(target: () => string): Record<string, unknown> | undefined {
    const state = this.ctx.mcpReq.requestState<ReplayState>();
    if (state !== undefined && (!state || typeof state !== "object" || state.t !== target() || !state.a || typeof state.a !== "object")) {
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, "Invalid or expired requestState", { reason: "invalid_request_state" });
    }
    const responses = this.ctx.mcpReq.inputResponses;
    if (state === undefined && responses === undefined) return undefined;
    const answers: Record<string, unknown> = { ...state?.a };
    for (const [key, value] of Object.entries(responses ?? {})) if (!Object.hasOwn(answers, key)) answers[key] = value;
    return answers;
  }

  /** 2025 era: a real server→client request tied to the calling request. */
  async askClient(req: ClientRequest, signal: AbortSignal): Promise<unknown> {
    const missing = missingCapability(req, this.caller.capabilities);
    if (missing) {
      throw new ClientRequestError(`${this.caller.clientName ?? "The client"} did not declare the "${missing}" capability, so a plugin cannot ask it (${req.method})`);
    }
    const sent = { method: req.method, params: req.params ?? {} } as Parameters<ServerContext["mcpReq"]["send"]>[0];
    return this.ctx.mcpReq.send(sent as { method: "roots/list" }, { signal, timeout: this.deps.clientRequestTimeoutMs });
  }
}

/**
 * One plugin call's options for its host: the request's signal, progress, log messages and
 * questions for the client. One object per call, its hooks methods (the host calls them on
 * it), rather than a closure each: calls are the daemon's hot path.
 */
class PluginCallHooks implements CallOptions {
  signal: AbortSignal;
  stopHandle?: StopHandle;
  onProgress?: CallOptions["onProgress"];
  /** the notifications sent for this request, chained: awaited before its answer, so none arrives after it */
  notes?: Promise<unknown>;
  /** 2026-07-28: the questions the plugin asked (the call is stopped and answers input_required); never empty */
  asks?: ClientRequest[];
  /** 2026-07-28: the answers this request brings, by question key */
  readonly answers?: Record<string, unknown>;
  readonly replay: boolean;
  private readonly modern: boolean;
  /** can ask the client: a 2026-07-28 tool call, prompt or resource read (its worker call must be stoppable) */
  private readonly askable: boolean;
  private stop?: AbortController;
  /** links `stop` to the request's signal */
  private cancel?: () => void;
  private bound?: string;
  /** 2025: client requests still pending when the plugin call ends (it timed out) are ended too */
  private asking?: Set<AbortController>;

  constructor(
    private readonly call: CallContext,
    private readonly plugin: RegisteredPlugin,
    private readonly fields: { args?: Record<string, unknown>; uri?: string },
    private readonly replayTarget: string | undefined,
  ) {
    const mcpReq = call.ctx.mcpReq;
    this.modern = call.caller.era === "modern";
    // The state is bound to the target and its arguments: answers given for one call (say,
    // "delete a?") must not be replayed into the same tool with other arguments.
    // (2026-07-28 bodies are at most 256 levels deep, so the digest's recursion is bounded)
    // The digest is taken only when a state is checked or minted: most calls never ask.
    this.replay = this.askable = this.modern && replayTarget !== undefined;
    this.answers = this.replay ? call.recordedAnswers(() => this.boundTarget()) : undefined;
    // 2026-07-28: the worker call must be stoppable when the plugin asks. A host that takes a
    // stop handle (a worker thread) is stopped through it; any other gets a signal of its
    // own, linked to the request's by hand (AbortSignal.any allocates on every call in
    // Node 20). Otherwise the request's own signal is the call's.
    if (this.askable && plugin.worker.stoppable) this.stopHandle = {};
    else if (this.askable) {
      const stop = (this.stop = new AbortController());
      this.cancel = () => stop.abort(mcpReq.signal.reason);
      if (mcpReq.signal.aborted) this.cancel();
      else mcpReq.signal.addEventListener("abort", this.cancel, { once: true });
    }
    this.signal = this.stop?.signal ?? mcpReq.signal;
    const progressToken = (mcpReq._meta as { progressToken?: string | number } | undefined)?.progressToken;
    if (progressToken !== undefined) {
      this.onProgress = (p) => this.chain(() => mcpReq.notify({ method: "notifications/progress", params: { progressToken, progress: p.progress, total: p.total, message: p.message } }));
    }
  }

  boundTarget(): string {
    return (this.bound ??= `${this.replayTarget}#${digestOf(this.fields)}`);
  }

  // The SDK applies the client's level: logging/setLevel on a 2025 session, the request's
  // _meta logLevel on 2026-07-28 (no level asked, no log messages).
  onClientLog(lvl: string, data: unknown): void {
    const level = (LOGGING_LEVELS as readonly string[]).includes(lvl) ? (lvl as LoggingLevel) : "info";
    const mcpReq = this.call.ctx.mcpReq;
    this.chain(() => mcpReq.log(level, data, this.plugin.manifest.name));
  }

  onClientRequest(req: ClientRequest): Promise<unknown> {
    const mcpReq = this.call.ctx.mcpReq;
    if (!this.modern) {
      const pending = new AbortController();
      (this.asking ??= new Set()).add(pending);
      return this.call.askClient(req, AbortSignal.any([mcpReq.signal, pending.signal])).finally(() => this.asking?.delete(pending));
    }
    if (!this.askable) return Promise.reject(new ClientRequestError(`${req.method}: a plugin can ask the client only while serving a tool call, a prompt or a resource read`));
    // counted over the answers this server signed, not what the client may add
    const answered = Object.keys(mcpReq.requestState<ReplayState>()?.a ?? {}).length;
    if (answered + (this.asks?.length ?? 0) >= MAX_CLIENT_REQUESTS_PER_CALL) return Promise.reject(new ClientRequestError(`the plugin asked the client more than ${MAX_CLIENT_REQUESTS_PER_CALL} questions in one call`));
    // Gather the asks that arrive together (Promise.all over several), then stop the
    // worker call: the answers come with the client's retry, which replays them.
    const asks = (this.asks ??= []);
    asks.push(req);
    if (asks.length === 1) setImmediate(() => (this.stop ? this.stop.abort(ASKED) : this.stopHandle?.stop?.()));
    // never settles: the call is cancelled, so the plugin's await never resumes here
    return new Promise<never>(() => undefined);
  }

  /** The call is over: unlink from the request's signal, end what it still asks a 2025 client. */
  end(): void {
    if (this.cancel) this.call.ctx.mcpReq.signal.removeEventListener("abort", this.cancel);
    if (this.asking) for (const a of this.asking) a.abort(CALL_ENDED);
  }

  private chain(send: () => Promise<unknown>): void {
    this.notes = (this.notes ?? Promise.resolve()).then(send).catch(() => undefined);
  }
}

/** A digest of a call's arguments (keys sorted, so a retry that orders them differently matches). */
function digestOf(value: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canonical) : v && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])])) : v;
  return createHash("sha256").update(JSON.stringify(canonical(value)) ?? "").digest("base64url").slice(0, 22);
}
