/**
 * Ends a plugin: its `teardown()` when the host stops it, or when the host parks it idle.
 * Parking is refused while calls are in flight or, unless forced, while the plugin keeps
 * work running (background-work.ts), which parking would silently stop.
 */
import type { BackgroundWork } from "./background-work.ts";
import type { CallsInFlight } from "./calls-in-flight.ts";
import type { ErrorSerializer } from "./error-serializer.ts";
import type { HostOutbox } from "./host-outbox.ts";
import type { LoadedPlugin } from "./plugin-shape.ts";

export class PluginTeardown {
  /** `plugin`: the plugin once its shape is known, whether or not its setup succeeded. */
  constructor(
    private readonly outbox: HostOutbox,
    private readonly errors: ErrorSerializer,
    private readonly calls: CallsInFlight,
    private readonly background: BackgroundWork,
    private readonly plugin: () => LoadedPlugin | undefined,
  ) {}

  /** Answers the host's "park": tears down and agrees, or refuses naming what still runs. */
  park(force: boolean): void {
    const busy = this.calls.size > 0;
    const background = busy ? ["calls in flight"] : this.background.list();
    if (busy || (background.length > 0 && !force)) {
      this.outbox.post({ type: "park-answer", ok: false, background });
      return;
    }
    void this.run().then(() => this.outbox.post({ type: "park-answer", ok: true, background: [] }));
  }

  /** Answers the host's "teardown". */
  teardown(): void {
    void this.run().then(() => this.outbox.post({ type: "torn-down" }));
  }

  private async run(): Promise<void> {
    try {
      await this.plugin()?.teardown?.();
    } catch (err) {
      this.outbox.post({ type: "log", level: "warn", message: "teardown threw", data: this.errors.serialize(err) });
    }
  }
}
