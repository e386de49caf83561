/** Answers `resources/read` of a plugin's resource or template, and lists a template's resources. */
import { toReadResourceResult } from "../results.ts";
import { matchUriTemplate } from "../uri-template.ts";
import type { PluginInstance } from "./plugin-instance.ts";
import type { CallRequest } from "../worker-protocol.ts";
import type { CallContext } from "../../api.ts";

export async function readResource({ plugin }: PluginInstance, req: CallRequest, ctx: CallContext): Promise<unknown> {
  const r = plugin.resources.get(req.target);
  if (!r) throw new Error(`unknown resource ${req.target}`);
  return toReadResourceResult(await r.read(req.target, ctx), req.target, r.info.mimeType);
}

/** `req.target` names the template, `req.uri` the resource asked for. */
export async function readTemplate({ plugin }: PluginInstance, req: CallRequest, ctx: CallContext): Promise<unknown> {
  const t = plugin.templates.get(req.target);
  if (!t || !req.uri) throw new Error(`unknown resource template ${req.target}`);
  const vars = (matchUriTemplate(t.template, req.uri) ?? {}) as Record<string, string>;
  return toReadResourceResult(await t.read(req.uri, vars, ctx), req.uri, t.info.mimeType);
}

/** A template's `list(ctx)` (for `resources/list`), with the plugin's own context. */
export async function listTemplate({ plugin, ctx }: PluginInstance, req: CallRequest): Promise<unknown[]> {
  const t = plugin.templates.get(req.target);
  if (!t?.list) return [];
  const listed = await t.list(ctx);
  if (!Array.isArray(listed)) throw new Error(`resourceTemplates["${req.target}"].list must return an array`);
  return listed.map((r) => ({ mimeType: t.info.mimeType, ...r }));
}
