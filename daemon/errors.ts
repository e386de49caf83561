/**
 * The catalogue of every error Patchbay raises across a module boundary, and of every
 * refusal it answers on the wire. Each has a stable code (as Fastify's FST_ERR_*), so logs,
 * `/healthz` and tests can match on the code instead of on wording, and — where it is
 * answered over HTTP or as JSON-RPC — its HTTP status and JSON-RPC code, so the numbers live
 * here and nowhere else.
 *
 * `RPC_CODES` is the one list of JSON-RPC codes Patchbay answers with (its own and those
 * the SDK answers for it), each with its one meaning. docs/endpoints-and-errors.md "What each bad input
 * gets" table lists every one of them and every HTTP status used here
 * (test/error-catalogue.test.ts).
 */
import type { ClientRequest, SerializedError, SourceLocation } from "./plugins/worker-protocol.ts";

/** The JSON-RPC error codes Patchbay answers with, by name. */
export const RpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** the SDK's code for every transport-level refusal; the HTTP status says which */
  TransportRefusal: -32000,
  SessionNotFound: -32001,
  ResourceNotFound: -32002,
  HeaderMismatch: -32020,
  MissingRequiredClientCapability: -32021,
  UnsupportedProtocolVersion: -32022,
  RateLimited: -32029,
} as const;
export type RpcCodeValue = (typeof RpcCode)[keyof typeof RpcCode];

export interface RpcCodeInfo {
  code: RpcCodeValue;
  /** its one meaning */
  meaning: string;
  /** who puts it on the wire: Patchbay's own code, or the SDK answering for us */
  by: "patchbay" | "sdk" | "both";
  /** false for a code clients should accept but Patchbay never sends */
  sent?: false;
}

/** Every JSON-RPC code Patchbay answers with, each with its one meaning. */
export const RPC_CODES: readonly RpcCodeInfo[] = [
  { code: RpcCode.ParseError, by: "both", meaning: "Parse error: the body or WebSocket frame is not valid JSON" },
  { code: RpcCode.InvalidRequest, by: "both", meaning: "Invalid Request: the JSON is not a JSON-RPC 2.0 message (or batch) this endpoint accepts — not JSON-RPC, a request id already in flight, nested too deep, a batch where none is allowed, a 2025-era request before initialize" },
  { code: RpcCode.MethodNotFound, by: "sdk", meaning: "Method not found, including methods the 2026-07-28 revision removed (404 on HTTP)" },
  { code: RpcCode.InvalidParams, by: "both", meaning: "Invalid params: params that do not match the method, an unknown tool, prompt, template or resource (then with data.uri), a cursor or requestState the server did not issue, a bad _meta envelope, too many subscriptions, an unknown profile (HTTP 400)" },
  { code: RpcCode.InternalError, by: "both", meaning: "Internal error: the daemon or a plugin failed while answering (resources/read, prompts/get, an unexpected failure)" },
  { code: RpcCode.TransportRefusal, by: "both", meaning: "Transport-level refusal: the request never reached the MCP layer; the HTTP status says why (or, from `patchbay stdio`, the message: the connection to the daemon was lost)" },
  { code: RpcCode.SessionNotFound, by: "both", meaning: "Session not found: an unknown, expired or evicted session id (HTTP 404); initialize again" },
  { code: RpcCode.ResourceNotFound, by: "sdk", sent: false, meaning: "Resource not found, as older servers sent it: Patchbay answers -32602 with data.uri instead; clients should accept both" },
  { code: RpcCode.HeaderMismatch, by: "sdk", meaning: "2026-07-28: an Mcp-Method / Mcp-Name / MCP-Protocol-Version header disagrees with the body" },
  { code: RpcCode.MissingRequiredClientCapability, by: "sdk", meaning: "2026-07-28: answering needs a client capability the request did not declare" },
  { code: RpcCode.UnsupportedProtocolVersion, by: "sdk", meaning: "2026-07-28: unsupported or missing protocol version; data.supported lists the versions served" },
  { code: RpcCode.RateLimited, by: "patchbay", meaning: "Rate limit exceeded: data.retryAfterSeconds says when to retry; the session stays open" },
];

/** How an error is answered on the wire, where it is answered at all. */
export interface ErrorAnswer {
  /** the HTTP status, when it is answered over HTTP */
  status?: number;
  /** the JSON-RPC code, when it is answered as JSON-RPC (one of RPC_CODES) */
  rpc?: RpcCodeValue;
}

export interface CatalogueEntry extends ErrorAnswer {
  /** stable PB_ERR_* code */
  code: string;
  name: string;
}

const entries = new Map<string, CatalogueEntry>();

function register<A extends ErrorAnswer>(code: string, name: string, answer: A): CatalogueEntry & A {
  if (entries.has(code)) throw new Error(`internal: error code ${code} defined twice`);
  const entry = { code, name, ...answer };
  entries.set(code, entry);
  return entry;
}

/** Every entry of the catalogue: the error classes and the named refusals. */
export function errorCatalogue(): CatalogueEntry[] {
  return [...entries.values()];
}

export class PatchbayError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

function define<const A extends ErrorAnswer = {}>(code: string, name: string, answer: A = {} as A) {
  const entry = register(code, name, answer);
  return class extends PatchbayError {
    static readonly code = code;
    static readonly status: A["status"] = entry.status;
    static readonly rpc: A["rpc"] = entry.rpc;
    constructor(message: string, options?: { cause?: unknown }) {
      super(code, message, options);
      this.name = name;
    }
  };
}

// ---- errors thrown across module boundaries ----------------------------------------------

/** The command line is malformed (unknown flag or command, bad value); exit code 2. */
export const UsageError = define("PB_ERR_USAGE", "UsageError");
/** A config file, env var or CLI flag has a bad value; the message names the key. */
export const ConfigError = define("PB_ERR_CONFIG", "ConfigError");
register("PB_ERR_PLUGIN_COMPILE", "PluginCompileError", {});
/** A plugin did not compile; `location` points at file:line when esbuild knew it. */
export class PluginCompileError extends PatchbayError {
  static readonly code = "PB_ERR_PLUGIN_COMPILE";
  constructor(message: string, readonly location?: SourceLocation) {
    super("PB_ERR_PLUGIN_COMPILE", message);
    this.name = "PluginCompileError";
  }
}
register("PB_ERR_PLUGIN_LOAD", "PluginLoadError", {});
/** A plugin compiled but threw while loading, or its default export has the wrong shape. */
export class PluginLoadError extends PatchbayError {
  static readonly code = "PB_ERR_PLUGIN_LOAD";
  /** The thread ended while the plugin loaded: in a worker group, perhaps through another plugin. */
  readonly threadEnded: boolean;
  constructor(message: string, readonly location?: SourceLocation, opts: { threadEnded?: boolean } = {}) {
    super("PB_ERR_PLUGIN_LOAD", message);
    this.name = "PluginLoadError";
    this.threadEnded = opts.threadEnded ?? false;
  }
}
/** A plugin's default export has the wrong shape (thrown in its worker, reported as a PluginLoadError). */
export const PluginShapeError = define("PB_ERR_PLUGIN_SHAPE", "PluginShapeError");
register("PB_ERR_PLUGIN_CALL", "PluginCallError", {});
/** A failed plugin call: the plugin's error with its code and location, or a host error. */
export class PluginCallError extends PatchbayError {
  static readonly code = "PB_ERR_PLUGIN_CALL";
  constructor(readonly detail: SerializedError) {
    super("PB_ERR_PLUGIN_CALL", detail.message);
    this.name = "PluginCallError";
  }
}
/** A plugin source or helper file is a FIFO, socket, device or folder: it is never opened (a FIFO would block the read). */
export const NotRegularFileError = define("PB_ERR_NOT_REGULAR_FILE", "NotRegularFileError");
/** A plugin did not finish compiling or loading within its own deadline at start or reload. */
export const PluginLoadTimeoutError = define("PB_ERR_PLUGIN_LOAD_TIMEOUT", "PluginLoadTimeoutError");
/** The watched plugins folder is missing or cannot be read: nothing from it is served until it comes back. */
export const PluginsFolderUnavailableError = define("PB_ERR_PLUGINS_FOLDER_UNAVAILABLE", "PluginsFolderUnavailableError");
/** A call did not finish within the configured call timeout. */
export const CallTimeoutError = define("PB_ERR_CALL_TIMEOUT", "CallTimeoutError");
/** The worker serving a call died or was restarted before it answered. */
export const WorkerGoneError = define("PB_ERR_WORKER_GONE", "WorkerGoneError");
/** The caller cancelled (notifications/cancelled or a closed session). */
export const CallCancelledError = define("PB_ERR_CALL_CANCELLED", "CallCancelledError");
/**
 * A plugin's question to the client (ctx.sample/elicit/roots) was refused before it was
 * asked: the client did not declare the capability (2025 era; the 2026-07-28 revision answers
 * -32021 instead), too many questions in one call, or not while serving a call.
 * The plugin's `await` throws it.
 */
export const ClientRequestError = define("PB_ERR_CLIENT_REQUEST_REFUSED", "ClientRequestError");
register("PB_ERR_INPUT_REQUIRED", "InputNeeded", {});
/**
 * Not a failure: a plugin asked the client something while serving a 2026-07-28 request.
 * The feature handlers turn it into an `input_required` result.
 */
export class InputNeeded extends PatchbayError {
  static readonly code = "PB_ERR_INPUT_REQUIRED";
  /** `bound`: what the requestState is minted for (target plus a digest of the arguments) */
  constructor(readonly asks: ClientRequest[], readonly answers: Record<string, unknown>, readonly bound?: string) {
    super("PB_ERR_INPUT_REQUIRED", "the plugin asked the client");
    this.name = "InputNeeded";
  }
}
/**
 * A client's config file (Claude Desktop, Cursor, VS Code, …) that `connect` or `import`
 * cannot use: missing where it must exist, not valid JSON, or not the shape that client
 * reads. The message names the file and the problem; nothing was written.
 */
export const ClientConfigError = define("PB_ERR_CLIENT_CONFIG", "ClientConfigError");
/**
 * An upstream server (`NAME.mcp.json`) did not answer `initialize` and its first listing
 * within `upstreamConnectTimeoutMs`; it is shown failed and retried with backoff.
 */
export const UpstreamConnectTimeoutError = define("PB_ERR_UPSTREAM_CONNECT_TIMEOUT", "UpstreamConnectTimeoutError");
/**
 * An upstream server is this daemon itself, or a daemon that relays this one: connecting
 * would relay our own tools back to us, nested deeper with every change. Refused, not
 * retried (until its file is saved again or the daemon restarts).
 */
export const UpstreamLoopError = define("PB_ERR_UPSTREAM_LOOP", "UpstreamLoopError");
/** A message from a stdio upstream server was larger than `upstreamMaxMessageBytes`. */
export const UpstreamMessageTooLargeError = define("PB_ERR_UPSTREAM_MESSAGE_TOO_LARGE", "UpstreamMessageTooLargeError");
/** A second daemon tried to start where one already runs. */
export const AlreadyRunningError = define("PB_ERR_ALREADY_RUNNING", "AlreadyRunningError");
/** Refusing an unsafe setup (e.g. binding a public address without a token). */
export const UnsafeConfigError = define("PB_ERR_UNSAFE_CONFIG", "UnsafeConfigError");
/** `$PATCHBAY_HOME` cannot be created or written (the message names the path, the cause and the fix). */
export const HomeUnusableError = define("PB_ERR_HOME_UNUSABLE", "HomeUnusableError");
/** The stdio bridge cannot reach or start the daemon. */
export const DaemonUnreachableError = define("PB_ERR_DAEMON_UNREACHABLE", "DaemonUnreachableError");
/** A request body went past the configured limit. */
export const BodyTooLargeError = define("PB_ERR_BODY_TOO_LARGE", "BodyTooLargeError", { status: 413, rpc: RpcCode.TransportRefusal });
/** Two handlers registered for one route: a wiring mistake, refused loudly (as Fastify does). */
export const DuplicateRouteError = define("PB_ERR_DUPLICATE_ROUTE", "DuplicateRouteError");
/** The client went away (aborted or reset) before its request body was complete; nobody is left to answer. */
export const RequestAbortedError = define("PB_ERR_REQUEST_ABORTED", "RequestAbortedError");
/**
 * The daemon is shutting down: a call still running when the grace period
 * (`shutdownGraceMs`) ended, or one that arrived during it; a new HTTP request then is refused 503.
 */
export const DaemonShuttingDownError = define("PB_ERR_SHUTTING_DOWN", "DaemonShuttingDownError", { status: 503, rpc: RpcCode.TransportRefusal });

/**
 * An error answered inside MCP as a JSON-RPC error. The SDK puts a thrown error's `code`
 * (when it is a number) and `data` on the wire, so here `code` is the JSON-RPC code and
 * `errorCode` the stable PB_ERR_* code.
 */
export class PatchbayRpcError extends Error {
  constructor(readonly errorCode: string, readonly code: RpcCodeValue, message: string, readonly data?: unknown) {
    super(message);
    this.name = new.target.name;
  }
}
const RATE_LIMITED = register("PB_ERR_RATE_LIMITED", "RateLimitedError", { rpc: RpcCode.RateLimited });
/** A call over a rate limit; `data` holds `retryAfterSeconds` and the limit's scope. */
export class RateLimitedError extends PatchbayRpcError {
  static readonly code = RATE_LIMITED.code;
  static readonly rpc = RATE_LIMITED.rpc;
  constructor(message: string, data: { retryAfterSeconds: number; scope: string }) {
    super(RATE_LIMITED.code, RATE_LIMITED.rpc, message, data);
    this.name = "RateLimitedError";
  }
}

const NOT_INITIALIZED = register("PB_ERR_NOT_INITIALIZED", "NotInitializedError", { rpc: RpcCode.InvalidRequest });
/**
 * A 2025-era request other than `initialize` or `ping` on a connection that has not
 * initialized — most often a legacy SSE client whose EventSource reconnected by itself after
 * its session ended, and would otherwise go on in a session without its capabilities, log
 * level or subscriptions.
 */
export class NotInitializedError extends PatchbayRpcError {
  static readonly code = NOT_INITIALIZED.code;
  static readonly rpc = NOT_INITIALIZED.rpc;
  constructor(method: string) {
    super(NOT_INITIALIZED.code, NOT_INITIALIZED.rpc, `Invalid Request: ${method} before initialize; this connection has not initialized (if it reconnected, its earlier session has ended: initialize again)`);
    this.name = "NotInitializedError";
  }
}

// ---- refusals answered on the wire (never thrown) -----------------------------------------

/**
 * Refusals the transports answer before a request reaches the MCP layer, with their status
 * and JSON-RPC code (sendRefusal in http-server.ts writes them). Those without `rpc` are
 * answered without a JSON-RPC body (Node's own answers, WebSocket upgrades).
 */
export const Refusal = {
  /** body not valid JSON / WebSocket frame not valid JSON (there without a status) */
  ParseError: register("PB_ERR_PARSE", "ParseError", { status: 400, rpc: RpcCode.ParseError }),
  /** JSON that is not a JSON-RPC message this endpoint accepts, or nested too deep */
  InvalidRequest: register("PB_ERR_INVALID_REQUEST", "InvalidRequest", { status: 400, rpc: RpcCode.InvalidRequest }),
  /** a request id still in flight on the same session */
  DuplicateRequestId: register("PB_ERR_DUPLICATE_REQUEST_ID", "DuplicateRequestId", { status: 400, rpc: RpcCode.InvalidRequest }),
  /** no session id (header, or `sessionId` on /messages), or more than one Mcp-Session-Id header */
  SessionRequired: register("PB_ERR_SESSION_REQUIRED", "SessionRequired", { status: 400, rpc: RpcCode.TransportRefusal }),
  /** an unknown, expired or evicted session */
  SessionNotFound: register("PB_ERR_SESSION_NOT_FOUND", "SessionNotFound", { status: 404, rpc: RpcCode.SessionNotFound }),
  /** an HTTP method the endpoint does not serve (with `Allow`) */
  MethodNotAllowed: register("PB_ERR_METHOD_NOT_ALLOWED", "MethodNotAllowed", { status: 405, rpc: RpcCode.TransportRefusal }),
  /** POST /mcp without Accept: application/json, text/event-stream */
  NotAcceptable: register("PB_ERR_NOT_ACCEPTABLE", "NotAcceptable", { status: 406, rpc: RpcCode.TransportRefusal }),
  /** 2025 era: an MCP-Protocol-Version header the server does not speak, after initialize */
  UnsupportedVersionHeader: register("PB_ERR_UNSUPPORTED_VERSION_HEADER", "UnsupportedVersionHeader", { status: 400, rpc: RpcCode.TransportRefusal }),
  /** a second GET stream on one session */
  StreamConflict: register("PB_ERR_STREAM_CONFLICT", "StreamConflict", { status: 409, rpc: RpcCode.TransportRefusal }),
  /** another Content-Type than application/json */
  UnsupportedMediaType: register("PB_ERR_UNSUPPORTED_MEDIA_TYPE", "UnsupportedMediaType", { status: 415, rpc: RpcCode.TransportRefusal }),
  /** foreign Host or Origin (DNS rebinding protection) */
  Forbidden: register("PB_ERR_FORBIDDEN", "Forbidden", { status: 403, rpc: RpcCode.TransportRefusal }),
  /** missing, wrong or malformed token */
  Unauthorized: register("PB_ERR_UNAUTHORIZED", "Unauthorized", { status: 401, rpc: RpcCode.TransportRefusal }),
  /** the session table is full and every session that could go is busy (with Retry-After) */
  TooManySessions: register("PB_ERR_TOO_MANY_SESSIONS", "TooManySessions", { status: 503, rpc: RpcCode.TransportRefusal }),
  /** every 2026-07-28 `subscriptions/listen` stream is open, or one remote address holds as many as it may (with Retry-After) */
  TooManyListenStreams: register("PB_ERR_TOO_MANY_LISTEN_STREAMS", "TooManyListenStreams", { status: 503, rpc: RpcCode.TransportRefusal }),
  /** more live dashboard streams than allowed (plain JSON body, with Retry-After) */
  TooManyDashboardStreams: register("PB_ERR_TOO_MANY_DASHBOARD_STREAMS", "TooManyDashboardStreams", { status: 503 }),
  /** request headers or body not complete in time (Node's answer) */
  RequestTimeout: register("PB_ERR_REQUEST_TIMEOUT", "RequestTimeout", { status: 408 }),
  /** request headers too large (Node's answer) */
  HeadersTooLarge: register("PB_ERR_HEADERS_TOO_LARGE", "HeadersTooLarge", { status: 431 }),
  /** a plain request (no Upgrade) to a WebSocket-only path such as /ws (with `Upgrade: websocket`) */
  UpgradeRequired: register("PB_ERR_UPGRADE_REQUIRED", "UpgradeRequired", { status: 426 }),
  /** WebSocket upgrade without the `mcp` subprotocol, or an unparsable request (Node's answer) */
  BadRequest: register("PB_ERR_BAD_REQUEST", "BadRequest", { status: 400 }),
  /** `?profile=NAME` (or `stdio --profile NAME`) names no profile of the config */
  UnknownProfile: register("PB_ERR_UNKNOWN_PROFILE", "UnknownProfile", { status: 400, rpc: RpcCode.InvalidParams }),
  /** an OAuth discovery document (`/.well-known/oauth-protected-resource` …): there is no authorization server; answered before the token check */
  NoAuthorizationServer: register("PB_ERR_NO_AUTHORIZATION_SERVER", "NoAuthorizationServer", { status: 404 }),
  /** a failure inside the daemon while answering */
  Internal: register("PB_ERR_INTERNAL", "InternalError", { status: 500, rpc: RpcCode.InternalError }),
  /** `patchbay stdio`: the connection to the daemon was lost while a request was in flight */
  DaemonLost: register("PB_ERR_DAEMON_LOST", "DaemonLost", { rpc: RpcCode.TransportRefusal }),
} as const;

/** Turn anything thrown into a message safe to show a user. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === "string") return err;
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}
