/**
 * Runs inside a plugin worker: checks a plugin's default export, turns its schemas into JSON
 * Schema for the manifest, and keeps the callable parts indexed for the worker to dispatch.
 * Every rejection names the bad field, e.g. `tools.create_task.handler: must be a function`.
 *
 * A JSON Schema input or output is advertised exactly as given (its `$schema` too) and
 * validated with the dialect its `$schema` names: draft-07 when it names none (ajv's
 * default), 2019-09 and 2020-12 with ajv's classes for them.
 */
import type { ValidateFunction } from "ajv";
import type { z } from "zod";
import type { PluginManifest, PromptInfo, ResourceInfo, ResourceTemplateInfo, ToolInfo } from "../manifest.ts";
import { PluginShapeError } from "../../errors.ts";
import { PLUGIN_NAME_PATTERN, validPluginName } from "../naming.ts";
import { UriTemplate } from "../uri-template.ts";

type AnyFn = (...args: any[]) => unknown;

/** Validates handler arguments; returns parsed args or an error message. */
export type ArgValidator = (args: unknown) => { ok: true; value: Record<string, unknown> } | { ok: false; message: string };

export interface LoadedTool {
  info: ToolInfo;
  validate: ArgValidator;
  handler: AnyFn;
  hasOutput: boolean;
  /** checks a successful result's `structuredContent` against the tool's output schema */
  checkOutput?: ArgValidator;
}
export interface LoadedResource { info: ResourceInfo; read: AnyFn }
export interface LoadedTemplate { info: ResourceTemplateInfo; template: UriTemplate; read: AnyFn; list?: AnyFn; complete: Record<string, AnyFn> }
export interface LoadedPrompt { info: PromptInfo; validate: ArgValidator; render: AnyFn; complete: Record<string, AnyFn> }

export interface LoadedPlugin {
  manifest: PluginManifest;
  tools: Map<string, LoadedTool>;
  resources: Map<string, LoadedResource>;
  templates: Map<string, LoadedTemplate>;
  prompts: Map<string, LoadedPrompt>;
  setup?: AnyFn;
  teardown?: AnyFn;
  /** the plugin's `keepAlive`: true never parks, false parks even with background work */
  keepAlive?: boolean;
}

/** A plugin's default export has the wrong shape (in the error catalogue). */
export { PluginShapeError };

// zod and ajv are loaded only when a plugin uses them (see preloadSchemaLibraries): a worker
// thread costs about 4 MiB less without ajv, and a plain JSON Schema plugin needs no zod.
let zod: typeof z | undefined;

/** The JSON Schema dialects a plugin's schemas may name in `$schema`. */
export type JsonSchemaDialect = "draft-07" | "2019-09" | "2020-12";

/** Each dialect's meta-schema URI, as ajv knows it. */
const DIALECT_URIS: Record<JsonSchemaDialect, string> = {
  "draft-07": "http://json-schema.org/draft-07/schema",
  "2019-09": "https://json-schema.org/draft/2019-09/schema",
  "2020-12": "https://json-schema.org/draft/2020-12/schema",
};

interface SchemaCompiler {
  compile(schema: object): ValidateFunction;
}
/** One ajv instance per dialect, loaded on first need. */
const compilers = new Map<JsonSchemaDialect, SchemaCompiler>();

/**
 * The dialect a JSON Schema names in `$schema` (draft-07 when it names none), or
 * `undefined` for a `$schema` no dialect here matches. `http:`/`https:` and a trailing `#`
 * do not matter.
 */
export function dialectOf(schema: Record<string, unknown>): JsonSchemaDialect | undefined {
  const uri = schema.$schema;
  if (uri === undefined) return "draft-07";
  if (typeof uri !== "string") return undefined;
  const norm = uri.trim().replace(/#$/, "").replace(/^http:/, "https:");
  for (const [dialect, known] of Object.entries(DIALECT_URIS) as [JsonSchemaDialect, string][]) {
    if (norm === known.replace(/^http:/, "https:")) return dialect;
  }
  return undefined;
}

/**
 * ajv is CommonJS: Node's own import() exposes its classes as named exports, but bundled into
 * dist they may sit only on the default export (the module object). Accept either.
 */
function ajvClass<T>(mod: Record<string, unknown>, name: string): T {
  const direct = mod[name] ?? (mod.default as Record<string, unknown> | undefined)?.[name];
  if (typeof direct !== "function") throw new Error(`ajv does not export ${name}`);
  return direct as T;
}

type AjvClass = new (opts: object) => SchemaCompiler;

async function loadCompiler(dialect: JsonSchemaDialect): Promise<void> {
  if (compilers.has(dialect)) return;
  // addUsedSchema: false, so two tools whose schemas share an `$id` do not collide.
  const opts = { allErrors: true, strict: false, addUsedSchema: false };
  switch (dialect) {
    case "draft-07":
      compilers.set(dialect, new (ajvClass<AjvClass>(await import("ajv"), "Ajv"))(opts));
      break;
    case "2019-09":
      compilers.set(dialect, new (ajvClass<AjvClass>(await import("ajv/dist/2019.js"), "Ajv2019"))(opts));
      break;
    case "2020-12":
      compilers.set(dialect, new (ajvClass<AjvClass>(await import("ajv/dist/2020.js"), "Ajv2020"))(opts));
      break;
  }
}

function needZod(): typeof z {
  if (!zod) throw new Error("internal: zod was not preloaded");
  return zod;
}
function needCompiler(dialect: JsonSchemaDialect): SchemaCompiler {
  const c = compilers.get(dialect);
  if (!c) throw new Error(`internal: ajv (${dialect}) was not preloaded`);
  return c;
}

function walkSchemas(def: unknown, found: { zod: boolean; json: Set<JsonSchemaDialect> }, depth = 0) {
  if (depth > 4 || !isPlainObject(def)) return;
  for (const [key, value] of Object.entries(def)) {
    if (isZodSchema(value)) found.zod = true;
    else if ((key === "input" || key === "output") && isPlainObject(value)) {
      if (Object.values(value).some(isZodSchema)) found.zod = true;
      else {
        // an unknown $schema is reported by compileInput, with the field it is in
        const dialect = dialectOf(value);
        if (dialect) found.json.add(dialect);
      }
    } else if (key === "arguments" && isPlainObject(value)) found.zod = true;
    else walkSchemas(value, found, depth + 1);
  }
}

/** Imports the schema libraries a plugin definition needs, before {@link loadPluginShape}. */
export async function preloadSchemaLibraries(def: unknown): Promise<void> {
  const found = { zod: false, json: new Set<JsonSchemaDialect>() };
  walkSchemas(def, found);
  if (found.zod && !zod) zod = (await import("zod")).z;
  await Promise.all([...found.json].map(loadCompiler));
}

function isZodSchema(v: unknown): v is z.ZodType {
  return typeof v === "object" && v !== null && ("_zod" in v || "_def" in v) && typeof (v as { safeParse?: unknown }).safeParse === "function";
}
function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
function isZodShape(v: unknown): v is Record<string, z.ZodType> {
  return isPlainObject(v) && !isZodSchema(v) && Object.keys(v).length > 0 && Object.values(v).every(isZodSchema);
}

function formatZodError(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ");
}

function toJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const json = needZod().toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

/** Accepts a zod shape, zod object or JSON Schema; returns JSON Schema and a validator. */
export function compileInput(input: unknown, where: string, root = "(arguments)"): { schema: Record<string, unknown>; validate: ArgValidator } {
  if (input === undefined) {
    return { schema: { type: "object", properties: {} }, validate: (a) => ({ ok: true, value: (isPlainObject(a) ? a : {}) as Record<string, unknown> }) };
  }
  const zodSchema = isZodSchema(input) ? input : isZodShape(input) ? needZod().object(input) : undefined;
  if (zodSchema) {
    const schema = toJsonSchema(zodSchema);
    if (schema.type !== "object") throw new PluginShapeError(`${where}: must describe an object (got ${String(schema.type)})`);
    return {
      schema,
      validate: (a) => {
        const r = zodSchema.safeParse(a ?? {});
        return r.success ? { ok: true, value: r.data as Record<string, unknown> } : { ok: false, message: formatZodError(r.error) };
      },
    };
  }
  if (isPlainObject(input)) {
    const schema = { ...input };
    if (schema.type === undefined) schema.type = "object";
    if (schema.type !== "object") throw new PluginShapeError(`${where}: JSON Schema must have type "object"`);
    const dialect = dialectOf(schema);
    if (!dialect) {
      throw new PluginShapeError(`${where}.$schema: unsupported JSON Schema dialect ${JSON.stringify(schema.$schema)} (supported: ${Object.values(DIALECT_URIS).join(", ")}, or none for draft-07)`);
    }
    let check: ValidateFunction;
    try {
      // validated under the dialect's canonical URI (ajv knows no `http:` 2020-12 or `#` variants); advertised as given
      const canonical = schema.$schema === undefined ? schema : { ...schema, $schema: DIALECT_URIS[dialect] };
      check = needCompiler(dialect).compile(canonical);
    } catch (err) {
      throw new PluginShapeError(`${where}: invalid JSON Schema: ${(err as Error).message}`);
    }
    return {
      schema,
      validate: (a) => {
        const value = (a ?? {}) as Record<string, unknown>;
        if (check(value)) return { ok: true, value };
        const msg = (check.errors ?? []).map((e) => `${e.instancePath.replace(/^\//, "").replace(/\//g, ".") || root}: ${e.message}`).join("; ");
        return { ok: false, message: msg };
      },
    };
  }
  throw new PluginShapeError(`${where}: must be a zod shape, a zod object or a JSON Schema object`);
}

function optString(obj: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = obj[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw new PluginShapeError(`${where}.${key}: must be a string`);
  return v;
}
function optBool(obj: Record<string, unknown>, key: string, where: string): boolean | undefined {
  const v = obj[key];
  if (v !== undefined && typeof v !== "boolean") throw new PluginShapeError(`${where}.${key}: must be true or false`);
  return v;
}

function needFn(obj: Record<string, unknown>, key: string, where: string): AnyFn {
  const v = obj[key];
  if (typeof v !== "function") throw new PluginShapeError(`${where}.${key}: must be a function`);
  return v as AnyFn;
}
function optFn(obj: Record<string, unknown>, key: string, where: string): AnyFn | undefined {
  return obj[key] === undefined ? undefined : needFn(obj, key, where);
}
function section(def: Record<string, unknown>, key: string): Record<string, unknown> {
  const v = def[key];
  if (v === undefined) return {};
  if (!isPlainObject(v)) throw new PluginShapeError(`${key}: must be an object keyed by name`);
  return v;
}
function entry(v: unknown, where: string): Record<string, unknown> {
  if (!isPlainObject(v)) throw new PluginShapeError(`${where}: must be an object`);
  return v;
}
function completers(obj: Record<string, unknown>, where: string): Record<string, AnyFn> {
  const c = obj.complete;
  if (c === undefined) return {};
  if (!isPlainObject(c)) throw new PluginShapeError(`${where}.complete: must be an object of functions`);
  for (const [k, fn] of Object.entries(c)) if (typeof fn !== "function") throw new PluginShapeError(`${where}.complete.${k}: must be a function`);
  return c as Record<string, AnyFn>;
}

const KNOWN_KEYS = new Set(["name", "version", "description", "tools", "resources", "resourceTemplates", "prompts", "setup", "teardown", "keepAlive"]);

/** One entry of `tools`. */
function loadTool(toolName: string, raw: unknown): LoadedTool {
  const where = `tools.${toolName}`;
  // Longer or unusual names are fine here: the exposed name is sanitized and shortened.
  if (toolName.length === 0 || toolName.length > 256) throw new PluginShapeError(`${where}: tool names must be 1 to 256 characters`);
  const t = entry(raw, where);
  const handler = needFn(t, "handler", where);
  const { schema, validate } = compileInput(t.input, `${where}.input`);
  const output = t.output === undefined ? undefined : compileInput(t.output, `${where}.output`, "(result)");
  if (t.annotations !== undefined && !isPlainObject(t.annotations)) throw new PluginShapeError(`${where}.annotations: must be an object`);
  const info: ToolInfo = {
    name: toolName,
    title: optString(t, "title", where),
    description: optString(t, "description", where),
    inputSchema: schema,
    outputSchema: output?.schema,
    annotations: t.annotations as Record<string, unknown> | undefined,
  };
  return { info, validate, handler, hasOutput: output !== undefined, checkOutput: output?.validate };
}

/** One entry of `resources`, keyed by its URI. */
function loadResource(uri: string, raw: unknown): LoadedResource {
  const where = `resources["${uri}"]`;
  if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(uri)) throw new PluginShapeError(`${where}: key must be a URI with a scheme (e.g. "notes://all")`);
  const r = entry(raw, where);
  const info: ResourceInfo = { uri, name: optString(r, "name", where) ?? uri, title: optString(r, "title", where), description: optString(r, "description", where), mimeType: optString(r, "mimeType", where) };
  return { info, read: needFn(r, "read", where) };
}

/** One entry of `resourceTemplates`, keyed by its URI template. */
function loadTemplate(uriTemplate: string, raw: unknown): LoadedTemplate {
  const where = `resourceTemplates["${uriTemplate}"]`;
  const r = entry(raw, where);
  let template: UriTemplate;
  try {
    template = new UriTemplate(uriTemplate);
  } catch (err) {
    throw new PluginShapeError(`${where}: invalid URI template: ${(err as Error).message}`);
  }
  const complete = completers(r, where);
  const list = optFn(r, "list", where);
  const info: ResourceTemplateInfo = {
    uriTemplate,
    name: optString(r, "name", where) ?? uriTemplate,
    title: optString(r, "title", where),
    description: optString(r, "description", where),
    mimeType: optString(r, "mimeType", where),
    listable: list !== undefined,
    completable: Object.keys(complete),
  };
  return { info, template, read: needFn(r, "read", where), list, complete };
}

type PromptArguments = { args: PromptInfo["arguments"]; validate: ArgValidator };

/** A prompt's `arguments` given as a list of { name, description, required }. */
function listedPromptArguments(list: unknown[], where: string): PromptArguments {
  const args = list.map((a, i) => {
    const o = entry(a, `${where}.arguments[${i}]`);
    const n = optString(o, "name", `${where}.arguments[${i}]`);
    if (!n) throw new PluginShapeError(`${where}.arguments[${i}].name: required`);
    return { name: n, description: optString(o, "description", `${where}.arguments[${i}]`), required: o.required === true };
  });
  const required = args.filter((a) => a.required).map((a) => a.name);
  const validate: ArgValidator = (a) => {
    const value = (isPlainObject(a) ? a : {}) as Record<string, unknown>;
    const missing = required.filter((r) => value[r] === undefined);
    return missing.length ? { ok: false, message: `missing required argument${missing.length > 1 ? "s" : ""}: ${missing.join(", ")}` } : { ok: true, value };
  };
  return { args, validate };
}

/** A prompt's `arguments` given as a zod shape or zod object. */
function zodPromptArguments(given: unknown, where: string): PromptArguments {
  const shapeObj = isZodShape(given) ? needZod().object(given) : isZodSchema(given) ? given : undefined;
  if (!shapeObj) throw new PluginShapeError(`${where}.arguments: must be a zod shape or a list of { name, description, required }`);
  const shape = (shapeObj as z.ZodObject).shape as Record<string, z.ZodType> | undefined;
  if (!shape) throw new PluginShapeError(`${where}.arguments: must be a zod object`);
  const args = Object.entries(shape).map(([n, s]) => ({ name: n, description: s.description, required: !s.safeParse(undefined).success }));
  const validate: ArgValidator = (a) => {
    const r = shapeObj.safeParse(a ?? {});
    return r.success ? { ok: true, value: r.data as Record<string, unknown> } : { ok: false, message: formatZodError(r.error) };
  };
  return { args, validate };
}

/** One entry of `prompts`. */
function loadPrompt(promptName: string, raw: unknown): LoadedPrompt {
  const where = `prompts.${promptName}`;
  if (promptName.length === 0 || promptName.length > 256) throw new PluginShapeError(`${where}: prompt names must be 1 to 256 characters`);
  const p = entry(raw, where);
  const complete = completers(p, where);
  const { args, validate }: PromptArguments = Array.isArray(p.arguments)
    ? listedPromptArguments(p.arguments, where)
    : p.arguments !== undefined
      ? zodPromptArguments(p.arguments, where)
      : { args: [], validate: (a) => ({ ok: true, value: (isPlainObject(a) ? a : {}) as Record<string, unknown> }) };
  const info: PromptInfo = { name: promptName, title: optString(p, "title", where), description: optString(p, "description", where), arguments: args, completable: Object.keys(complete) };
  return { info, validate, render: needFn(p, "render", where), complete };
}

/** Checks a plugin's default export and indexes it. Throws {@link PluginShapeError}. */
export function loadPluginShape(def: unknown, defaultName: string): LoadedPlugin {
  if (!isPlainObject(def)) throw new PluginShapeError("default export: must be an object (use `export default definePlugin({...})`)");
  for (const key of Object.keys(def)) if (!KNOWN_KEYS.has(key)) throw new PluginShapeError(`${key}: unknown field (expected one of ${[...KNOWN_KEYS].join(", ")})`);
  const name = optString(def, "name", "plugin") ?? defaultName;
  // Only a name the plugin sets can be invalid: one from the file name is made valid.
  if (!PLUGIN_NAME_PATTERN.test(name)) throw new PluginShapeError(`name: ${JSON.stringify(name)} is not a valid plugin name: use 1 to 48 of A-Z a-z 0-9 _ - (such as "${validPluginName(name)}"), or leave name out to use the file name`);
  const plugin: LoadedPlugin = {
    manifest: { name, version: optString(def, "version", "plugin"), description: optString(def, "description", "plugin"), tools: [], resources: [], resourceTemplates: [], prompts: [] },
    tools: new Map(),
    resources: new Map(),
    templates: new Map(),
    prompts: new Map(),
    setup: optFn(def, "setup", "plugin"),
    teardown: optFn(def, "teardown", "plugin"),
    keepAlive: optBool(def, "keepAlive", "plugin"),
  };
  const { manifest } = plugin;
  for (const [toolName, raw] of Object.entries(section(def, "tools"))) {
    const tool = loadTool(toolName, raw);
    plugin.tools.set(toolName, tool);
    manifest.tools.push(tool.info);
  }
  for (const [uri, raw] of Object.entries(section(def, "resources"))) {
    const resource = loadResource(uri, raw);
    plugin.resources.set(uri, resource);
    manifest.resources.push(resource.info);
  }
  for (const [uriTemplate, raw] of Object.entries(section(def, "resourceTemplates"))) {
    const template = loadTemplate(uriTemplate, raw);
    plugin.templates.set(uriTemplate, template);
    manifest.resourceTemplates.push(template.info);
  }
  for (const [promptName, raw] of Object.entries(section(def, "prompts"))) {
    const prompt = loadPrompt(promptName, raw);
    plugin.prompts.set(promptName, prompt);
    manifest.prompts.push(prompt.info);
  }
  return plugin;
}
