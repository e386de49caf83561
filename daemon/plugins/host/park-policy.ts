/**
 * Whether an idle plugin's thread may be parked, and if not, what keeps it running. Parking
 * ends the thread, and with it whatever the plugin does in the background; so a plugin that
 * shares a worker group's thread, is named in `keepAlivePlugins`, asks for `keepAlive`, has
 * subscribers, sends list changes from the background, or refused to park last time for
 * background work it keeps, stays up. A plugin's own `keepAlive: false` overrides all but
 * the first two. When to ask, and the asking, are the worker's (plugin-worker.ts).
 */
export interface ParkPolicyOptions {
  /** park after this long without calls; 0 or unset: never park */
  idleMs?: number;
  /** the worker group whose thread the plugin shares */
  group?: string;
  /** plugin names that are never parked (config `keepAlivePlugins`) */
  alwaysOn?: readonly string[];
}

export class ParkPolicy {
  /** the plugin's own `keepAlive`, as its last load reported it */
  keepAlive?: boolean;
  /** the plugin sent a list change while no call ran: something of its own keeps running */
  pushesInBackground = false;
  /** its resource URIs some client is subscribed to (the registry counts the clients) */
  readonly subscribed = new Set<string>();
  /** what the worker kept running when it last refused to park */
  background: string[] = [];

  constructor(private readonly opts: ParkPolicyOptions) {}

  /**
   * Whether a running, idle plugin named `name` may be asked to park. Background handles
   * are looked at when it is asked, so they need not stop the asking.
   */
  allows(name: string): boolean {
    if (!this.opts.idleMs || this.opts.group) return false;
    if (this.opts.alwaysOn?.includes(name)) return false;
    if (this.keepAlive !== undefined) return !this.keepAlive;
    return !this.pushesInBackground && this.subscribed.size === 0;
  }

  /** Why an idle plugin named `name` is kept running; undefined when it may be parked (or parking is off). */
  keptAliveBy(name: string): string | undefined {
    if (!this.opts.idleMs) return undefined;
    if (this.opts.group) return `shares worker group ${this.opts.group}'s thread`;
    if (this.opts.alwaysOn?.includes(name)) return "keepAlivePlugins (config)";
    if (this.keepAlive === true) return "keepAlive: true";
    if (this.keepAlive === false) return undefined;
    if (this.subscribed.size > 0) return "subscribers";
    if (this.pushesInBackground) return "it sends notifications from the background";
    if (this.background.length > 0) return `background work: ${this.background.join(", ")}`;
    return undefined;
  }
}
