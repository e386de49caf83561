/** Starts the real CLI as a child process (`patchbay start --port 0`) and stops it cleanly. */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { CLI, TempDir, waitFor } from "./env.ts";
import { isPidAlive } from "../../daemon/state-file.ts";

export interface RunningDaemon {
  url: string;
  home: string;
  proc: ChildProcess;
  stderr: () => string;
  stdout: () => string;
  health(token?: string): Promise<any>;
  stop(): Promise<number | null>;
}

export interface DaemonOptions {
  plugins: string;
  home?: string;
  args?: string[];
  env?: Record<string, string>;
  /** the port to listen on (default 0: any free one) */
  port?: number;
  /**
   * Wait until /healthz says every plugin found at start has loaded or failed (default true).
   * The daemon listens before its plugins have loaded; tests that expect the folder's tools
   * to be there wait for this, tests of the loading itself pass false.
   */
  waitForPlugins?: boolean;
}

export async function startDaemonProcess(opts: DaemonOptions): Promise<RunningDaemon> {
  const homeDir = opts.home ? undefined : new TempDir("patchbay-home-");
  const home = opts.home ?? homeDir!.path;
  const proc = spawn(process.execPath, [CLI, "start", "--port", String(opts.port ?? 0), "--plugins", opts.plugins, ...(opts.args ?? [])], {
    env: { ...process.env, PATCHBAY_HOME: home, PATCHBAY_LOG_LEVEL: "debug", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  proc.stdout!.setEncoding("utf8").on("data", (d) => (out += d));
  proc.stderr!.setEncoding("utf8").on("data", (d) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    const onData = () => {
      const m = /MCP \(HTTP\):\s+(http:\/\/[^\s]+)\/mcp/.exec(out);
      if (m) resolve(m[1]);
    };
    proc.stdout!.on("data", onData);
    proc.once("exit", (code) => reject(new Error(`daemon exited with ${code} before listening:\n${err}`)));
  });
  const tokenAt = opts.args?.indexOf("--token") ?? -1;
  const token = tokenAt >= 0 ? opts.args![tokenAt + 1] : opts.env?.PATCHBAY_TOKEN;
  if (opts.waitForPlugins ?? true) {
    await waitFor(
      "the daemon's plugins to load",
      async () => {
        if (proc.exitCode !== null) throw new Error(`daemon exited with ${proc.exitCode} while loading its plugins:\n${err}`);
        const h = await fetch(`${url}/healthz`, { headers: token ? { authorization: `Bearer ${token}` } : {} }).then((r) => r.json() as Promise<any>, () => undefined);
        // a daemon older than the start-up report (none) or one that says all loaded
        return h && (h.startup === undefined || (h.startup.done && h.counts?.loading === 0)) ? true : undefined;
      },
      120_000,
    );
  }
  return {
    url,
    home,
    proc,
    stderr: () => err,
    stdout: () => out,
    async health(token?: string) {
      const res = await fetch(`${url}/healthz`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      return res.json();
    },
    async stop() {
      // already gone (a test signalled it itself): still remove the home it was given
      if (proc.exitCode !== null || proc.signalCode !== null) {
        homeDir?.cleanup();
        return proc.exitCode;
      }
      const exited = once(proc, "exit");
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
      const [code] = await exited;
      clearTimeout(timer);
      homeDir?.cleanup();
      return code as number | null;
    },
  };
}

/** Stops daemons a test started indirectly (e.g. through the stdio bridge): SIGTERM, then SIGKILL after 15 s. */
export async function stopPids(pids: Iterable<number>): Promise<void> {
  const all = [...pids];
  for (const pid of all) if (isPidAlive(pid)) process.kill(pid, "SIGTERM");
  await waitFor("daemons gone", () => all.every((p) => !isPidAlive(p)) || undefined, 15_000).catch(() => {
    for (const pid of all) if (isPidAlive(pid)) process.kill(pid, "SIGKILL");
  });
}
