/**
 * What a plugin keeps running between calls: referenced handles (timers, watchers, sockets,
 * servers, child processes, signal listeners). Requests in flight (an fs or DNS operation)
 * finish on their own and do not count; an unref()'d handle is invisible here.
 */
export class BackgroundWork {
  /** Resources the thread held before the plugin was imported (its message port), counted at load. */
  private readonly own = new Map<string, number>();

  /**
   * `shared`: other plugins run in the same thread, so what the thread keeps running cannot
   * be told apart per plugin, and it always counts as background work.
   */
  constructor(private readonly shared: boolean) {}

  /** Counts what the thread holds now, before the plugin is imported. */
  countOwn(): void {
    for (const k of process.getActiveResourcesInfo()) this.own.set(k, (this.own.get(k) ?? 0) + 1);
  }

  /** The kinds of handle the plugin keeps running, each once. */
  list(): string[] {
    if (this.shared) return ["a shared worker thread"];
    const own = new Map(this.own);
    const kinds = process.getActiveResourcesInfo().filter((k) => {
      const n = own.get(k) ?? 0;
      if (n > 0) {
        own.set(k, n - 1);
        return false;
      }
      return !/Req(Wrap|Callback)?$/.test(k) && k !== "Immediate";
    });
    return [...new Set(kinds)];
  }
}
