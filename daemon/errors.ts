/**
 * The catalogue of every error Patchbay raises across a module boundary.
 * Each has a stable code (as Fastify's FST_ERR_*), so logs, `/healthz` and tests can
 * match on the code instead of on wording.
 */
export class PatchbayError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

function define(code: string, name: string) {
  return class extends PatchbayError {
    static readonly code = code;
    constructor(message: string, options?: { cause?: unknown }) {
      super(code, message, options);
      this.name = name;
    }
  };
}

/** The command line is malformed (unknown flag or command, bad value); exit code 2. */
export const UsageError = define("PB_ERR_USAGE", "UsageError");
/** A config file, env var or CLI flag has a bad value; the message names the key. */
export const ConfigError = define("PB_ERR_CONFIG", "ConfigError");
/** A plugin did not compile; `location` points at file:line when esbuild knew it. */
export class PluginCompileError extends PatchbayError {
  constructor(message: string, readonly location?: SourceLocation) {
    super("PB_ERR_PLUGIN_COMPILE", message);
    this.name = "PluginCompileError";
  }
}
/** A plugin compiled but threw while loading, or its default export has the wrong shape. */
export class PluginLoadError extends PatchbayError {
  constructor(message: string, readonly location?: SourceLocation) {
    super("PB_ERR_PLUGIN_LOAD", message);
    this.name = "PluginLoadError";
  }
}
/** A call did not finish within the configured call timeout. */
export const CallTimeoutError = define("PB_ERR_CALL_TIMEOUT", "CallTimeoutError");
/** The worker serving a call died or was restarted before it answered. */
export const WorkerGoneError = define("PB_ERR_WORKER_GONE", "WorkerGoneError");
/** The caller cancelled (notifications/cancelled or a closed session). */
export const CallCancelledError = define("PB_ERR_CALL_CANCELLED", "CallCancelledError");
/** A second daemon tried to start where one already runs. */
export const AlreadyRunningError = define("PB_ERR_ALREADY_RUNNING", "AlreadyRunningError");
/** Refusing an unsafe setup (e.g. binding a public address without a token). */
export const UnsafeConfigError = define("PB_ERR_UNSAFE_CONFIG", "UnsafeConfigError");
/** The stdio bridge cannot reach or start the daemon. */
export const DaemonUnreachableError = define("PB_ERR_DAEMON_UNREACHABLE", "DaemonUnreachableError");

/** A request body went past the configured limit (answered 413). */
export const BodyTooLargeError = define("PB_ERR_BODY_TOO_LARGE", "BodyTooLargeError");
/** Two handlers registered for one route: a wiring mistake, refused loudly (as Fastify does). */
export const DuplicateRouteError = define("PB_ERR_DUPLICATE_ROUTE", "DuplicateRouteError");

export interface SourceLocation {
  file: string;
  line: number;
  column?: number;
}

/** JSON-RPC / MCP error codes we answer with. */
export const RpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  ResourceNotFound: -32002,
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

/** The client went away (aborted or reset) before its request body was complete; nobody is left to answer. */
export const RequestAbortedError = define("PB_ERR_REQUEST_ABORTED", "RequestAbortedError");

/** The daemon is shutting down: a call still running when the grace period (`shutdownGraceMs`) ended, or one that arrived during it. */
export const DaemonShuttingDownError = define("PB_ERR_SHUTTING_DOWN", "DaemonShuttingDownError");
