/**
 * The registry's entries as the list items a client receives in tools/list, prompts/list and
 * resources/templates/list. One definition of each shape, because the listing handlers and the
 * context-cost count (context/definition-costs.ts) must see the same JSON: a count of anything
 * else would not be what the model pays for.
 */
import type { Prompt, Tool } from "@modelcontextprotocol/server";
import type { ExposedPrompt, ExposedTemplate, ExposedTool } from "./registry.ts";

export function toolItem(t: ExposedTool): Tool {
  return {
    name: t.exposed,
    title: t.info.title,
    description: t.info.description,
    inputSchema: t.info.inputSchema as Tool["inputSchema"],
    outputSchema: t.info.outputSchema as Tool["outputSchema"],
    annotations: t.info.annotations,
  };
}

export function promptItem(p: ExposedPrompt): Prompt {
  return { name: p.exposed, title: p.info.title, description: p.info.description, arguments: p.info.arguments };
}

/** A resources/templates/list item (the SDK's `ResourceTemplate` export is its template class, not this shape). */
export interface TemplateItem {
  uriTemplate: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
}

export function templateItem(t: ExposedTemplate): TemplateItem {
  return { uriTemplate: t.info.uriTemplate, name: t.info.name, title: t.info.title, description: t.info.description, mimeType: t.info.mimeType };
}
