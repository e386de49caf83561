/**
 * How deep a JSON value nests. Validators, the structured clone to a plugin's worker and the
 * SDK's own walks recurse, so a value nested thousands of levels deep overflows their stack
 * with an error that names nothing; no MCP message nests anywhere near this deep.
 */

/** Deepest JSON nesting an inbound message may have. */
export const MAX_JSON_DEPTH = 256;

/**
 * The path (`a.b[3]…`, from `root`) of the first value nested deeper than `limit`, or
 * undefined. Iterative: a recursive walk would overflow on the very input it guards against.
 * Paths are built only for a value found too deep (every inbound message is checked).
 */
export function pathDeeperThan(value: unknown, limit: number, root = ""): string | undefined {
  if (!nestedDeeperThan(value, limit)) return undefined;
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

/** Whether `value` nests deeper than `limit` (the same walk, without paths or allocations per value). */
export function nestedDeeperThan(value: unknown, limit: number): boolean {
  if (value === null || typeof value !== "object") return false;
  const values: object[] = [value];
  const depths: number[] = [0];
  while (values.length > 0) {
    const v = values.pop()!;
    const depth = depths.pop()!;
    if (depth >= limit) return true;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const c: unknown = v[i];
        if (c !== null && typeof c === "object") {
          values.push(c);
          depths.push(depth + 1);
        }
      }
    } else {
      for (const k of Object.keys(v)) {
        const c: unknown = (v as Record<string, unknown>)[k];
        if (c !== null && typeof c === "object") {
          values.push(c);
          depths.push(depth + 1);
        }
      }
    }
  }
  return false;
}
