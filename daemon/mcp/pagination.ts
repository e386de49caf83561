/**
 * Cursor pagination for every list method. A cursor is one we issued: base64url of a
 * positive decimal offset. Anything else (an empty string, other base64, a non-integer, an
 * offset past the end) is -32602, never silently page one. Cursors carry no state, so any
 * daemon behind a balancer reads any other's cursor the same way.
 */
import { ProtocolError, ProtocolErrorCode } from "@modelcontextprotocol/server";

function decodeCursor(cursor: string, length: number): number {
  // Node's base64url decoder skips characters it does not know, hence the round-trip check.
  const text = /^[A-Za-z0-9_-]{1,24}$/.test(cursor) ? Buffer.from(cursor, "base64url").toString("utf8") : "";
  const n = /^[1-9][0-9]{0,14}$/.test(text) ? Number(text) : NaN;
  if (!(n <= length) || Buffer.from(text).toString("base64url") !== cursor) {
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Invalid cursor: ${JSON.stringify(cursor.slice(0, 64))} (pass back a nextCursor exactly as received, or none for the first page)`);
  }
  return n;
}

export function paginate<T>(items: T[], cursor: string | undefined, pageSize: number): { page: T[]; nextCursor?: string } {
  const start = cursor === undefined ? 0 : decodeCursor(cursor, items.length);
  const end = start + pageSize;
  return { page: items.slice(start, end), nextCursor: end < items.length ? Buffer.from(String(end)).toString("base64url") : undefined };
}
