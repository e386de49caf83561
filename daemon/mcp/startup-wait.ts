/**
 * What a client sees while the daemon is still loading its plugins folder after start (the
 * daemon listens at once; see plugin-manager.ts). A listing, or a call / get / read of a
 * name nobody serves yet, waits for the folder's first load — at most STARTUP_WAIT_MS — and
 * is then answered from what has loaded; plugins that load later reach the client as
 * list_changed. Why wait at all rather than answer at once with what is there: many clients
 * list once after initialize and never again (list_changed is optional for them), and a
 * client that called a tool it knew from its last session should not be told "unknown tool"
 * a second after a restart. Why not wait for ever: a folder of hundreds of plugins must not
 * hold a client's first listing past its own request timeout. Requests for names already
 * served never wait.
 */
import type { JSONRPCRequest } from "@modelcontextprotocol/server";
import type { Registry } from "../registry.ts";

/** how long a request waits for the first load of the plugins folder before it is answered from what has loaded */
export const STARTUP_WAIT_MS = 10_000;

/** The first load of the plugins folder, as the MCP layer needs to know it. */
export interface StartupGate {
  /** true once every plugin found at start has loaded or failed */
  done(): boolean;
  /** settles when done */
  settled: Promise<void>;
}

const LISTINGS = new Set(["tools/list", "prompts/list", "resources/list", "resources/templates/list", "completion/complete"]);

/** Whether a request should wait for the first load (see the header). */
function waits(registry: Registry, request: JSONRPCRequest): boolean {
  if (LISTINGS.has(request.method)) return true;
  const params = (request.params ?? {}) as { name?: unknown; uri?: unknown };
  if (request.method === "tools/call") return typeof params.name === "string" && !registry.tools.has(params.name);
  if (request.method === "prompts/get") return typeof params.name === "string" && !registry.prompts.has(params.name);
  if (request.method === "resources/read") return typeof params.uri === "string" && !registry.resources.has(params.uri) && registry.findTemplate(params.uri) === undefined;
  return false;
}

/** Resolves when `request` may be answered: at once, or after the first load (or STARTUP_WAIT_MS). Never rejects. */
export function startupWait(gate: StartupGate | undefined, registry: Registry, request: JSONRPCRequest): Promise<void> | undefined {
  if (!gate || gate.done() || !waits(registry, request)) return undefined;
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    gate.settled.catch(() => undefined),
    new Promise<void>((r) => {
      timer = setTimeout(r, STARTUP_WAIT_MS);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}
