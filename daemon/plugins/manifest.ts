/**
 * The plugin domain: what a loaded plugin offers, as plain data. The worker builds it from
 * the plugin's definition (plugin-shape.ts), sends it to the host once when it has loaded,
 * and the host indexes it (registry.ts) and lists it to clients. It is data, not wire
 * protocol: the messages that carry it are in worker-protocol.ts.
 */

/** One tool, as listed to clients (before the host adds its `<plugin>__` prefix). */
export interface ToolInfo {
  name: string;
  title?: string;
  description?: string;
  /** JSON Schema of the arguments, as the plugin gave it (a `$schema` it names is kept). */
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}

/** One fixed resource. */
export interface ResourceInfo {
  uri: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
}

/** One resource template (RFC 6570 level 1). */
export interface ResourceTemplateInfo {
  uriTemplate: string;
  name: string;
  title?: string;
  description?: string;
  mimeType?: string;
  /** the template has a `list` callback: its resources appear in resources/list */
  listable: boolean;
  /** template variables with a completer */
  completable: string[];
}

/** One prompt. */
export interface PromptInfo {
  name: string;
  title?: string;
  description?: string;
  arguments: { name: string; description?: string; required?: boolean }[];
  /** arguments with a completer */
  completable: string[];
}

/** What a loaded plugin offers, as plain data the host can index. */
export interface PluginManifest {
  name: string;
  version?: string;
  description?: string;
  tools: ToolInfo[];
  resources: ResourceInfo[];
  resourceTemplates: ResourceTemplateInfo[];
  prompts: PromptInfo[];
}
