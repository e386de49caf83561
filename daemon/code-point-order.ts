/**
 * One order for names and paths that does not depend on the machine's locale: by Unicode
 * code point, which is the order of their UTF-8 bytes (`LC_ALL=C sort`). `localeCompare`
 * follows LANG — in Danish "aa" sorts after "z" — so the winner of a name collision would
 * change with the shell that started the daemon.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return fixup(x) - fixup(y);
  }
  return a.length - b.length;
}

/**
 * UTF-16 code units compare in code point order except that surrogates (D800–DFFF, the
 * halves of code points above FFFF) sort below E000–FFFF; move them above.
 */
function fixup(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit < 0xe000 ? unit + 0x2000 : unit - 0x800;
}
