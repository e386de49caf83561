/**
 * How deep a JSON value nests. Validators, the structured clone to a plugin's worker and the
 * SDK's own walks recurse, so a value nested thousands of levels deep overflows their stack
 * with an error that names nothing; no MCP message nests anywhere near this deep.
 */

/** Deepest JSON nesting a request (or a tool's arguments) may have. */
export const MAX_JSON_DEPTH = 256;

/**
 * The path (`a.b[3]…`, from `root`) of the first value nested deeper than `limit`, or
 * undefined. Iterative: a recursive walk would overflow on the very input it guards against.
 */
export function pathDeeperThan(value: unknown, limit: number, root = ""): string | undefined {
  const stack: [unknown, number, string][] = [[value, 0, root]];
  while (stack.length > 0) {
    const [v, depth, path] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth >= limit) return path || "(the value itself)";
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) if (v[i] !== null && typeof v[i] === "object") stack.push([v[i], depth + 1, `${path}[${i}]`]);
    } else {
      for (const [k, child] of Object.entries(v)) if (child !== null && typeof child === "object") stack.push([child, depth + 1, path ? `${path}.${k}` : k]);
    }
  }
  return undefined;
}

/** Whether `value` nests deeper than `limit`. */
export function nestedDeeperThan(value: unknown, limit: number): boolean {
  return pathDeeperThan(value, limit) !== undefined;
}
