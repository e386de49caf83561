/**
 * What the plugin threw, as the host receives it: message, name, code, stack, and the first
 * stack frame inside the plugin's own sources (source maps make it the .ts file), which the
 * host shows as where the error happened.
 */
import type { SerializedError } from "../worker-protocol.ts";

/** Finds the first stack frame under `sourceDir` and outside node_modules. */
function locate(err: unknown, sourceDir: string): SerializedError["location"] {
  const stack = err instanceof Error ? err.stack ?? "" : "";
  for (const line of stack.split("\n")) {
    const m = /\(?((?:file:\/\/)?\/[^():]+):(\d+):(\d+)\)?\s*$/.exec(line);
    if (!m) continue;
    const file = m[1].replace(/^file:\/\//, "");
    if (file.startsWith(sourceDir) && !file.includes("/node_modules/")) return { file, line: Number(m[2]), column: Number(m[3]) };
  }
  return undefined;
}

export class ErrorSerializer {
  /** The plugin's source folder, known once its load starts; before that every frame outside node_modules counts. */
  sourceDir = "";

  serialize(err: unknown, extra: Partial<SerializedError> = {}): SerializedError {
    if (err instanceof Error) {
      return { message: err.message, name: err.name, code: (err as { code?: string }).code, stack: err.stack, location: locate(err, this.sourceDir), ...extra };
    }
    return { message: typeof err === "string" ? err : JSON.stringify(err) ?? String(err), ...extra };
  }
}
