/**
 * The folder desktop apps keep their settings in, per OS — where Claude Desktop and VS Code
 * (Electron apps) put theirs: macOS `~/Library/Application Support`, Windows `%APPDATA%`,
 * elsewhere `$XDG_CONFIG_HOME` or `~/.config`. From the given environment, so tests can move
 * HOME and never touch a real one.
 */
import { homedir } from "node:os";
import { join } from "node:path";

export function appDataDir(platform: NodeJS.Platform, env: NodeJS.ProcessEnv): string {
  const home = env.HOME || homedir();
  if (platform === "darwin") return join(home, "Library", "Application Support");
  if (platform === "win32") return env.APPDATA || join(home, "AppData", "Roaming");
  return env.XDG_CONFIG_HOME || join(home, ".config");
}
