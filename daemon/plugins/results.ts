/**
 * Turns handler shorthand into MCP results, inside the worker, so what crosses the thread
 * boundary is always plain MCP data.
 */
function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function jsonText(v: unknown): string {
  return JSON.stringify(v, null, 2) ?? "null";
}

/** A tool-level error: a result with `isError` whose text the model can read (not a protocol error). */
export function toolErrorResult(text: string): { content: { type: "text"; text: string }[]; isError: true } {
  return { content: [{ type: "text", text }], isError: true };
}

export function toCallToolResult(value: unknown, hasOutputSchema: boolean): Record<string, unknown> {
  if (value === undefined) return { content: [] };
  if (typeof value === "string") return { content: [{ type: "text", text: value }] };
  if (isObject(value) && Array.isArray(value.content)) return value;
  const result: Record<string, unknown> = { content: [{ type: "text", text: jsonText(value) }] };
  if (isObject(value) || hasOutputSchema) result.structuredContent = isObject(value) ? value : { result: value };
  return result;
}

export function toReadResourceResult(value: unknown, uri: string, mimeType?: string): Record<string, unknown> {
  if (typeof value === "string") return { contents: [{ uri, mimeType: mimeType ?? "text/plain", text: value }] };
  if (value instanceof Uint8Array) return { contents: [{ uri, mimeType: mimeType ?? "application/octet-stream", blob: Buffer.from(value).toString("base64") }] };
  if (isObject(value) && Array.isArray(value.contents)) return value;
  return { contents: [{ uri, mimeType: mimeType ?? "application/json", text: jsonText(value) }] };
}

export function toGetPromptResult(value: unknown, description?: string): Record<string, unknown> {
  if (typeof value === "string") return { description, messages: [{ role: "user", content: { type: "text", text: value } }] };
  if (Array.isArray(value)) return { description, messages: value };
  if (isObject(value) && Array.isArray(value.messages)) return { description, ...value };
  return { description, messages: [{ role: "user", content: { type: "text", text: jsonText(value) } }] };
}
