/**
 * The in-process tier's daemon (as Fastify's `inject`, but over a real socket): the same
 * composition `patchbay start` runs — `loadConfig`, `ensureHome`, `startDaemon` from
 * daemon/main.ts — inside the test's own process, with its real HTTP server on an ephemeral
 * port, every transport, the real registry and real plugin threads. What it leaves out is
 * the process around it: no CLI, no banner, no state file or home lock, no signals, logs
 * kept in memory. Tests of those (lifecycle, stdio, the bridge, the packed install) keep
 * `startDaemonProcess` (daemon.ts).
 *
 * Plugin threads run dist/worker-entry.js, as in a packed install: build before running
 * (`npm run test:fast` and `npm test` do).
 */
import { Writable } from "node:stream";
import { pino } from "pino";
import { loadConfig, type ConfigOverrides } from "../../daemon/config.ts";
import { ensureHome } from "../../daemon/home-dir.ts";
import { startDaemon, type Daemon, type StartDaemonOptions } from "../../daemon/main.ts";
import { TempDir } from "./env.ts";

export interface InProcessDaemon {
  /** the origin, e.g. http://127.0.0.1:41234 (endpoints are `${url}/mcp`, `/ws`, `/sse`) */
  url: string;
  home: string;
  /** the composed daemon itself: registry, manager, sessions */
  daemon: Daemon;
  /** every log line so far (pino JSON, one a line) */
  logs(): string;
  health(token?: string): Promise<any>;
  /** the daemon's own close (drain, sessions, workers, server), then its temp home removed */
  stop(): Promise<void>;
}

export interface InProcessOptions {
  plugins: string;
  /** kept at stop; a temp home removed at stop when not given */
  home?: string;
  /** what `patchbay start` flags would set (token, host, …); the port is always 0 */
  config?: Omit<ConfigOverrides, "pluginsDir" | "port" | "home">;
  /** PATCHBAY_* variables, read as the CLI reads them from its environment */
  env?: Record<string, string>;
  /** wait until every plugin found at start has loaded or failed (default true) */
  waitForPlugins?: boolean;
  /** extra telemetry sinks (in-memory exporters) next to the daemon's own */
  telemetry?: StartDaemonOptions["telemetry"];
}

export async function startInProcessDaemon(opts: InProcessOptions): Promise<InProcessDaemon> {
  const homeDir = opts.home ? undefined : new TempDir("patchbay-home-");
  const home = opts.home ?? homeDir!.path;
  let log = "";
  try {
    // the environment a spawned daemon would get from startDaemonProcess
    const config = loadConfig({ ...opts.config, pluginsDir: opts.plugins, port: 0 }, { ...process.env, PATCHBAY_HOME: home, PATCHBAY_LOG_LEVEL: "debug", ...opts.env });
    ensureHome(config.home);
    const sink = new Writable({
      write(chunk, _enc, done) {
        log += String(chunk);
        done();
      },
    });
    const daemon = await startDaemon(config, { logger: pino({ level: config.logLevel }, sink), writeStateFile: false, telemetry: opts.telemetry });
    if (opts.waitForPlugins ?? true) await daemon.pluginsLoaded();
    let stopped: Promise<void> | undefined;
    return {
      url: daemon.url,
      home,
      daemon,
      logs: () => log,
      async health(token?: string) {
        const res = await fetch(`${daemon.url}/healthz`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
        return res.json();
      },
      stop() {
        stopped ??= daemon.close().finally(() => homeDir?.cleanup());
        return stopped;
      },
    };
  } catch (err) {
    homeDir?.cleanup();
    throw new Error(`in-process daemon did not start: ${(err as Error).message}\n${log.slice(-3000)}`, { cause: err });
  }
}
