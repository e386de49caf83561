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
    description: `Finds the tools for a task among all the tools Patchbay serves (only a few are listed directly, to save context). Describe what you want to do in plain words; returns the best matching tools with their input schemas. Then call one with ${callName}.`,
    inputSchema: {
      type: "object",
      properties: {
        query: { type: "string", description: "What you want to do, in plain words (e.g. \"open a pull request\", \"read a file\")" },
        limit: { type: "integer", minimum: 1, maximum: SEARCH_LIMIT_MAX, default: SEARCH_LIMIT_DEFAULT, description: `How many tools to return (default ${SEARCH_LIMIT_DEFAULT}, at most ${SEARCH_LIMIT_MAX})` },
      },
      required: ["query"],
    },
    outputSchema: {
      type: "object",
      properties: {
        tools: {
          type: "array",
          items: { type: "object", properties: { name: { type: "string" }, title: { type: "string" }, description: { type: "string" }, inputSchema: { type: "object" } }, required: ["name", "inputSchema"] },
        },
      },
      required: ["tools"],
    },
    annotations: { title: "Search tools", readOnlyHint: true, openWorldHint: false },
  };
  const call: Tool = {
    name: callName,
    title: "Call a tool",
    description: `Calls a tool found with ${searchName} by its exact name, with arguments that match its input schema. Returns what the tool returns.`,
    inputSchema: {
      type: "object",
      properties: {
        name: { type: "string", description: `The tool's exact name, as ${searchName} returned it` },
        arguments: { type: "object", description: "The tool's arguments, matching its input schema" },
      },
      required: ["name"],
    },
    annotations: { title: "Call a tool", openWorldHint: true },
  };
  return { searchName, callName, items: [search, call] };
}
