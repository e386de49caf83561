/**
 * Runs one call from the host to its result: opens it among the calls in flight, hands it
 * to its handler with a context of its own, and posts its result, with the plugin's span
 * when the host's span records.
 */
import { dispatchCall } from "./call-dispatch.ts";
import { callSpan, parseTraceparent, spanClock } from "./call-span.ts";
import type { CallsInFlight } from "./calls-in-flight.ts";
import type { ErrorSerializer } from "./error-serializer.ts";
import type { HostOutbox, ResultMessage } from "./host-outbox.ts";
import { callContext } from "./plugin-context.ts";
import type { PluginInstance } from "./plugin-instance.ts";
import { ValidationFailure } from "./validation-failure.ts";
import type { CallRequest } from "../worker-protocol.ts";

export class CallRunner {
  constructor(
    private readonly outbox: HostOutbox,
    private readonly calls: CallsInFlight,
    private readonly errors: ErrorSerializer,
  ) {}

  async run(instance: PluginInstance, req: CallRequest): Promise<void> {
    const cancel = this.calls.open(req.id);
    const parent = parseTraceparent(req.traceparent);
    const start = spanClock();
    let ok = true;
    let reply: ResultMessage;
    try {
      const value = await dispatchCall(instance, req, callContext(instance, req, cancel, this.outbox, this.calls));
      if (req.kind === "tool" && (value as { isError?: boolean }).isError) ok = false;
      reply = { type: "result", id: req.id, ok: true, value };
    } catch (err) {
      ok = false;
      reply = { type: "result", id: req.id, ok: false, error: this.errors.serialize(err, err instanceof ValidationFailure ? { validation: true } : {}) };
    } finally {
      this.calls.close(req.id);
    }
    // only a call whose host span records (telemetry on, sampled) has a use for the child span
    if (parent?.sampled) reply.span = callSpan(req, parent, start, ok, instance.ctx.pluginName);
    this.outbox.postResult(reply);
  }
}
