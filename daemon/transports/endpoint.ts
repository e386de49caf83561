/**
 * What every transport hands the composition root: the HTTP routes and WebSocket upgrades
 * it serves, and how to stop it. main.ts mounts every endpoint the same way, in one loop.
 */
import type { RouteHandler, UpgradeHandler } from "../http-server.ts";

export interface Endpoint {
  /** exact paths → handlers */
  routes?: Record<string, RouteHandler>;
  /** exact paths → WebSocket upgrade handlers */
  upgrades?: Record<string, UpgradeHandler>;
  /** Stops serving: ends what the endpoint holds beyond its sessions (streams, timers). Sessions close through the store. */
  close(): Promise<void>;
}
