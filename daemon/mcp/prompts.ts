/** prompts/list and prompts/get over the live registry. */
import { ProtocolError, ProtocolErrorCode, type GetPromptResult } from "@modelcontextprotocol/server";
import { CallCancelledError, messageOf, PluginCallError } from "../errors.ts";
import { visiblePrompt } from "../profiles.ts";
import { promptItem } from "../list-items.ts";
import { InputNeeded } from "./call-context.ts";
import { listingOf, profileListing } from "./listing.ts";
import { paginate } from "./pagination.ts";
import type { PatchbayServer } from "./patchbay-server.ts";

export function installPrompts(server: PatchbayServer): void {
  const { registry, pageSize } = server.deps;
  const profile = server.conn.profile;

  server.setRequestHandler("prompts/list", (req, ctx) =>
    server.serve(ctx, { method: "prompts/list" }, async () => {
      const { page, nextCursor } = paginate(profileListing(listingOf(registry.prompts, promptItem), profile), req.params?.cursor, pageSize);
      return { prompts: page, nextCursor };
    }),
  );

  server.setRequestHandler("prompts/get", (req, ctx) => {
    const name = req.params.name;
    // outside the profile is answered exactly as unknown
    const prompt = visiblePrompt(registry, profile, name);
    const attributes: Record<string, string> = { "gen_ai.prompt.name": name };
    if (prompt) attributes["patchbay.plugin.name"] = prompt.plugin.manifest.name;
    return server.serve(ctx, { method: "prompts/get", target: name, attributes, args: req.params.arguments }, async (call) => {
      if (!prompt) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown prompt: ${name}`);
      try {
        return (await call.callPlugin(prompt.plugin, "prompt", prompt.info.name, { args: req.params.arguments ?? {} }, name)) as GetPromptResult;
      } catch (err) {
        if (err instanceof InputNeeded) return call.inputRequiredResult(err, name);
        if (err instanceof CallCancelledError || err instanceof ProtocolError) throw err;
        if (err instanceof PluginCallError && err.detail.validation) throw new ProtocolError(ProtocolErrorCode.InvalidParams, err.message);
        throw new ProtocolError(ProtocolErrorCode.InternalError, `Prompt ${name} failed: ${messageOf(err)}`);
      }
    });
  });
}
