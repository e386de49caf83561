/** `patchbay claude-config`: prints the Claude Desktop entry. */
export function claudeEntry() {
  return { command: "npx", args: ["-y", "mcp-patchbay", "stdio"] };
}
export async function runClaudeConfig(_opts: { write: boolean }): Promise<number> {
  process.stdout.write(JSON.stringify({ mcpServers: { patchbay: claudeEntry() } }, null, 2) + "\n");
  return 0;
}
