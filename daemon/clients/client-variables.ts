/**
 * A client's variables in an entry being moved to `NAME.mcp.json`, rewritten to the one form
 * Patchbay expands there: `${NAME}` (from the daemon's environment, then $PATCHBAY_HOME/.env).
 *
 * - `${env:NAME}` (Cursor, VS Code, Windsurf) means the same: rewritten to `${NAME}`.
 * - Gemini CLI also expands a bare `$NAME`: rewritten to `${NAME}` for that client only.
 * - Any other `${…}` belongs to the client — VS Code's `${input:id}` (it prompts the user),
 *   `${workspaceFolder}`, `${userHome}`, Claude Code's `${NAME:-default}` — and means nothing
 *   to Patchbay, which has no workspace and cannot prompt: the entry is reported as not
 *   movable (it stays in the client) rather than moved with a string that would reach the
 *   server literally.
 * - Claude Desktop expands nothing: its strings are left exactly as they are.
 */
import type { ClientSpec } from "./client-table.ts";

export type Translated<T> = { ok: true; value: T } | { ok: false; variable: string };

function translateString(s: string, syntax: ClientSpec["variables"]): Translated<string> {
  if (syntax === "none") return { ok: true, value: s };
  let foreign: string | undefined;
  let out = s.replace(/\$\{([^}]*)\}/g, (whole, inner: string) => {
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(inner)) return whole;
    const env = /^env:([A-Za-z_][A-Za-z0-9_]*)$/.exec(inner);
    if (env) return `\${${env[1]}}`;
    foreign ??= whole;
    return whole;
  });
  if (foreign !== undefined) return { ok: false, variable: foreign };
  // a bare $NAME not already inside ${…} (those start with "${", which this does not match)
  if (syntax === "dollar") out = out.replace(/\$([A-Za-z_][A-Za-z0-9_]*)/g, "${$1}");
  return { ok: true, value: out };
}

/** Rewrites every string in the value (arrays and objects walked; keys left alone). */
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
