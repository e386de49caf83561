/**
 * The `patchbay` command line. Parses flags (unknown flags and bad values are errors with
 * exit code 2), builds the config and hands off to the composition root or a command.
 * In `stdio` mode nothing but JSON-RPC may reach stdout, so every message goes to stderr.
 */
import { parseArgs } from "node:util";
import type { ConfigOverrides } from "./config.ts";
import { ConfigError, PatchbayError, UsageError, messageOf } from "./errors.ts";
import { VERSION } from "./version.ts";
import { ensureHome } from "./home-dir.ts";
import { canIsolateStdout, protocolStream, runIsolated, takeProtocolFd } from "./stdio-isolation.ts";

// Each command imports what it needs when it runs, not here: `patchbay stdio` is started by
// a client waiting for its first answer, and loading the whole daemon (the OpenTelemetry
// SDK, every transport) first cost it about half a second of CPU per process — twice for
// --standalone, whose first process only starts the isolated one (docs/endpoints-and-errors.md "How fast stdio starts").
const loadConfig = async (o: ConfigOverrides) => (await import("./config.ts")).loadConfig(o);
const ensureHomePluginsFolder = async (...a: Parameters<typeof import("./plugins/host/home-folder.ts").ensureHomePluginsFolder>) => (await import("./plugins/host/home-folder.ts")).ensureHomePluginsFolder(...a);

const HELP = `patchbay ${VERSION} — one MCP server for every plugin in a folder

Usage:
  patchbay start [--config F] [--plugins DIR] [--host H] [--port P] [--token T]
  patchbay stdio [--plugins DIR] [--standalone] [--profile NAME]
                                                   MCP over stdin/stdout (Claude Desktop)
  patchbay status                                  is a daemon running; plugins; sessions
  patchbay new-plugin NAME [--plugins DIR]         write a commented plugin file
  patchbay doctor                                  check what keeps Claude Desktop from seeing it
  patchbay connect CLIENT [--scope S] [--plugins DIR] [--profile NAME] [--write]
                                                   print (or merge into the client's config,
                                                   after a backup, keeping the rest) the
                                                   Patchbay entry for CLIENT
  patchbay import CLIENT [--scope S] [--plugins DIR] [--write]
                                                   move CLIENT's servers into the plugins
                                                   folder as NAME.mcp.json; --write also leaves
                                                   only the Patchbay entry in CLIENT's config
                                                   (backup first; without it: a dry run of that)
  patchbay claude-config …                         = connect claude-desktop …
  patchbay import-claude-config …                  = import claude-desktop …

Clients (CLIENT, and its --scope choices; docs/clients.md has every OS's path):
  claude-desktop  its claude_desktop_config.json
  claude-code     --scope project: ./.mcp.json (default); user: ~/.claude.json
  cursor          --scope user: ~/.cursor/mcp.json (default); project: ./.cursor/mcp.json
  vscode          --scope workspace: ./.vscode/mcp.json (default); user: the profile's mcp.json
  windsurf        ~/.codeium/windsurf/mcp_config.json
  gemini          --scope user: ~/.gemini/settings.json (default); project: ./.gemini/settings.json
  kiro            --scope user: ~/.kiro/settings/mcp.json (default); workspace: ./.kiro/settings/mcp.json

Options:
  --config F        config file (default: the package's config/patchbay.json)
  --plugins DIR     plugins folder to watch (default: $PATCHBAY_HOME/plugins,
                    i.e. ~/.patchbay/plugins, created on first start with an example)
  --host H          address to bind (default 127.0.0.1; others need --token)
  --port P          port (default 7337; 0 picks a free one)
  --token T         require Authorization: Bearer T on every endpoint but /healthz
  --log-level L     trace|debug|info|warn|error|fatal|silent
  --profile NAME    (stdio, connect) serve only the config's profile NAME
  --scope S         (connect, import) which of the client's config files
  -h, --help        this text
  -v, --version     print the version
`;

const OPTIONS = {
  config: { type: "string" },
  plugins: { type: "string" },
  host: { type: "string" },
  port: { type: "string" },
  token: { type: "string" },
  "log-level": { type: "string" },
  standalone: { type: "boolean" },
  profile: { type: "string" },
  write: { type: "boolean" },
  scope: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
} as const;

function parse(argv: string[]) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, tokens: true, options: OPTIONS });
  } catch (err) {
    throw new UsageError(`${messageOf(err)}\nRun \`patchbay --help\` for usage.`);
  }
  // parseArgs keeps the last of a repeated flag: `--port 0 --port 1` would serve on 1 with
  // no word of the 0. A flag that takes a value may be given once.
  const seen = new Set<string>();
  for (const t of parsed.tokens) {
    if (t.kind !== "option" || OPTIONS[t.name as keyof typeof OPTIONS]?.type !== "string") continue;
    if (seen.has(t.name)) throw new UsageError(`--${t.name} is given more than once; give it once.\nRun \`patchbay --help\` for usage.`);
    seen.add(t.name);
  }
  return parsed;
}

function overridesFrom(values: ReturnType<typeof parse>["values"]): ConfigOverrides {
  const o: ConfigOverrides = { config: values.config, pluginsDir: values.plugins, host: values.host, token: values.token };
  if (values.port !== undefined) {
    if (!/^\d+$/.test(values.port) || Number(values.port) > 65535) throw new UsageError(`--port: expected a number from 0 to 65535, got "${values.port}"`);
    o.port = Number(values.port);
  }
  if (values["log-level"] !== undefined) o.logLevel = values["log-level"] as ConfigOverrides["logLevel"];
  return o;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv);
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    (command === "stdio" ? process.stderr : process.stdout).write(HELP);
    return command || values.help ? 0 : 2;
  }
  const overrides = overridesFrom(values);
  const profile = values.profile;
  if (profile !== undefined && command !== "stdio" && command !== "connect" && command !== "claude-config") throw new UsageError(`--profile applies to \`stdio\` and \`connect\` only (HTTP clients pick one with ?profile=NAME)`);
  if (values.scope !== undefined && command !== "connect" && command !== "import") throw new UsageError("--scope applies to `connect` and `import` only");
  switch (command) {
    case "start": {
      const config = await loadConfig(overrides);
      ensureHome(config.home);
      // Without a folder named anywhere: $PATCHBAY_HOME/plugins, made on first start. The
      // daemon `stdio` starts passes that same folder as --plugins and lands here too.
      const home = await ensureHomePluginsFolder(config);
      if (!home.created && home.error) process.stderr.write(`patchbay: ${home.error}\n`);
      const [{ startDaemon }, { SHUTDOWN_FORCE_AFTER_MS }] = await Promise.all([import("./main.ts"), import("./config.ts")]);
      const daemon = await startDaemon(config);
      const lines = [
        `Patchbay ${VERSION} is running.`,
        `  Dashboard:        ${daemon.url}/${config.token ? `?token=${encodeURIComponent(config.token)}` : ""}`,
        `  MCP (HTTP):       ${daemon.url}/mcp`,
        `  MCP (WebSocket):  ${daemon.url.replace(/^http/, "ws")}/ws`,
        `  MCP (legacy SSE): ${daemon.url}/sse`,
        `  Metrics:          ${daemon.url}/metrics`,
        `  Health:           ${daemon.url}/healthz`,
        // it listens before plugins load: say so rather than count tools that are still coming
        `  Plugins folder:   ${config.pluginsDir} (${daemon.manager.states().length} plugins, ${daemon.manager.startup().done ? `${daemon.registry.tools.size} tools` : "loading; /healthz and the dashboard show them as they come"})`,
        ...(home.created ? [`                    created it with an example plugin and a README.md — drop your plugins there`] : []),
        `Press Ctrl-C to stop.`,
      ];
      // Handlers first: whoever reads the banner may signal at once (a signal that arrives
      // before a handler is installed kills the process without a drain).
      const stop = (signal: string) => {
        daemon.logger.info({ signal }, "received signal");
        const force = setTimeout(() => process.exit(1), config.shutdownGraceMs + SHUTDOWN_FORCE_AFTER_MS);
        force.unref();
        daemon.close().then(
          () => process.exit(0),
          (err) => {
            daemon.logger.error({ err }, "shutdown failed");
            process.exit(1);
          },
        );
      };
      process.once("SIGINT", () => stop("SIGINT"));
      process.once("SIGTERM", () => stop("SIGTERM"));
      process.stdout.write(lines.join("\n") + "\n");
      return -1; // keep running
    }
    case "stdio": {
      if (values.standalone) {
        // Plugins run in this process: put the protocol out of reach of their fd 1 first.
        const protocolFd = takeProtocolFd();
        if (protocolFd === undefined && canIsolateStdout()) return runIsolated();
        const config = await loadConfig(overrides);
        ensureHome(config.home);
        const home = await ensureHomePluginsFolder(config);
        if (home.created || home.error) process.stderr.write(`patchbay: ${home.created ? `created ${home.dir} with an example plugin and a README.md` : home.error}\n`);
        const { startStdio } = await import("./main.ts");
        await startStdio(config, { stdout: protocolFd === undefined ? undefined : protocolStream(protocolFd), profile });
        return -1;
      }
      const config = await loadConfig(overrides);
      const { runBridge } = await import("./transports/stdio-bridge.ts");
      await runBridge(config, { profile });
      return -1;
    }
    case "status":
      return (await import("./commands/status.ts")).runStatus(await loadConfig(overrides), { json: values.json === true });
    case "new-plugin":
      if (rest.length !== 1) throw new UsageError("new-plugin needs exactly one NAME");
      return (await import("./commands/new-plugin.ts")).runNewPlugin(await loadConfig(overrides), rest[0]);
    case "connect":
    case "import": {
      if (rest.length > 1) throw new UsageError(`${command} takes one CLIENT (one of ${(await import("./clients/client-resolve.ts")).clientList()}), got ${rest.length}`);
      const opts = { client: rest[0], write: values.write === true, scope: values.scope };
      return command === "connect" ? (await import("./commands/connect.ts")).runConnect(await loadConfig(overrides), { ...opts, profile }) : (await import("./commands/import-servers.ts")).runImport(await loadConfig(overrides), opts);
    }
    // the commands from before connect/import, kept as aliases for Claude Desktop
    case "claude-config":
      if (rest.length) throw new UsageError("claude-config takes no CLIENT (it is `connect claude-desktop`)");
      return (await import("./commands/connect.ts")).runConnect(await loadConfig(overrides), { client: "claude-desktop", write: values.write === true, profile, command: "patchbay claude-config" });
    case "import-claude-config":
      if (rest.length) throw new UsageError("import-claude-config takes no CLIENT (it is `import claude-desktop`)");
      return (await import("./commands/import-servers.ts")).runImport(await loadConfig(overrides), { client: "claude-desktop", write: values.write === true, command: "patchbay import-claude-config" });
    case "doctor":
      return (await import("./commands/doctor.ts")).runDoctor(await loadConfig(overrides));
    default:
      throw new UsageError(`unknown command "${command}". Run \`patchbay --help\`.`);
  }
}

/**
 * One line for what the user can act on: our own errors, and the file system's (a path that
 * is a file, a folder without permission), whose stack would point into our code, not theirs.
 * Anything else is a bug, and its stack is what a report needs.
 */
function describeFailure(err: unknown): string {
  if (err instanceof PatchbayError) return err.message;
  const sys = err as NodeJS.ErrnoException;
  if (err instanceof Error && typeof sys.code === "string" && typeof sys.syscall === "string") return err.message;
  return (err as Error)?.stack ?? String(err);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err) => {
    const code = err instanceof UsageError || err instanceof ConfigError ? 2 : 1;
    process.exitCode = code;
    // stderr only: in stdio mode stdout belongs to JSON-RPC. Then exit for real: an open
    // stdin (stdio mode) or a half-started daemon would otherwise keep the process alive.
    process.stderr.write(`patchbay: ${describeFailure(err)}\n`, () => process.exit(code));
    setTimeout(() => process.exit(code), 1_000).unref();
  },
);
