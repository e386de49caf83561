/**
 * The globs config uses to pick names (profiles' include/exclude, workerGroups' members):
 * `*` any run of characters, `?` one, everything else literal; the whole name must match.
 */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (const ch of glob) {
    if (ch === "*") re += "[\\s\\S]*";
    else if (ch === "?") re += "[\\s\\S]";
    else re += ch.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}
