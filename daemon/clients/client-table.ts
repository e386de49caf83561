/**
 * The MCP clients `patchbay connect` and `patchbay import` know: where each keeps its MCP
 * servers (per scope and OS), under which key, the shape of one entry, and how its remote
 * entries and variables are spelled. Every row was checked against the document in `docs`
 * (docs/clients.md lists the same table for users); a client whose format could not be
 * checked is left out rather than guessed.
 *
 * Every path is computed from `PathContext` — the environment (HOME, APPDATA,
 * XDG_CONFIG_HOME, CLAUDE_CONFIG_DIR) and the working directory — never from the real home
 * directly, so tests point HOME and cwd at a temp folder and never touch a user's files.
 */
import { homedir } from "node:os";
import { join } from "node:path";
import { claudeConfigPath, type ClaudeEntry } from "../commands/claude-config.ts";
import { appDataDir } from "./app-data-dir.ts";

export interface PathContext {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface ClientScope {
  /** the config file for this scope */
  file(ctx: PathContext): string;
  /** how the file is usually written, for messages and docs (e.g. `~/.cursor/mcp.json`) */
  shown: string;
  /**
   * Whether `connect --write` may create the file when it is missing. False where the file
   * is the client's own state (Claude Code's ~/.claude.json): a file holding only our entry
   * would stand in for the one the client writes on its first run.
   */
  mayCreate: boolean;
  /** why it may not be created: what the user should do instead */
  whenMissing?: string;
}

export interface ClientSpec {
  id: string;
  name: string;
  /** the key of the file's top-level object that maps server names to entries */
  key: "mcpServers" | "servers";
  /** the scopes, the default first */
  scopes: Record<string, ClientScope>;
  /** the client's entry that runs this stdio command (the Claude Desktop shape, reshaped) */
  entry(stdio: ClaudeEntry): Record<string, unknown>;
  /** the keys a remote entry may hold its URL in, in the client's spelling */
  urlKeys: readonly string[];
  /** how the client spells an environment variable in an entry (client-variables.ts) */
  variables: "none" | "env-colon" | "braces" | "dollar";
  /** what to do after the file changed */
  after: string;
  /** the documents the path and shape were checked against */
  docs: readonly string[];
}

/** The user's home as the client sees it: $HOME (so tests can move it), else the OS's. */
export function userHome(env: NodeJS.ProcessEnv): string {
  return env.HOME || homedir();
}

/** VS Code's user folder: `Code/User` in the OS's application-data folder. */
function vscodeUserDir({ platform, env }: PathContext): string {
  return join(appDataDir(platform, env), "Code", "User");
}

/** The entry as Claude Desktop takes it: `{ command, args, env? }`. */
const plain = (stdio: ClaudeEntry): Record<string, unknown> => ({ ...stdio });
/** The same with `type: "stdio"` first, for clients whose entries name their transport. */
const typed = (stdio: ClaudeEntry): Record<string, unknown> => ({ type: "stdio", ...stdio });

const CLIENTS: readonly ClientSpec[] = [
  {
    id: "claude-desktop",
    name: "Claude Desktop",
    key: "mcpServers",
    scopes: {
      user: { file: ({ platform, env }) => claudeConfigPath(platform, env), shown: "macOS ~/Library/Application Support/Claude/claude_desktop_config.json, Windows %APPDATA%\\Claude\\claude_desktop_config.json, Linux ~/.config/Claude/claude_desktop_config.json", mayCreate: true },
    },
    entry: plain,
    urlKeys: ["url"],
    variables: "none",
    after: "Restart Claude Desktop to pick it up.",
    docs: ["https://modelcontextprotocol.io/docs/develop/connect-local-servers", "https://github.com/docker/mcp-gateway/blob/main/pkg/client/config.yml"],
  },
  {
    id: "claude-code",
    name: "Claude Code",
    key: "mcpServers",
    scopes: {
      project: { file: ({ cwd }) => join(cwd, ".mcp.json"), shown: ".mcp.json in the project (this folder)", mayCreate: true },
      user: {
        // CLAUDE_CONFIG_DIR moves Claude Code's whole config, this file included
        file: ({ env }) => join(env.CLAUDE_CONFIG_DIR || userHome(env), ".claude.json"),
        shown: "~/.claude.json, top-level mcpServers",
        mayCreate: false,
        whenMissing: "Claude Code writes it on its first run — start `claude` once, use `--scope project`, or run the `claude mcp add` line that `patchbay connect claude-code --scope user` prints",
      },
    },
    entry: typed,
    urlKeys: ["url"],
    variables: "braces",
    after: "Run `claude mcp list` (or /mcp inside Claude Code) to check it; Claude Code asks once before it uses a project's .mcp.json servers.",
    docs: ["https://code.claude.com/docs/en/mcp", "https://github.com/docker/mcp-gateway/blob/main/pkg/client/config.yml"],
  },
  {
    id: "cursor",
    name: "Cursor",
    key: "mcpServers",
    scopes: {
      user: { file: ({ env }) => join(userHome(env), ".cursor", "mcp.json"), shown: "~/.cursor/mcp.json (Windows %USERPROFILE%\\.cursor\\mcp.json)", mayCreate: true },
      project: { file: ({ cwd }) => join(cwd, ".cursor", "mcp.json"), shown: ".cursor/mcp.json in the project (this folder)", mayCreate: true },
    },
    entry: plain,
    urlKeys: ["url"],
    variables: "env-colon",
    after: "Restart Cursor (or reload its MCP servers), then check the server under Cursor's MCP settings.",
    docs: ["https://cursor.com/docs/mcp", "https://github.com/docker/mcp-gateway/blob/main/pkg/client/config.yml"],
  },
  {
    id: "vscode",
    name: "VS Code",
    key: "servers",
    scopes: {
      workspace: { file: ({ cwd }) => join(cwd, ".vscode", "mcp.json"), shown: ".vscode/mcp.json in the workspace (this folder)", mayCreate: true },
      user: { file: (ctx) => join(vscodeUserDir(ctx), "mcp.json"), shown: "the default profile's mcp.json: macOS ~/Library/Application Support/Code/User/, Windows %APPDATA%\\Code\\User\\, Linux ~/.config/Code/User/", mayCreate: true },
    },
    entry: typed,
    urlKeys: ["url"],
    variables: "env-colon",
    after: "VS Code reads mcp.json as it changes: start the server from the file's code lens or with `MCP: List Servers`.",
    docs: ["https://code.visualstudio.com/docs/copilot/reference/mcp-configuration", "https://github.com/docker/mcp-gateway/blob/main/pkg/client/config.yml"],
  },
  {
    id: "windsurf",
    name: "Windsurf",
    key: "mcpServers",
    scopes: {
      user: { file: ({ env }) => join(userHome(env), ".codeium", "windsurf", "mcp_config.json"), shown: "~/.codeium/windsurf/mcp_config.json (Windows %USERPROFILE%\\.codeium\\windsurf\\mcp_config.json)", mayCreate: true },
    },
    entry: plain,
    // Windsurf's remote entries take `serverUrl` (or `url`)
    urlKeys: ["serverUrl", "url"],
    variables: "env-colon",
    after: "Press the refresh button in Windsurf's MCP panel (or restart Windsurf).",
    docs: ["https://docs.windsurf.com/windsurf/cascade/mcp"],
  },
  {
    id: "gemini",
    name: "Gemini CLI",
    key: "mcpServers",
    scopes: {
      user: { file: ({ env }) => join(userHome(env), ".gemini", "settings.json"), shown: "~/.gemini/settings.json (Windows %USERPROFILE%\\.gemini\\settings.json)", mayCreate: true },
      project: { file: ({ cwd }) => join(cwd, ".gemini", "settings.json"), shown: ".gemini/settings.json in the project (this folder)", mayCreate: true },
    },
    entry: plain,
    // `httpUrl` is Streamable HTTP, `url` SSE; Patchbay's `url` tries Streamable HTTP, then SSE
    urlKeys: ["httpUrl", "url"],
    variables: "dollar",
    after: "Restart Gemini CLI, then run /mcp in it to check the server.",
    docs: ["https://github.com/google-gemini/gemini-cli/blob/main/docs/tools/mcp-server.md", "https://github.com/docker/mcp-gateway/blob/main/pkg/client/config.yml"],
  },
  {
    id: "kiro",
    name: "Kiro",
    key: "mcpServers",
    scopes: {
      user: { file: ({ env }) => join(userHome(env), ".kiro", "settings", "mcp.json"), shown: "~/.kiro/settings/mcp.json", mayCreate: true },
      workspace: { file: ({ cwd }) => join(cwd, ".kiro", "settings", "mcp.json"), shown: ".kiro/settings/mcp.json in the workspace (this folder)", mayCreate: true },
    },
    entry: plain,
    urlKeys: ["url"],
    variables: "braces",
    after: "Check the server in the MCP servers view of Kiro's panel (reconnect it there if it does not show).",
    docs: ["https://kiro.dev/docs/mcp/configuration", "https://github.com/docker/mcp-gateway/blob/main/pkg/client/config.yml"],
  },
];

/** Every client, in the order help and errors list them. */
export function knownClients(): readonly ClientSpec[] {
  return CLIENTS;
}

export function findClient(id: string): ClientSpec | undefined {
  return CLIENTS.find((c) => c.id === id);
}

/** The scope's name: the one asked for, or the client's default (its first). */
export function scopeOf(client: ClientSpec, asked?: string): string | undefined {
  if (asked === undefined) return Object.keys(client.scopes)[0];
  return Object.hasOwn(client.scopes, asked) ? asked : undefined;
}
