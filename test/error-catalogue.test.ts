/**
 * The error catalogue (daemon/errors.ts) against the "What each bad input gets" table of
 * docs/endpoints-and-errors.md: every JSON-RPC code Patchbay answers with and every HTTP
 * status it refuses with is listed there (and the table lists no code the catalogue does not
 * know), and no JSON-RPC code has two meanings.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ProtocolErrorCode } from "@modelcontextprotocol/server";
import { RPC_CODES, RpcCode, errorCatalogue, Refusal } from "../daemon/errors.ts";

const root = join(import.meta.dirname, "..");

/** The answer column of the doc's table: the codes and statuses a user is told about. */
function docAnswers(doc: string): { codes: Set<number>; statuses: Set<number> } {
  const start = doc.indexOf("What each bad input gets");
  assert.ok(start >= 0, "docs/endpoints-and-errors.md has no \"What each bad input gets\" table");
  const end = doc.indexOf("\n#", start);
  const rows = doc
    .slice(start, end < 0 ? undefined : end)
    .split("\n")
    .filter((l) => l.startsWith("|") && !/^\|\s*-+\s*\|/.test(l) && !/^\|\s*input\s*\|/.test(l));
  assert.ok(rows.length > 10, "the doc's table has rows");
  const codes = new Set<number>();
  const statuses = new Set<number>();
  for (const row of rows) {
    const cells = row.split("|").map((c) => c.trim());
    const answer = cells.slice(2, -1).join("|");
    for (const m of answer.matchAll(/`(-32\d{3})`/g)) codes.add(Number(m[1]));
    // HTTP statuses are the three-digit numbers of the answer (WebSocket close codes have four)
    for (const m of answer.replace(/`[^`]*`/g, "").matchAll(/(?<![\d.-])([1-5]\d\d)(?![\d.])/g)) statuses.add(Number(m[1]));
  }
  return { codes, statuses };
}

const errorsDoc = () => readFileSync(join(root, "docs", "endpoints-and-errors.md"), "utf8");

test("every JSON-RPC code in the catalogue's table is in the error table of docs/endpoints-and-errors.md, and the doc lists no other", () => {
  const { codes } = docAnswers(errorsDoc());
  const table = new Set(RPC_CODES.map((c) => c.code as number));
  for (const c of table) assert.ok(codes.has(c), `the error table of docs/endpoints-and-errors.md does not list JSON-RPC ${c} (${RPC_CODES.find((x) => x.code === c)?.meaning})`);
  for (const c of codes) assert.ok(table.has(c), `the error table of docs/endpoints-and-errors.md lists JSON-RPC ${c}, which is not in RPC_CODES (daemon/errors.ts)`);
});

test("every HTTP status the catalogue uses is in the error table of docs/endpoints-and-errors.md, and the doc lists no other", () => {
  const { statuses } = docAnswers(errorsDoc());
  const used = new Set(errorCatalogue().flatMap((e) => (e.status === undefined ? [] : [e.status])));
  for (const s of used) assert.ok(statuses.has(s), `the error table of docs/endpoints-and-errors.md does not list HTTP ${s} (${errorCatalogue().filter((e) => e.status === s).map((e) => e.code).join(", ")})`);
  for (const s of statuses) assert.ok(used.has(s), `the error table of docs/endpoints-and-errors.md lists HTTP ${s}, which no catalogue entry answers`);
});

test("no JSON-RPC code has two meanings", () => {
  const seen = new Map<number, string>();
  for (const c of RPC_CODES) {
    assert.ok(!seen.has(c.code), `JSON-RPC ${c.code} is in RPC_CODES twice: "${seen.get(c.code)}" and "${c.meaning}"`);
    seen.set(c.code, c.meaning);
  }
  // the names and the table are the same set
  assert.deepEqual(new Set(Object.values(RpcCode)), new Set(seen.keys()));
  // each entry's code is one of the table's, so its meaning is the table's one meaning
  for (const e of errorCatalogue()) {
    if (e.rpc === undefined) continue;
    const row = RPC_CODES.find((c) => c.code === e.rpc);
    assert.ok(row, `${e.code} answers JSON-RPC ${e.rpc}, which is not in RPC_CODES`);
    assert.notEqual(row.sent, false, `${e.code} answers JSON-RPC ${e.rpc}, which Patchbay never sends`);
  }
  // -32000 means "refused by the transport, see the HTTP status": only HTTP refusals (and the
  // stdio bridge's lost connection, which has no HTTP) may use it
  for (const e of errorCatalogue().filter((x) => x.rpc === RpcCode.TransportRefusal && x !== Refusal.DaemonLost)) {
    assert.ok(e.status !== undefined && e.status >= 400, `${e.code} answers -32000 without an HTTP status`);
  }
  // -32001 is the SDK's "Session not found", nothing else
  assert.deepEqual(errorCatalogue().filter((e) => e.rpc === RpcCode.SessionNotFound).map((e) => e.code), [Refusal.SessionNotFound.code]);
  // stable codes are unique and PB_ERR_*
  const codes = errorCatalogue().map((e) => e.code);
  assert.equal(new Set(codes).size, codes.length);
  for (const c of codes) assert.match(c, /^PB_ERR_[A-Z_]+$/);
});

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? sources(join(dir, d.name)) : d.name.endsWith(".ts") ? [join(dir, d.name)] : []));
}

test("the daemon answers no JSON-RPC code outside the catalogue, and no refusal with ad-hoc numbers", () => {
  const table = new Set(RPC_CODES.map((c) => c.code as number));
  // the reserved range's lower bound (telemetry's bounded error.type) is not a code we answer
  const notCodes = new Set([-32768]);
  for (const file of sources(join(root, "daemon"))) {
    if (file.endsWith("errors.ts")) continue;
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/(?<![\w.])-32\d{3}\b/g)) {
      const code = Number(m[0]);
      if (!notCodes.has(code)) assert.ok(table.has(code), `${file} mentions JSON-RPC ${code}, which is not in RPC_CODES`);
    }
    for (const m of text.matchAll(/ProtocolErrorCode\.(\w+)/g)) {
      const code = (ProtocolErrorCode as unknown as Record<string, number>)[m[1]];
      assert.ok(table.has(code), `${file} throws ProtocolErrorCode.${m[1]} (${code}), which is not in RPC_CODES`);
    }
    assert.doesNotMatch(text, /sendRpcError\(|new McpError\(/, `${file}: answer refusals with sendRefusal and a catalogue entry`);
    // ValidationFailure never leaves the plugin's thread (it is serialized with `validation: true`)
    const local = file.endsWith("thread/validation-failure.ts") ? ["ValidationFailure"] : [];
    for (const m of text.matchAll(/class (\w+) extends Error\b/g)) assert.ok(local.includes(m[1]), `${file}: error class ${m[1]} is not in the catalogue (daemon/errors.ts)`);
  }
});

test("the doc-table parser sees a removed row (the check can fail)", () => {
  const text = errorsDoc();
  const row = text.split("\n").find((l) => l.includes("over a rate limit"));
  assert.ok(row);
  const { codes } = docAnswers(text.replace(`${row}\n`, ""));
  assert.ok(!codes.has(RpcCode.RateLimited), "without its row, -32029 is missing from the table");
});
