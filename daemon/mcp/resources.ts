/** resources/list, resources/templates/list and resources/read over the live registry. */
import { ProtocolError, ProtocolErrorCode, ResourceNotFoundError, type ReadResourceResult, type Resource } from "@modelcontextprotocol/server";
import { CallCancelledError, messageOf } from "../errors.ts";
import { visibleResource, visibleTemplates } from "../profiles.ts";
import { templateItem } from "../list-items.ts";
import { InputNeeded } from "./call-context.ts";
import { paginate } from "./pagination.ts";
import type { PatchbayServer } from "./patchbay-server.ts";

export function installResources(server: PatchbayServer): void {
  const { registry, pageSize } = server.deps;
  const profile = server.conn.profile;

  server.setRequestHandler("resources/list", (req, ctx) =>
    server.serve(ctx, { method: "resources/list" }, async (call) => {
      const fixed = [...registry.resources.values()].filter((r) => !profile || profile.allows(r.info.uri)).map((r) => r.info as Resource);
      // Templates marked listable enumerate their current resources in their plugin.
      const dynamic = await Promise.all(
        visibleTemplates(registry, profile)
          .filter((t) => t.info.listable)
          .map(async (t) => {
            try {
              return (await call.callPlugin(t.plugin, "list-template", t.info.uriTemplate, {})) as Resource[];
            } catch (err) {
              if (err instanceof CallCancelledError) throw err;
              call.logger.warn({ template: t.info.uriTemplate, err: messageOf(err) }, "listing a resource template failed");
              return [];
            }
          }),
      );
      const seen = new Set<string>();
      const all = [...fixed, ...dynamic.flat()].filter((r) => (seen.has(r.uri) ? false : (seen.add(r.uri), true)));
      const { page, nextCursor } = paginate(all, req.params?.cursor, pageSize);
      return { resources: page, nextCursor };
    }),
  );

  server.setRequestHandler("resources/templates/list", (req, ctx) =>
    server.serve(ctx, { method: "resources/templates/list" }, async () => {
      const all = visibleTemplates(registry, profile).map(templateItem);
      const { page, nextCursor } = paginate(all, req.params?.cursor, pageSize);
      return { resourceTemplates: page, nextCursor };
    }),
  );

  server.setRequestHandler("resources/read", (req, ctx) => {
    const uri = req.params.uri;
    // outside the profile is answered exactly as unknown
    const { fixed, tpl, plugin } = visibleResource(registry, profile, uri);
    const attributes: Record<string, string> = { "mcp.resource.uri": uri };
    if (plugin) attributes["patchbay.plugin.name"] = plugin.manifest.name;
    return server.serve(ctx, { method: "resources/read", target: uri, attributes }, async (call) => {
      // -32602 with data.uri on every revision (SEP-2164; the SDK maps a thrown -32002 to it too)
      if (!plugin) throw new ResourceNotFoundError(uri);
      try {
        return (await (fixed
          ? call.callPlugin(plugin, "resource", uri, {}, uri)
          : call.callPlugin(plugin, "template", tpl!.info.uriTemplate, { uri }, uri))) as ReadResourceResult;
      } catch (err) {
        if (err instanceof InputNeeded) return call.inputRequiredResult(err, uri);
        if (err instanceof CallCancelledError || err instanceof ProtocolError) throw err;
        throw new ProtocolError(ProtocolErrorCode.InternalError, `Reading ${uri} failed: ${messageOf(err)}`);
      }
    });
  });
}
