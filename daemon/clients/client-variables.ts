/**
 * A client's variables in an entry being moved to `NAME.mcp.json`, rewritten to the one form
 * Patchbay expands there: `${NAME}` (from the daemon's environment, then $PATCHBAY_HOME/.env).
 * Each client spells an environment variable its own way (client-table.ts `variables`):
 *
 * - `env-colon` (Cursor, VS Code, Windsurf): `${env:NAME}` becomes `${NAME}`; every other
 *   `${…}` is the editor's own — VS Code's `${input:id}` (it prompts the user),
 *   `${workspaceFolder}`, `${userHome}` — even when it looks like a plain name.
 * - `braces` (Claude Code, Kiro): `${NAME}` is already Patchbay's form; anything else in
 *   `${…}` (Claude Code's `${NAME:-default}`) is the client's own.
 * - `dollar` (Gemini CLI): `${NAME}` and a bare `$NAME`, which becomes `${NAME}`.
 * - `none` (Claude Desktop expands nothing): the strings are left exactly as they are.
 *
 * A variable that is the client's own means nothing to Patchbay, which has no workspace and
 * cannot prompt: the entry is reported as not movable (it stays in the client) rather than
 * moved with a string that would reach the server literally.
 */
import type { ClientSpec } from "./client-table.ts";

export type Translated<T> = { ok: true; value: T } | { ok: false; variable: string };

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function translateString(s: string, syntax: ClientSpec["variables"]): Translated<string> {
  if (syntax === "none") return { ok: true, value: s };
  let foreign: string | undefined;
  let out = s.replace(/\$\{([^}]*)\}/g, (whole, inner: string) => {
    if (syntax === "env-colon") {
      const env = /^env:([A-Za-z_][A-Za-z0-9_]*)$/.exec(inner);
      if (env) return `\${${env[1]}}`;
    } else if (NAME.test(inner)) return whole;
    foreign ??= whole;
    return whole;
  });
  if (foreign !== undefined) return { ok: false, variable: foreign };
  // a bare $NAME (a `${` never matches: `{` is not a name's first character)
  if (syntax === "dollar") out = out.replace(/\$([A-Za-z_][A-Za-z0-9_]*)/g, "${$1}");
  return { ok: true, value: out };
}

export function translateVariables(value: unknown, syntax: ClientSpec["variables"]): Translated<unknown> {
  if (typeof value === "string") return translateString(value, syntax);
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const v of value) {
      const t = translateVariables(v, syntax);
      if (!t.ok) return t;
      out.push(t.value);
    }
    return { ok: true, value: out };
  }
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const t = translateVariables(v, syntax);
      if (!t.ok) return t;
      out[k] = t.value;
    }
    return { ok: true, value: out };
  }
  return { ok: true, value };
}
