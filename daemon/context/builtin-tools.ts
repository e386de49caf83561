/**
 * Patchbay's own two tools for search mode, in its namespace (`patchbay` + the configured
 * separator): `search_tools` finds tools by what the model wants to do, `call_tool` calls one
 * by name. They are listed only in search mode; a client that kept their names across a
 * switch back to `all` can still call them (unless a plugin's tool has the same name, which
 * then wins: its author chose it).
 */
import type { Tool } from "@modelcontextprotocol/server";

export const SEARCH_LIMIT_DEFAULT = 5;
export const SEARCH_LIMIT_MAX = 20;

export interface BuiltinTools {
  searchName: string;
  callName: string;
  /** both, as tools/list items */
  items: Tool[];
}

export function builtinTools(separator: string): BuiltinTools {
  const searchName = `patchbay${separator}search_tools`;
  const callName = `patchbay${separator}call_tool`;
  const search: Tool = {
    name: searchName,
    title: "Search tools",
    description: `Find tools for a task (most tools are not listed, to save context). Returns the best matches with their input schemas; call one with ${callName}.`,
    inputSchema: {
      type: "object",
      properties: {
        query: { type: "string", description: "What you want to do: plain words, several keywords and synonyms help" },
        limit: { type: "integer", minimum: 1, maximum: SEARCH_LIMIT_MAX, default: SEARCH_LIMIT_DEFAULT },
      },
      required: ["query"],
    },
    annotations: { readOnlyHint: true, openWorldHint: false },
  };
  const call: Tool = {
    name: callName,
    title: "Call a tool",
    description: `Call a tool found with ${searchName}, by its exact name, with arguments matching its input schema.`,
    inputSchema: {
      type: "object",
      properties: {
        name: { type: "string" },
        arguments: { type: "object" },
      },
      required: ["name"],
    },
    annotations: { openWorldHint: true },
  };
  return { searchName, callName, items: [search, call] };
}
