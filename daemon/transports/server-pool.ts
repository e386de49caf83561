/**
 * Reusable server instances for stateless 2026-07-28 requests on `/mcp`.
 *
 * `createMcpHandler` asks its factory for an instance per request and refuses one that is
 * still connected (its `assertNotServing`), so one shared instance cannot serve two
 * requests at once; building a fresh server per request (what the SDK's examples do) costs
 * a handler table and a capability merge every time. The pool hands out an idle instance,
 * or builds one when all are busy, and takes it back when its exchange is over. Nothing
 * about a caller stays on an instance between exchanges that handlers read: caller
 * identity comes from each request's `_meta` envelope (see call-context.ts), never from
 * the instance's `getClientVersion()`, which the SDK seeds per request only when the
 * request carries the field.
 *
 * What the pool hands out is an `McpServer` shell around our low-level server. The entry
 * checks the SEP-2243 `Mcp-Param-*` headers of a tools/call only for `McpServer` products,
 * because it needs the tool's input schema before dispatch; the shell answers that from the
 * live registry, and every request is still served by the low-level server's handlers
 * (the shell and the close hook below reach past the SDK's public API: sdk-seams.ts).
 */
import type { Server } from "@modelcontextprotocol/server";
import { onUnconnectedClose, ServerShell } from "../mcp/sdk-seams.ts";

export interface PoolStats {
  created: number;
  idle: number;
  leased: number;
}

export class ServerPool<S extends Server = Server> {
  private free: ServerShell<S>[] = [];
  private leased = new Set<ServerShell<S>>();
  private created = 0;

  /** `maxIdle`: instances kept for reuse after a burst; the rest are dropped for the GC. */
  constructor(
    private readonly build: () => S,
    /** the JSON Schema `tools/list` advertises for a tool (read by the entry's `Mcp-Param-*` check) */
    readonly inputSchemaOf: (tool: string) => Record<string, unknown> | undefined,
    private readonly maxIdle = 64,
  ) {}

  /** The factory to hand `createMcpHandler`. */
  acquire = (): ServerShell<S> => {
    const s = this.free.pop() ?? this.create();
    this.leased.add(s);
    return s;
  };

  /**
   * Hands over for good the most recently idle instance that `fits` (the pool forgets it):
   * for a caller that keeps instances connected itself (the stateless fast path).
   */
  adopt(fits: (s: ServerShell<S>) => boolean): ServerShell<S> | undefined {
    for (let i = this.free.length - 1; i >= 0; i--) {
      const s = this.free[i];
      if (fits(s)) {
        this.free.splice(i, 1);
        return s;
      }
    }
    return undefined;
  }

  get stats(): PoolStats {
    return { created: this.created, idle: this.free.length, leased: this.leased.size };
  }

  private create(): ServerShell<S> {
    this.created++;
    const server = this.build();
    const shell = new ServerShell(server, this.inputSchemaOf);
    // Release hook 1, the end of an exchange: the per-request transport closes, Protocol's
    // _onclose calls server.onclose (createMcpHandler chains its own and restores ours).
    server.onclose = () => this.release(shell);
    // Release hook 2: subscriptions/listen and early rejections close() an instance the
    // handler never connected; Protocol.close() would then do nothing and onclose never
    // fire, so an unconnected close is a release.
    onUnconnectedClose(server, () => this.release(shell));
    return shell;
  }

  private release(s: ServerShell<S>): void {
    if (!this.leased.delete(s)) return;
    if (this.free.length < this.maxIdle) this.free.push(s);
  }
}
