/**
 * Cutting strings a client chose (tool names, URIs, client names) before they are kept in
 * spans, the dashboard's buffers or the session table.
 */

/**
 * `v` cut to `max` characters, ending in `…` when cut, as a string of its own. A plain
 * `slice` of a long string is, in V8, a view that keeps the whole original alive: a 3 MB
 * tool name kept as its first 256 characters in a buffer of 4,000 spans would keep 3 MB
 * per span. The copy is made only when the string is cut, which is rare.
 */
export function clipString(v: string, max: number, ellipsis = "…"): string {
  if (v.length <= max) return v;
  const keep = Math.max(0, max - ellipsis.length);
  return Buffer.from(v.slice(0, keep) + ellipsis, "utf8").toString("utf8");
}
