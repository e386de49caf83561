/**
 * The size of a tool result as it goes to the client, measured on every call without
 * tokenizing it: the characters of its text parts, base64 data and structured content.
 * Strings are counted by length (UTF-16 units), which equals their UTF-8 bytes for ASCII and
 * undercounts other text a little; a byte-exact count would walk every string again on the
 * hot path. Tokens are estimated from it (token-counter.ts `estimateTokens`).
 */
type Part = { type?: unknown; text?: unknown; data?: unknown; uri?: unknown; name?: unknown; resource?: { text?: unknown; blob?: unknown; uri?: unknown } };

const len = (v: unknown) => (typeof v === "string" ? v.length : 0);

export function resultSize(result: { content?: unknown; structuredContent?: unknown }): number {
  let n = 0;
  if (Array.isArray(result.content)) {
    for (const p of result.content as Part[]) {
      if (!p || typeof p !== "object") continue;
      n += len(p.text) + len(p.data) + len(p.uri) + len(p.name);
      if (p.resource && typeof p.resource === "object") n += len(p.resource.text) + len(p.resource.blob) + len(p.resource.uri);
    }
  }
  if (result.structuredContent !== undefined) {
    try {
      n += JSON.stringify(result.structuredContent)?.length ?? 0;
    } catch {
      // a result that cannot be serialized fails on the wire, not here
    }
  }
  return n;
}
