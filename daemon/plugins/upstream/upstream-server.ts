/**
 * An upstream MCP server (`NAME.mcp.json`) served as a plugin: the daemon connects to it
 * with the SDK v2 client, lists what it offers into a PluginManifest, and relays calls with
 * progress, cancellation and logging. A stdio upstream is a child process; when the
 * connection ends unexpectedly it is reconnected with exponential backoff, and calls made
 * meanwhile fail at once with a clear error instead of waiting. Resource subscriptions are
 * forwarded on demand: the registry says when a URI gains its first subscriber and loses its
 * last (subscribe/unsubscribe), and the live set is subscribed again after a reconnect.
 */
import { EventEmitter } from "node:events";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "pino";
import { Client, SSEClientTransport, StreamableHTTPClientTransport, TRACEPARENT_META_KEY, type Transport } from "@modelcontextprotocol/client";
import { StdioClientTransport, getDefaultEnvironment } from "@modelcontextprotocol/client/stdio";
import { CallCancelledError, CallTimeoutError, PluginCallError, PluginLoadError, UpstreamConnectTimeoutError, UpstreamLoopError, UpstreamMessageTooLargeError, WorkerGoneError, messageOf } from "../../errors.ts";
import { INSTANCE_HEADER, INSTANCE_ID, parseInstanceHeader, setRelayedIds } from "../../instance.ts";
import { UPSTREAM_CHAIN_ENV, childChainValue, stdioUpstreamLoop } from "../../upstream-chain.ts";
import { installLineReader } from "./upstream-read-buffer.ts";
import { DEFAULT_STDERR_LIMITS, OutputLimiter, type StderrLimits } from "../output-limiter.ts";
import type { CallOptions, CallOutcome, HostCall, PluginHost } from "../host/plugin-host.ts";
import type { PluginManifest, PromptInfo, ResourceInfo, ResourceTemplateInfo, ToolInfo } from "../manifest.ts";
import { expandRecord, expandVars, type UpstreamConfig } from "./upstream-config.ts";
import { randomBytes } from "node:crypto";
import { CALL_META_KEY, ownSignalFetch, routingFetch, takeCallKey } from "./upstream-routing.ts";
import { NOOP_LEG, startUpstreamSpan, type UpstreamLeg } from "../../telemetry/upstream-span.ts";
import { GUARDED, findCommand, guardedCommand, signalGroup } from "./upstream-launch.ts";

/** Reconnect delays: 500 ms doubling to a 30 s cap; the count resets after 30 s connected. */
export const RESTART_BASE_MS = 500;
export const RESTART_MAX_MS = 30_000;
export const RESTART_STABLE_MS = 30_000;
/** the MCP method each kind of call is upstream (for the CLIENT span) */
const LEG_METHOD: Partial<Record<HostCall["kind"], UpstreamLeg["method"]>> = { tool: "tools/call", resource: "resources/read", template: "resources/read", prompt: "prompts/get", complete: "completion/complete" };
/** the SDK's own request timer, kept out of the way (setTimeout's largest delay) */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** defaults of the config keys upstreamConnectTimeoutMs and upstreamMaxMessageBytes */
export const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** what the SDK's stdio reader says when a line outgrows its buffer (it then closes the connection) */
const READ_BUFFER_EXCEEDED = /ReadBuffer exceeded maximum size/;

function isTimeout(err: unknown): boolean {
  return /timed? ?out/i.test(messageOf(err));
}

const mib = (bytes: number) => `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MiB`;

/**
 * A failure of the connection itself (no route, refused, the session forgotten) rather than
 * an error the server answered with: JSON-RPC errors carry numeric codes, the SDK's
 * transport errors string codes, fetch failures none.
 */
function isTransportFailure(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "number") return false;
  return !/timed? ?out|abort/i.test(messageOf(err));
}

export interface UpstreamServerOptions {
  file: string;
  name: string;
  config: UpstreamConfig;
  callTimeoutMs: number;
  /** initialize and the first listing must be answered within this (default 15 s) */
  connectTimeoutMs?: number;
  /** the largest message a stdio upstream may send (default 64 MiB) */
  maxMessageBytes?: number;
  /** how much of a stdio upstream's stderr reaches the log */
  stderrLimits?: StderrLimits;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  version?: string;
  /** where the last listing is kept, and the digest of the config it belongs to */
  cache?: { file: string; key: string };
}

export interface UpstreamStatus {
  transport: "stdio" | "streamable-http" | "sse";
  /** refused: a loop back to this daemon (not retried) */
  state: "connecting" | "connected" | "restarting" | "stopped" | "refused";
  pid?: number;
  restarts: number;
  lastExit?: string;
  nextRetryAt?: string;
}

export interface UpstreamServerEvents {
  /** the upstream's lists changed (list_changed, or a reconnect): the new manifest */
  manifest: [manifest: PluginManifest];
  "resource-updated": [uri: string];
  /** the connection ended and a reconnect is scheduled (ok false), or it came back (ok true); refused: a loop, not retried */
  restarted: [info: { reason: string; ok: boolean; error?: string; refused?: boolean }];
}

interface Inflight {
  opts: CallOptions;
  /** the call's key in _meta (Streamable HTTP upstreams; see upstream-routing.ts) */
  key?: string;
  /** aborted when the call is over: its pending asks are refused */
  ended: AbortController;
  /** answers recorded in earlier input_required rounds (2026-07-28 callers), by key */
  answers?: Record<string, unknown>;
  asked: number;
}

export class UpstreamServer extends EventEmitter<UpstreamServerEvents> implements PluginHost {
  heapUsed = 0;
  manifest?: PluginManifest;
  private client?: Client;
  private transport?: Transport;
  private transportKind: UpstreamStatus["transport"];
  private state: UpstreamStatus["state"] = "connecting";
  private restarts = 0;
  private failures = 0;
  private connectedAt = 0;
  /** the stdio child's pid, kept after it exits (its process group may outlive it) */
  private childPid?: number;
  /** the current stdio child's stderr (its last line explains a child that exited at once) */
  private stderr?: OutputLimiter;
  private lastExit?: string;
  private retryTimer?: NodeJS.Timeout;
  private nextRetryAt?: number;
  private stopped = false;
  private stopError?: Error;
  private calls = new Set<Inflight>();
  private drainWaiters: (() => void)[] = [];
  private relisting?: Promise<void>;
  /** progress handlers by the token this server put in the call's _meta (see call) */
  private progress = new Map<string, (p: { progress: number; total?: number; message?: string }) => void>();
  private progressSeq = 0;
  /** calls in flight by their routing key */
  private byKey = new Map<string, Inflight>();
  /** URIs some client is subscribed to (the registry counts them): what the upstream is asked to send updates for */
  private subscribed = new Set<string>();

  constructor(private readonly opts: UpstreamServerOptions) {
    super();
    this.transportKind = "command" in opts.config ? "stdio" : "streamable-http";
  }

  get inflight(): number {
    return this.calls.size;
  }

  status(): UpstreamStatus {
    return {
      transport: this.transportKind,
      state: this.state,
      pid: this.transport instanceof StdioClientTransport ? (this.transport.pid ?? undefined) : undefined,
      restarts: this.restarts,
      lastExit: this.lastExit,
      nextRetryAt: this.nextRetryAt && this.state === "restarting" ? new Date(this.nextRetryAt).toISOString() : undefined,
    };
  }

  /** Connects and lists; rejects with PluginLoadError (a loop back to this daemon included, which is not retried). */
  async start(): Promise<PluginManifest> {
    this.connectFailed = undefined;
    try {
      this.manifest = await this.connectAndList();
      this.writeCachedManifest(this.manifest);
      this.state = "connected";
      this.everConnected = true;
      setRelayedIds(this, this.upstreamIds);
      this.resubscribe();
      return this.manifest;
    } catch (caught) {
      await this.closeClient();
      const err = this.asLoop(caught);
      if (err instanceof UpstreamLoopError) {
        this.opts.logger.error({ code: err.code }, err.message);
        throw new PluginLoadError(`${this.opts.file}: ${err.message}`, { file: this.opts.file, line: 1 });
      }
      if (!(err instanceof PluginLoadError)) this.connectFailed = err;
      throw err instanceof PluginLoadError ? err : new PluginLoadError(`${this.opts.file}: could not connect to the upstream server: ${messageOf(err)}${this.stderrHint()}`, { file: this.opts.file, line: 1 });
    }
  }

  /**
   * A stdio child that exited saying it refused a loop (a Patchbay bridge attached to this
   * very daemon: upstream-chain.ts, on the child's side) is a loop here too, not retried.
   */
  private asLoop(err: unknown): unknown {
    const line = this.stderr?.lastLine;
    if (err instanceof UpstreamLoopError || !line) return err;
    const at = line.indexOf("loop refused: ");
    return at >= 0 ? new UpstreamLoopError(line.slice(at)) : err;
  }

  /** What the child last said on stderr, for a connect failure (only "Connection closed" otherwise). */
  private stderrHint(): string {
    const line = "command" in this.opts.config ? this.stderr?.lastLine : undefined;
    return line ? ` (its last stderr line: ${line})` : "";
  }

  /**
   * connect and list under the connect deadline (upstreamConnectTimeoutMs: a server that never
   * answers initialize held the daemon's start-up for callTimeoutMs, 60 s), refusing a loop
   * back to this daemon as soon as an answer names it.
   */
  private async connectAndList(): Promise<PluginManifest> {
    await this.connect();
    this.checkLoop();
    const client = this.client;
    const manifest = await this.list(this.connectTimeoutMs, true);
    this.checkLoop();
    // the connection ended while it was being listed (onLost leaves that to us)
    if (!client || this.client !== client) throw new Error(this.oversized && this.oversized === client ? this.tooLarge("the listing") : "Connection closed");
    return manifest;
  }

  private get connectTimeoutMs(): number {
    return this.opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  }

  private get maxMessageBytes(): number {
    return this.opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  private tooLarge(what: string): string {
    return `a message from the upstream server (${what}) was larger than ${mib(this.maxMessageBytes)} (upstreamMaxMessageBytes); a stdio message is one line, read whole`;
  }

  /**
   * What an error during connect or listing means: a message over the size limit (the SDK
   * only says "Connection closed", having closed the connection itself), or the deadline.
   */
  private explain(err: unknown, client: Client | undefined, method: string): unknown {
    if (err instanceof PluginLoadError || err instanceof UpstreamLoopError) return err;
    if (client && this.oversized === client) return new UpstreamMessageTooLargeError(this.tooLarge(`the ${method} answer`));
    if (isTimeout(err)) return new UpstreamConnectTimeoutError(`the upstream server did not answer ${method} within ${this.connectTimeoutMs} ms (upstreamConnectTimeoutMs)`);
    return err;
  }

  /** ids the upstream's last HTTP answer named (X-Patchbay-Instance: it is a Patchbay daemon) */
  private upstreamIds?: string[];
  /** the client whose stdio reader refused a message over maxMessageBytes */
  private oversized?: Client;

  /** A fetch that reads who answered (instance.ts) from every answer of the upstream. */
  private instanceFetch(): typeof fetch {
    return async (input, init) => {
      const res = await fetch(input, init);
      try {
        this.sawIds(parseInstanceHeader(res.headers.get(INSTANCE_HEADER)));
      } catch (err) {
        this.opts.logger.debug({ err: messageOf(err) }, "loop check failed");
      }
      return res;
    };
  }

  private sawIds(ids: string[]) {
    this.upstreamIds = ids.length ? ids : undefined;
    if (this.state !== "connected") return;
    // a live connection: the upstream may have started relaying us since (A → B, then B → A)
    if (ids.includes(INSTANCE_ID)) return this.refuseLoop(this.loopError());
    setRelayedIds(this, this.upstreamIds);
  }

  private loopError(): InstanceType<typeof UpstreamLoopError> {
    const ids = this.upstreamIds ?? [];
    const where = "url" in this.opts.config ? this.opts.config.url : this.opts.file;
    const me = INSTANCE_ID.slice(0, 8);
    return new UpstreamLoopError(
      ids[0] === INSTANCE_ID
        ? `loop refused: ${where} is this Patchbay daemon itself (instance ${me}); an upstream must be another server`
        : `loop refused: ${where} is a Patchbay daemon (instance ${ids[0]?.slice(0, 8)}) that relays this one (instance ${me}); relaying it back would nest tools without end`,
    );
  }

  private checkLoop() {
    if (this.upstreamIds?.includes(INSTANCE_ID)) throw this.loopError();
  }

  /** A loop found on a live or reconnecting connection: closed, its tools gone, not retried. */
  private refuseLoop(err: InstanceType<typeof UpstreamLoopError>) {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.state = "refused";
    this.lastExit = err.message;
    this.nextRetryAt = undefined;
    setRelayedIds(this, undefined);
    this.opts.logger.error({ code: err.code }, err.message);
    void this.closeClient();
    this.manifest = { name: this.opts.name, tools: [], resources: [], resourceTemplates: [], prompts: [] };
    this.emit("manifest", this.manifest);
    this.emit("restarted", { reason: "loop", ok: false, error: err.message, refused: true });
  }

  /**
   * For a first load: connects like start(), but when the server cannot be reached (a config
   * error still rejects) it keeps retrying with the reconnect backoff and resolves at once
   * with an empty manifest; the real one follows as a "manifest" event once it connects.
   */
  async startRetrying(): Promise<PluginManifest> {
    try {
      return await this.start();
    } catch (err) {
      if (err instanceof PluginLoadError && !this.connectFailed) throw err;
      // what this server offered when it last answered (same file, same values): clients see
      // its tools, and calls get a tool error naming the next try rather than "unknown tool"
      this.manifest = this.readCachedManifest() ?? { name: this.opts.name, tools: [], resources: [], resourceTemplates: [], prompts: [] };
      this.scheduleReconnect(`could not connect: ${messageOf(this.connectFailed ?? err)}`);
      return this.manifest;
    }
  }

  private readCachedManifest(): PluginManifest | undefined {
    const { cache } = this.opts;
    if (!cache) return undefined;
    try {
      const saved = JSON.parse(readFileSync(cache.file, "utf8")) as { key?: string; manifest?: PluginManifest };
      return saved.key === cache.key && saved.manifest?.name === this.opts.name ? saved.manifest : undefined;
    } catch {
      return undefined;
    }
  }

  private writeCachedManifest(manifest: PluginManifest): void {
    const { cache } = this.opts;
    if (!cache) return;
    try {
      mkdirSync(dirname(cache.file), { recursive: true });
      const tmp = `${cache.file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify({ key: cache.key, manifest }));
      renameSync(tmp, cache.file);
    } catch (err) {
      this.opts.logger.debug({ err: messageOf(err) }, "could not cache the upstream listing");
    }
  }

  /** why the connection (not the config) failed on the last attempt */
  private connectFailed?: unknown;

  /** set once a connection was listed: later successes count as restarts */
  private everConnected = false;

  private makeClient(): Client {
    const client = new Client({ name: "patchbay", version: this.opts.version ?? "0" }, { capabilities: { sampling: {}, elicitation: { form: {} }, roots: {} } });
    // The SDK's stdio reader refuses a line longer than its buffer and closes the connection;
    // what follows says only "Connection closed". Remember why, to say it (explain, onLost).
    client.onerror = (err) => {
      if (READ_BUFFER_EXCEEDED.test(messageOf(err))) this.oversized = client;
    };
    // server→client requests go to the client whose call caused them (see ask)
    client.setRequestHandler("sampling/createMessage", (r) => this.ask("sampling/createMessage", r.params as Record<string, unknown>) as never);
    client.setRequestHandler("elicitation/create", (r) => this.ask("elicitation/create", r.params as Record<string, unknown>) as never);
    client.setRequestHandler("roots/list", (r) => this.ask("roots/list", r.params as Record<string, unknown> | undefined) as never);
    // The SDK's own progress routing dispatches a progress notification a microtask after it
    // handles the response that follows it in the same read, by which time it has dropped the
    // handler: the last step of a fast upstream was lost. Our tokens are looked up here
    // instead, and the map entry outlives the response by those microtasks.
    client.setNotificationHandler("notifications/progress", (n) => {
      const { progressToken, ...p } = n.params;
      this.progress.get(String(progressToken))?.(p);
    });
    client.setNotificationHandler("notifications/tools/list_changed", () => this.relist());
    client.setNotificationHandler("notifications/prompts/list_changed", () => this.relist());
    client.setNotificationHandler("notifications/resources/list_changed", () => this.relist());
    client.setNotificationHandler("notifications/resources/updated", (n) => {
      this.emit("resource-updated", n.params.uri);
    });
    client.setNotificationHandler("notifications/message", (n) => {
      const { key, params } = takeCallKey(n.params as Record<string, unknown>);
      const { level, data, logger } = params as typeof n.params;
      // Over Streamable HTTP a log sent on a call's stream names that call (upstream-routing.ts).
      // Otherwise (stdio, the standalone stream) nothing says which call it belongs to: it
      // reaches a client only when exactly one call is running.
      const owner = key !== undefined ? this.byKey.get(key) : this.calls.size === 1 ? [...this.calls][0] : undefined;
      if (owner?.opts.onClientLog) owner.opts.onClientLog(level, data);
      else this.opts.logger.debug({ level, logger, data }, "upstream log message");
    });
    return client;
  }

  /**
   * A server→client request from the upstream. Over Streamable HTTP, one sent on a call's
   * stream names that call (upstream-routing.ts) and goes to its client. Otherwise (stdio,
   * the standalone stream) nothing says which call it belongs to, so it goes to the most
   * recent call in flight whose client can answer; with none it is refused. Keys are `u0`, `u1`, … by ask order
   * within the call, so a 2026-07-28 retry's recorded answers are replayed without asking again.
   */
  private async ask(method: "sampling/createMessage" | "elicitation/create" | "roots/list", raw: Record<string, unknown> | undefined): Promise<unknown> {
    const { key: callKey, params: stripped } = takeCallKey(raw);
    const params = method === "roots/list" ? undefined : stripped;
    const named = callKey !== undefined ? this.byKey.get(callKey) : undefined;
    const call = named?.opts.onClientRequest ? named : [...this.calls].reverse().find((c) => c.opts.onClientRequest);
    if (!call) throw new Error(`${method}: no client call is in flight to answer it`);
    const key = `u${call.asked++}`;
    if (call.answers && Object.hasOwn(call.answers, key)) return call.answers[key];
    // a 2026-07-28 ask never settles (the call ends with input_required instead): answer the
    // upstream with an error once the call is over, rather than leave its request hanging
    const ended = new Promise<never>((_, reject) => call.ended.signal.addEventListener("abort", () => reject(new Error(`${method}: the call it belonged to has ended`)), { once: true }));
    return Promise.race([call.opts.onClientRequest!({ key, method, params }), ended]);
  }

  private async connect(): Promise<void> {
    const { config, file } = this.opts;
    const env = this.opts.env ?? process.env;
    const client = this.makeClient();
    let transport: Transport;
    if ("command" in config) {
      const args = (config.args ?? []).map((a, i) => expandVars(a, env, `args[${i}]`, file));
      // a Patchbay started as this upstream (stdio --standalone, or the attached bridge) must
      // not come back to this daemon or start itself again: upstream-chain.ts
      const loop = stdioUpstreamLoop(file, env);
      if (loop) throw new UpstreamLoopError(loop);
      const childEnv: Record<string, string> = { ...getDefaultEnvironment(), ...expandRecord(config.env, env, "env", file), [UPSTREAM_CHAIN_ENV]: childChainValue(file, env) };
      // the launcher's shell would only say "not found" on stderr: say it here, clearly
      if (GUARDED && !findCommand(config.command, childEnv.PATH, config.cwd)) {
        throw new PluginLoadError(`${file}: command "${config.command}" is not ${/[\\/]/.test(config.command) ? "an executable file" : "on PATH"}`, { file, line: 1 });
      }
      const launch = guardedCommand(config.command, args);
      const stdio = new StdioClientTransport({ command: launch.command, args: launch.args, env: childEnv, cwd: config.cwd, stderr: "pipe", maxBufferSize: this.maxMessageBytes });
      // the SDK's reader copies the whole buffer per chunk: a 20 MB listing took 11 s (upstream-read-buffer.ts)
      installLineReader(stdio, this.maxMessageBytes);
      const err = stdio.stderr;
      if (err) {
        // rate-limited per upstream: a flooding server must not flood the log (output-limiter.ts)
        const limiter = new OutputLimiter(this.opts.logger, this.opts.stderrLimits ?? DEFAULT_STDERR_LIMITS);
        this.stderr = limiter;
        err.on("data", (chunk: Buffer | string) => limiter.write(chunk));
        err.on("end", () => limiter.end());
      }
      transport = stdio;
      await this.connectOrClose(client, transport);
    } else {
      const headers = expandRecord(config.headers, env, "headers", file);
      const url = new URL(config.url);
      try {
        transport = new StreamableHTTPClientTransport(url, { requestInit: { headers }, fetch: routingFetch(ownSignalFetch(this.instanceFetch(), (key) => this.byKey.get(key)?.ended.signal)) });
        await client.connect(transport, { timeout: this.connectTimeoutMs });
        this.transportKind = "streamable-http";
      } catch (err) {
        // a server that does not answer in time would not answer SSE sooner: say so now
        if (isTimeout(err)) {
          await client.close().catch(() => undefined);
          throw this.explain(err, client, "initialize");
        }
        this.opts.logger.info({ err: messageOf(err) }, "Streamable HTTP failed; trying SSE");
        await client.close().catch(() => undefined);
        const sse = this.makeClient();
        transport = new SSEClientTransport(url, { requestInit: { headers }, fetch: ownSignalFetch(this.instanceFetch()) });
        await this.connectOrClose(sse, transport);
        this.transportKind = "sse";
        return this.adopt(sse, transport);
      }
    }
    this.adopt(client, transport);
  }

  /**
   * Connects, or closes both sides and rethrows. Not adopted yet, so closeClient would not
   * reach them: a failed stdio start would keep its child running, a failed SSE attempt its
   * EventSource retrying.
   */
  private async connectOrClose(client: Client, transport: Transport): Promise<void> {
    try {
      await client.connect(transport, { timeout: this.connectTimeoutMs });
    } catch (err) {
      await client.close().catch(() => undefined);
      await transport.close().catch(() => undefined);
      throw this.explain(err, client, "initialize");
    }
  }

  private adopt(client: Client, transport: Transport) {
    // "connected" (callable) only once the listing succeeded: a call that lands earlier would
    // see a half-started server, and the restart counter would lag behind what clients see
    this.client = client;
    this.transport = transport;
    this.connectedAt = Date.now();
    this.childPid = transport instanceof StdioClientTransport ? (transport.pid ?? undefined) : undefined;
    client.onclose = () => {
      if (this.client === client) this.onLost(client);
    };
    if (client.getServerCapabilities()?.logging) void client.setLoggingLevel("debug").catch(() => undefined);
    this.opts.logger.info({ transport: this.transportKind, pid: this.status().pid }, "upstream server connected");
  }

  /**
   * Lists everything (following pagination) into a manifest; each request within
   * `timeoutMs` (the connect deadline while connecting, else the call timeout).
   */
  private async list(timeoutMs = this.opts.callTimeoutMs, connecting = false): Promise<PluginManifest> {
    const client = this.client!;
    const caps = client.getServerCapabilities() ?? {};
    const all = async <T>(page: (cursor?: string) => Promise<{ nextCursor?: string } & Record<string, unknown>>, key: string): Promise<T[]> => {
      const out: T[] = [];
      let cursor: string | undefined;
      const method = `${key === "resourceTemplates" ? "resources/templates" : key}/list`;
      for (let i = 0; i < 1000; i++) {
        let r;
        try {
          r = await page(cursor);
        } catch (err) {
          const why = this.explain(err, client, method);
          throw why instanceof UpstreamConnectTimeoutError && !connecting ? err : why;
        }
        out.push(...((r[key] as T[]) ?? []));
        if (!r.nextCursor || r.nextCursor === cursor) break;
        cursor = r.nextCursor;
      }
      return out;
    };
    const o = { timeout: timeoutMs };
    const tools = caps.tools ? await all<Record<string, any>>((cursor) => client.listTools({ cursor }, { ...o, cacheMode: "bypass" }) as never, "tools") : [];
    const resources = caps.resources ? await all<Record<string, any>>((cursor) => client.listResources({ cursor }, { ...o, cacheMode: "bypass" }) as never, "resources") : [];
    const templates = caps.resources ? await all<Record<string, any>>((cursor) => client.listResourceTemplates({ cursor }, { ...o, cacheMode: "bypass" }) as never, "resourceTemplates") : [];
    const prompts = caps.prompts ? await all<Record<string, any>>((cursor) => client.listPrompts({ cursor }, { ...o, cacheMode: "bypass" }) as never, "prompts") : [];
    const completable = Boolean(caps.completions);
    const server = client.getServerVersion();
    return {
      name: this.opts.name,
      version: server?.version,
      description: server?.name ? `upstream MCP server ${server.name}` : undefined,
      tools: tools.map((t): ToolInfo => ({ name: t.name, title: t.title, description: t.description, inputSchema: t.inputSchema ?? { type: "object" }, outputSchema: t.outputSchema, annotations: t.annotations })),
      resources: resources.map((r): ResourceInfo => ({ uri: r.uri, name: r.name, title: r.title, description: r.description, mimeType: r.mimeType })),
      resourceTemplates: templates.map((t): ResourceTemplateInfo => ({ uriTemplate: t.uriTemplate, name: t.name, title: t.title, description: t.description, mimeType: t.mimeType, listable: false, completable: completable ? [...String(t.uriTemplate).matchAll(/\{[+#./;?&]?([^}]+)\}/g)].flatMap((m) => m[1].split(",")) : [] })),
      prompts: prompts.map((p): PromptInfo => ({ name: p.name, title: p.title, description: p.description, arguments: p.arguments ?? [], completable: completable ? (p.arguments ?? []).map((a: { name: string }) => a.name) : [] })),
    };
  }

  private relist() {
    if (this.relisting || this.stopped) return;
    this.relisting = this.list()
      .then((m) => {
        this.manifest = m;
        this.writeCachedManifest(m);
        this.emit("manifest", m);
      })
      .catch((err) => this.opts.logger.warn({ err: messageOf(err) }, "re-listing the upstream server failed"))
      .finally(() => (this.relisting = undefined));
  }

  private onLost(client: Client) {
    if (this.stopped) return;
    // while connecting or listing, the attempt in progress fails and schedules the next itself
    // (both scheduling gave two timers, and two racing attempts every time after)
    if (this.state !== "connected") {
      if (this.client === client) this.client = undefined;
      return;
    }
    setRelayedIds(this, undefined);
    const code = this.oversized === client ? this.tooLarge("while connected") : this.transport instanceof StdioClientTransport ? "the child process exited" : "the connection closed";
    this.client = undefined;
    void client.close().catch(() => undefined);
    signalGroup(this.childPid, "SIGTERM");
    if (Date.now() - this.connectedAt >= RESTART_STABLE_MS) this.failures = 0;
    this.scheduleReconnect(code);
  }

  private scheduleReconnect(reason: string) {
    if (this.stopped || this.state === "refused") return;
    clearTimeout(this.retryTimer);
    const wait = Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** this.failures);
    this.failures++;
    this.state = "restarting";
    this.lastExit = `${reason} at ${new Date().toISOString()}`;
    this.nextRetryAt = Date.now() + wait;
    this.opts.logger.error({ reason, retryInMs: wait }, "upstream server went away; reconnecting");
    this.emit("restarted", { reason, ok: false, error: `${reason}; reconnecting in ${wait} ms` });
    this.retryTimer = setTimeout(() => void this.reconnect(), wait);
    this.retryTimer.unref();
  }

  private async reconnect() {
    if (this.stopped || this.state === "refused") return;
    this.state = "connecting";
    try {
      const m = await this.connectAndList();
      if (this.stopped) return void (await this.closeClient());
      setRelayedIds(this, this.upstreamIds);
      if (this.everConnected) this.restarts++;
      this.everConnected = true;
      this.state = "connected";
      this.manifest = m;
      this.writeCachedManifest(m);
      // a new connection (a new child, a new session) has no subscriptions: the live set again
      this.resubscribe();
      this.emit("manifest", m);
      this.emit("restarted", { reason: "reconnected", ok: true });
    } catch (err) {
      await this.closeClient();
      const why = this.asLoop(err);
      if (why instanceof UpstreamLoopError) return this.refuseLoop(why);
      this.scheduleReconnect(`reconnect failed: ${messageOf(err)}${this.stderrHint()}`);
    }
  }

  /** The first client subscribed to `uri`: asked of the upstream now if connected, else once it is. */
  subscribe(uri: string): void {
    if (this.subscribed.has(uri) || this.stopped) return;
    this.subscribed.add(uri);
    this.forward("subscribe", uri);
  }

  /** The last subscriber of `uri` left: the upstream stops sending its updates. */
  unsubscribe(uri: string): void {
    if (!this.subscribed.delete(uri) || this.stopped) return;
    this.forward("unsubscribe", uri);
  }

  /** Every URI some client is subscribed to, on a connection that just came up. */
  private resubscribe() {
    for (const uri of this.subscribed) this.forward("subscribe", uri);
  }

  /** Only to a connected upstream that offers subscriptions; a failure is logged, never thrown (no client waits for it). */
  private forward(what: "subscribe" | "unsubscribe", uri: string) {
    const client = this.client;
    if (!client || this.state !== "connected" || !client.getServerCapabilities()?.resources?.subscribe) return;
    const sent = what === "subscribe" ? client.subscribeResource({ uri }, { timeout: this.opts.callTimeoutMs }) : client.unsubscribeResource({ uri }, { timeout: this.opts.callTimeoutMs });
    sent.catch((err) => this.opts.logger.warn({ uri, err: messageOf(err) }, `resources/${what} upstream failed`));
  }

  async call(req: HostCall, opts: CallOptions = {}): Promise<CallOutcome> {
    const client = this.client;
    if (this.stopped) throw this.stopError ?? new WorkerGoneError(`upstream server ${this.opts.name} was unloaded`);
    if (!client || this.state !== "connected") {
      const when = this.nextRetryAt ? `; next attempt in ${Math.max(0, Math.ceil((this.nextRetryAt - Date.now()) / 1000))} s` : "";
      throw new WorkerGoneError(`upstream server ${this.opts.name} is not connected (${this.lastExit ?? "connecting"})${when}`);
    }
    if (opts.signal?.aborted) throw new CallCancelledError("request cancelled");
    const entry: Inflight = { opts, answers: req.answers, asked: 0, ended: new AbortController(), key: this.transportKind === "streamable-http" ? `c${++this.progressSeq}-${randomBytes(6).toString("hex")}` : undefined };
    this.calls.add(entry);
    if (entry.key) this.byKey.set(entry.key, entry);
    const timeout = opts.timeoutMs ?? this.opts.callTimeoutMs;
    // the call's timeout is ours (restarted by each progress step), because progress is
    // routed by our own token rather than the SDK's (see makeClient)
    const expiry = new AbortController();
    let timedOut = false;
    const expire = () => {
      timedOut = true;
      expiry.abort(new CallTimeoutError(`upstream server ${this.opts.name} did not answer within ${timeout} ms`));
    };
    let timer = setTimeout(expire, timeout);
    const token = opts.onProgress ? `pb-${++this.progressSeq}` : undefined;
    if (token) {
      this.progress.set(token, (p) => {
        clearTimeout(timer);
        timer = setTimeout(expire, timeout);
        opts.onProgress!({ progress: p.progress, total: p.total, message: p.message });
      });
    }
    // the caller's cancel reaches the request through expiry, by a listener removed when the
    // call ends (AbortSignal.any would keep the pair linked until both are collected)
    const callerSignal = opts.signal;
    const onCallerAbort = () => expiry.abort(callerSignal?.reason);
    callerSignal?.addEventListener("abort", onCallerAbort, { once: true });
    const ro = { signal: expiry.signal, timeout: MAX_TIMER_MS };
    const method = LEG_METHOD[req.kind];
    const leg = !method ? NOOP_LEG : startUpstreamSpan({
      method,
      target: req.kind === "resource" || req.kind === "template" ? (req.uri ?? req.target) : req.target,
      parent: req.traceparent,
      plugin: this.opts.name,
      transport: this.transportKind,
      url: "url" in this.opts.config ? this.opts.config.url : undefined,
      protocolVersion: client.getNegotiatedProtocolVersion(),
      sessionId: (this.transport as { sessionId?: string } | undefined)?.sessionId,
    });
    let errorType: string | undefined;
    // the upstream's spans are children of this leg's CLIENT span
    const traceparent = leg.traceparent ?? req.traceparent;
    let _meta: Record<string, unknown> | undefined = traceparent || token ? {} : undefined;
    if (traceparent) _meta![TRACEPARENT_META_KEY] = traceparent;
    if (token) _meta!.progressToken = token;
    if (entry.key) (_meta ?? (_meta = {}))[CALL_META_KEY] = entry.key;
    try {
      switch (req.kind) {
        case "tool": {
          const value = await client.callTool({ name: req.target, arguments: req.args ?? {}, _meta }, ro);
          if ((value as { isError?: boolean }).isError) errorType = "tool_error";
          return { value };
        }
        case "resource":
        case "template":
          return { value: await client.readResource({ uri: req.uri ?? req.target, _meta }, { ...ro, cacheMode: "bypass" }) };
        case "prompt":
          return { value: await client.getPrompt({ name: req.target, arguments: (req.args ?? {}) as Record<string, string>, _meta }, ro) };
        case "complete": {
          const a = (req.args ?? {}) as { refType?: string; argName?: string; value?: string };
          const ref = a.refType === "prompt" ? { type: "ref/prompt" as const, name: req.target } : { type: "ref/resource" as const, uri: req.target };
          const r = await client.complete({ ref, argument: { name: a.argName ?? "", value: a.value ?? "" } }, ro);
          return { value: r.completion.values };
        }
        case "list-template":
          return { value: [] };
        default:
          throw new PluginCallError({ message: `unsupported call kind ${String(req.kind)}` });
      }
    } catch (err) {
      errorType = opts.signal?.aborted ? "cancelled" : timedOut ? "timeout" : typeof (err as { code?: unknown }).code === "number" ? String((err as { code: number }).code) : "upstream_unavailable";
      if (opts.signal?.aborted) throw new CallCancelledError("request cancelled");
      if (this.oversized === client) throw new UpstreamMessageTooLargeError(`upstream server ${this.opts.name}: ${this.tooLarge(`while answering ${method ?? req.kind}`)}`);
      if (timedOut) throw new CallTimeoutError(`upstream server ${this.opts.name} did not answer within ${timeout} ms`);
      if (err instanceof PluginCallError) throw err;
      const msg = messageOf(err);
      // A remote server that went away (or restarted and forgot our session) shows up only
      // as failed requests: treat it as a lost connection and reconnect with backoff.
      if (this.transportKind !== "stdio" && isTransportFailure(err) && this.client === client) {
        this.onLost(client);
        throw new WorkerGoneError(`upstream server ${this.opts.name} is unreachable: ${msg}`);
      }
      if (/timed? ?out/i.test(msg) && !this.client) throw new WorkerGoneError(`upstream server ${this.opts.name}: ${msg}`);
      if (/timed? ?out/i.test(msg)) throw new CallTimeoutError(`upstream server ${this.opts.name} did not answer within ${timeout} ms`);
      if (this.client !== client) throw new WorkerGoneError(`upstream server ${this.opts.name} went away during the call: ${msg}`);
      throw new PluginCallError({ message: msg, code: (err as { code?: number }).code });
    } finally {
      leg.end(errorType);
      clearTimeout(timer);
      callerSignal?.removeEventListener("abort", onCallerAbort);
      if (token) this.progress.delete(token);
      if (entry.key) this.byKey.delete(entry.key);
      entry.ended.abort();
      this.calls.delete(entry);
      if (this.calls.size === 0) this.drainWaiters.splice(0).forEach((r) => r());
    }
  }

  async probe(timeoutMs = 1_000): Promise<boolean> {
    const pid = this.status().pid;
    if (pid) {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
        if (m) this.heapUsed = Number(m[1]) * 1024;
      } catch {
        // not Linux, or the child is gone
      }
    }
    const client = this.client;
    if (!client) return false;
    try {
      await client.ping({ timeout: timeoutMs });
      return true;
    } catch (err) {
      if (this.transportKind !== "stdio" && isTransportFailure(err) && this.client === client && !this.stopped) this.onLost(client);
      return false;
    }
  }

  async stop(graceMs: number, failWith?: Error): Promise<void> {
    if (failWith) this.stopError = failWith;
    if (this.stopped) return this.closeClient();
    this.stopped = true;
    this.state = "stopped";
    clearTimeout(this.retryTimer);
    if (this.calls.size > 0) {
      await new Promise<void>((resolve) => {
        this.drainWaiters.push(resolve);
        setTimeout(resolve, graceMs).unref();
      });
    }
    await this.closeClient();
  }

  private async closeClient() {
    setRelayedIds(this, undefined);
    const client = this.client;
    const transport = this.transport;
    this.client = undefined;
    if (client) client.onclose = undefined;
    const pid = transport instanceof StdioClientTransport ? (transport.pid ?? undefined) : undefined;
    // closing the stdio transport ends the child (stdin closed, then SIGTERM, then SIGKILL);
    // what the child started itself is in its process group
    await client?.close().catch(() => undefined);
    await transport?.close().catch(() => undefined);
    signalGroup(pid, "SIGTERM");
  }
}
