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
