/** completion/complete for prompt arguments and resource template variables. */
import { ProtocolError, ProtocolErrorCode } from "@modelcontextprotocol/server";
import { CallCancelledError, messageOf } from "../errors.ts";
import { visiblePrompt, visibleTemplates } from "../profiles.ts";
import type { RegisteredPlugin } from "../registry.ts";
import type { PatchbayServer } from "./patchbay-server.ts";

/** Most values one completion answer carries (the spec's limit). */
const MAX_VALUES = 100;

export function installCompletions(server: PatchbayServer): void {
  const { registry } = server.deps;
  const profile = server.conn.profile;

  server.setRequestHandler("completion/complete", (req, ctx) =>
    server.serve(ctx, { method: "completion/complete" }, async (call) => {
      const { ref, argument } = req.params;
      let plugin: RegisteredPlugin;
      let target: string;
      let refType: "prompt" | "template";
      if (ref.type === "ref/prompt") {
        const p = visiblePrompt(registry, profile, ref.name);
        if (!p) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown prompt: ${ref.name}`);
        plugin = p.plugin;
        target = p.info.name;
        refType = "prompt";
      } else {
        const t = visibleTemplates(registry, profile).find((x) => x.info.uriTemplate === ref.uri);
        if (!t) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown resource template: ${ref.uri}`);
        plugin = t.plugin;
        target = t.info.uriTemplate;
        refType = "template";
      }
      let values: string[] = [];
      try {
        values = (await call.callPlugin(plugin, "complete", target, { args: { refType, argName: argument.name, value: argument.value } })) as string[];
      } catch (err) {
        if (err instanceof CallCancelledError) throw err;
        call.logger.warn({ err: messageOf(err) }, "completion failed");
      }
      return { completion: { values: values.slice(0, MAX_VALUES), total: values.length, hasMore: values.length > MAX_VALUES } };
    }),
  );
}
