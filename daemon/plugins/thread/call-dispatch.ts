/** Hands a call to the handler for its kind. */
import { completeArgument } from "./argument-completion.ts";
import type { PluginInstance } from "./plugin-instance.ts";
import { getPrompt } from "./prompt-get.ts";
import { listTemplate, readResource, readTemplate } from "./resource-read.ts";
import { callTool } from "./tool-call.ts";
import type { CallRequest } from "../worker-protocol.ts";
import type { CallContext } from "../../api.ts";

// Not async: the caller awaits the handler's own promise, so a call takes as many
// microtask turns as it did when this switch held the handlers.
export function dispatchCall(instance: PluginInstance, req: CallRequest, ctx: CallContext): Promise<unknown> {
  switch (req.kind) {
    case "tool":
      return callTool(instance, req, ctx);
    case "resource":
      return readResource(instance, req, ctx);
    case "template":
      return readTemplate(instance, req, ctx);
    case "list-template":
      return listTemplate(instance, req);
    case "prompt":
      return getPrompt(instance, req, ctx);
    case "complete":
      return completeArgument(instance, req);
  }
}
