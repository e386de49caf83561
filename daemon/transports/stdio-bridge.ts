/** Placeholder until the attached bridge lands: host plugins in-process. */
import type { Config } from "../config.ts";
import { startStdio } from "../main.ts";

export async function runBridge(config: Config): Promise<void> {
  await startStdio(config);
}
