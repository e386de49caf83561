/** `patchbay doctor`: checks what usually goes wrong. */
import type { Config } from "../config.ts";
export async function runDoctor(_config: Config): Promise<number> {
  process.stdout.write("doctor: not implemented yet\n");
  return 1;
}
