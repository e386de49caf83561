/**
 * The reference tables in docs/ against the code they describe, so that neither can change
 * without the other:
 * - docs/endpoints-and-errors.md, "Error catalogue": one row per entry of errorCatalogue()
 *   (daemon/errors.ts) with its HTTP status and JSON-RPC code, and no row for a code that
 *   does not exist; "JSON-RPC codes": one row per RPC_CODES entry, with who sends it;
 * - docs/configuration.md, "Settings": one row per key ConfigSchema (daemon/config.ts)
 *   accepts, nested keys included (`profiles.NAME.include`), with the PATCHBAY_* variable and
 *   the flag that set it, and no row for a key the schema refuses; "Command-line flags": every
 *   option cli.ts parses.
 * The lists come from the code (the schema is walked, the catalogue imported; the variable and
 * flag maps, which config.ts and cli.ts do not export, are read from their source), never
 * written out here.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { z } from "zod";
import { RPC_CODES, errorCatalogue } from "../daemon/errors.ts";
import { ConfigSchema } from "../daemon/config.ts";

const root = join(import.meta.dirname, "..");
const read = (path: string) => readFileSync(join(root, path), "utf8");
const errorsDoc = () => read("docs/endpoints-and-errors.md");
const configDoc = () => read("docs/configuration.md");

/** The rows (cells, trimmed, without the outer pipes) of the first table under `## heading`. */
function tableUnder(doc: string, heading: string): string[][] {
  const start = doc.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `no "## ${heading}" section`);
  const next = doc.indexOf("\n## ", start + 1);
  const lines = doc.slice(start, next < 0 ? undefined : next).split("\n");
  const first = lines.findIndex((l) => l.startsWith("|"));
  assert.ok(first >= 0, `no table under "## ${heading}"`);
  const rows: string[][] = [];
  // the header, then the |---| line, then rows until the table ends
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith("|")) break;
    // a `\|` inside a cell is a pipe in the text, not a cell boundary
    rows.push(line.replace(/\\\|/g, "\u0000").split("|").slice(1, -1).map((c) => c.replace(/\u0000/g, "|").trim()));
  }
  return rows;
}

const codeSpans = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);

/** What is wrong with the error tables of `doc`, one line each. */
function errorTableProblems(doc: string): string[] {
  const problems: string[] = [];
  const catalogue = new Map(errorCatalogue().map((e) => [e.code, e]));
  const rows = new Map<string, string[]>();
  for (const cells of tableUnder(doc, "Error catalogue")) {
    const [code] = codeSpans(cells[0]);
    if (!code) problems.push(`Error catalogue: a row without a code: ${cells.join(" | ")}`);
    else if (rows.has(code)) problems.push(`Error catalogue: ${code} has two rows`);
    else rows.set(code, cells);
  }
  for (const [code, entry] of catalogue) {
    const cells = rows.get(code);
    if (!cells) {
      problems.push(`Error catalogue: ${code} (${entry.name}, daemon/errors.ts) has no row`);
      continue;
    }
    const status = cells[2] === "—" ? undefined : Number(cells[2]);
    if (status !== entry.status) problems.push(`Error catalogue: ${code} says HTTP ${cells[2]}, the catalogue ${entry.status ?? "none"}`);
    const rpc = cells[3] === "—" ? undefined : Number(codeSpans(cells[3])[0]);
    if (rpc !== entry.rpc) problems.push(`Error catalogue: ${code} says JSON-RPC ${cells[3]}, the catalogue ${entry.rpc ?? "none"}`);
  }
  for (const code of rows.keys()) if (!catalogue.has(code)) problems.push(`Error catalogue: ${code} is not in daemon/errors.ts`);

  const rpcRows = new Map(tableUnder(doc, "JSON-RPC codes").map((cells) => [Number(codeSpans(cells[0])[0]), cells]));
  for (const c of RPC_CODES) {
    const cells = rpcRows.get(c.code);
    if (!cells) problems.push(`JSON-RPC codes: ${c.code} (${c.meaning}) has no row`);
    else if (cells[1] !== c.by) problems.push(`JSON-RPC codes: ${c.code} says "by ${cells[1]}", RPC_CODES "${c.by}"`);
  }
  for (const code of rpcRows.keys()) if (!RPC_CODES.some((c) => c.code === code)) problems.push(`JSON-RPC codes: ${code} is not in RPC_CODES`);
  return problems;
}

// ---- the config schema, walked ------------------------------------------------------------

type Schema = z.ZodType & { _zod: { def: { type: string; innerType?: Schema; valueType?: Schema; shape?: Record<string, Schema> } } };

/** The schema under defaults and optionality (what a key's value must be). */
function unwrap(s: Schema): Schema {
  let t = s;
  while (["default", "optional", "nullable", "prefault", "readonly", "nonoptional"].includes(t._zod.def.type) && t._zod.def.innerType) t = t._zod.def.innerType;
  return t;
}

/**
 * Every key path the schema accepts: `a` for a top-level key, `a.b` inside an object, and
 * `a.NAME.b` inside a record of objects (a profile's keys). A record of anything else (the
 * worker groups' lists) is one key.
 */
function keyPaths(schema: Schema, prefix = ""): string[] {
  const s = unwrap(schema);
  const shape = (s as unknown as { shape?: Record<string, Schema> }).shape;
  if (s._zod.def.type === "object" && shape) {
    return Object.entries(shape).flatMap(([k, v]) => {
      const inner = unwrap(v);
      const nested = inner._zod.def.type === "object" ? keyPaths(inner, `${prefix}${k}.`) : inner._zod.def.type === "record" && unwrap(inner._zod.def.valueType!)._zod.def.type === "object" ? keyPaths(inner._zod.def.valueType!, `${prefix}${k}.NAME.`) : [];
      return [`${prefix}${k}`, ...nested];
    });
  }
  return [];
}

/** `PATCHBAY_X: { key: "y", …}` in config.ts: variable → key. */
function envMap(): Map<string, string> {
  return new Map([...read("daemon/config.ts").matchAll(/\b(PATCHBAY_[A-Z_]+): \{ key: "(\w+)"/g)].map((m) => [m[1], m[2]]));
}

/** `const FLAGS … = { pluginsDir: "--plugins", … }` in config.ts: key → flag. */
function flagMap(): Map<string, string> {
  const body = /const FLAGS[^=]*= \{([^}]*)\}/.exec(read("daemon/config.ts"))?.[1];
  assert.ok(body, "daemon/config.ts has no FLAGS map");
  return new Map([...body.matchAll(/(\w+): "(--[a-z-]+)"/g)].map((m) => [m[1], m[2]]));
}

/** The option names of `const OPTIONS = { … }` in cli.ts, as flags (`--name`). */
function cliOptions(): Set<string> {
  const body = /const OPTIONS = \{([\s\S]*?)\n\} as const/.exec(read("daemon/cli.ts"))?.[1];
  assert.ok(body, "daemon/cli.ts has no OPTIONS table");
  return new Set([...body.matchAll(/^\s*"?([a-z-]+)"?: \{/gm)].map((m) => `--${m[1]}`));
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? sources(join(dir, d.name)) : d.name.endsWith(".ts") ? [join(dir, d.name)] : []));
}

/** What is wrong with the settings and flags tables of `doc`, one line each. */
function settingsProblems(doc: string): string[] {
  const problems: string[] = [];
  const schemaKeys = new Set(keyPaths(ConfigSchema as unknown as Schema));
  const rows = new Map<string, string[]>();
  for (const cells of tableUnder(doc, "Settings")) {
    const keys = codeSpans(cells[0]);
    if (keys.length !== 1) problems.push(`Settings: a row must name one key: ${cells[0]}`);
    else if (rows.has(keys[0])) problems.push(`Settings: ${keys[0]} has two rows`);
    else rows.set(keys[0], cells);
  }
  for (const key of schemaKeys) if (!rows.has(key)) problems.push(`Settings: the config key ${key} (ConfigSchema, daemon/config.ts) has no row`);
  for (const key of rows.keys()) if (!schemaKeys.has(key)) problems.push(`Settings: ${key} is not a key ConfigSchema accepts`);

  const env = envMap();
  assert.ok(env.size > 10, "read the PATCHBAY_* map of daemon/config.ts");
  for (const [name, key] of env) {
    const cells = rows.get(key);
    if (cells && !codeSpans(cells[1]).includes(name)) problems.push(`Settings: ${key} is set by ${name}, which its row does not name`);
  }
  for (const [key, cells] of rows) for (const name of codeSpans(cells[1])) if (env.get(name) !== key) problems.push(`Settings: ${key}'s row names ${name}, which ${env.has(name) ? `sets ${env.get(name)}` : "config.ts does not read"}`);
  // a PATCHBAY_* variable named anywhere on the page must be one the daemon reads
  const readByDaemon = new Set(sources(join(root, "daemon")).flatMap((f) => [...readFileSync(f, "utf8").matchAll(/\bPATCHBAY_[A-Z_]+\b/g)].map((m) => m[0])));
  for (const m of doc.matchAll(/\bPATCHBAY_[A-Z_]+\b/g)) if (!readByDaemon.has(m[0])) problems.push(`configuration.md names ${m[0]}, which nothing in daemon/ reads`);

  const options = cliOptions();
  for (const [key, flag] of flagMap()) {
    const cells = rows.get(key);
    if (cells && !cells[2].includes(flag)) problems.push(`Settings: ${key} is set by ${flag}, which its row does not name`);
  }
  for (const [key, cells] of rows) for (const m of cells[2].matchAll(/--[a-z-]+/g)) if (!options.has(m[0])) problems.push(`Settings: ${key}'s row names ${m[0]}, which cli.ts does not parse`);
  const flagRows = tableUnder(doc, "Command-line flags").flatMap((cells) => [...cells[0].matchAll(/--[a-z-]+/g)].map((m) => m[0]));
  for (const o of options) if (!flagRows.includes(o)) problems.push(`Command-line flags: ${o} (cli.ts) has no row`);
  for (const f of flagRows) if (!options.has(f)) problems.push(`Command-line flags: ${f} is not an option cli.ts parses`);
  return problems;
}

// ---- the tests ----------------------------------------------------------------------------

test("docs/endpoints-and-errors.md lists every PB_ERR_* code and JSON-RPC code of daemon/errors.ts, with their answers, and no other", () => {
  assert.deepEqual(errorTableProblems(errorsDoc()), []);
});

test("docs/configuration.md lists every config key (nested ones too), its variable and flag, and every CLI option, and no other", () => {
  assert.deepEqual(settingsProblems(configDoc()), []);
});

test("the schema walk reaches nested keys (a profile's include and expose)", () => {
  const keys = keyPaths(ConfigSchema as unknown as Schema);
  assert.ok(keys.includes("profiles") && keys.includes("profiles.NAME.include") && keys.includes("profiles.NAME.expose"), keys.join(", "));
  assert.ok(keys.includes("workerGroups") && !keys.some((k) => k.startsWith("workerGroups.")), "a record of lists is one key");
});

test("the checks can fail: a missing row, a wrong status, an invented code, key, variable or flag are each reported", () => {
  const errors = errorsDoc();
  const rateRow = errors.split("\n").find((l) => l.startsWith("| `PB_ERR_RATE_LIMITED`"));
  assert.ok(rateRow);
  assert.match(errorTableProblems(errors.replace(`${rateRow}\n`, "")).join("\n"), /PB_ERR_RATE_LIMITED .* has no row/);
  const bodyRow = errors.split("\n").find((l) => l.startsWith("| `PB_ERR_BODY_TOO_LARGE`"));
  assert.ok(bodyRow);
  assert.match(errorTableProblems(errors.replace(bodyRow, bodyRow.replace("| 413 |", "| 400 |"))).join("\n"), /PB_ERR_BODY_TOO_LARGE says HTTP 400/);
  assert.match(errorTableProblems(errors.replace(rateRow, `${rateRow}\n| \`PB_ERR_NO_SUCH_THING\` | x | — | — |`)).join("\n"), /PB_ERR_NO_SUCH_THING is not in daemon\/errors.ts/);

  const config = configDoc();
  const excludeRow = config.split("\n").find((l) => l.startsWith("| `profiles.NAME.exclude`"));
  assert.ok(excludeRow);
  assert.match(settingsProblems(config.replace(`${excludeRow}\n`, "")).join("\n"), /profiles\.NAME\.exclude .* has no row/);
  assert.match(settingsProblems(config.replace(excludeRow, `${excludeRow}\n| \`profiles.NAME.colour\` | | | x |`)).join("\n"), /profiles\.NAME\.colour is not a key/);
  const portRow = config.split("\n").find((l) => l.startsWith("| `port`"));
  assert.ok(portRow);
  assert.match(settingsProblems(config.replace(portRow, portRow.replace("`PATCHBAY_PORT`", "`PATCHBAY_PORTS`"))).join("\n"), /PATCHBAY_PORT, which its row does not name/);
  assert.match(settingsProblems(config.replace(portRow, portRow.replace("`--port`", "`--ports`"))).join("\n"), /--ports, which cli.ts does not parse/);
});
