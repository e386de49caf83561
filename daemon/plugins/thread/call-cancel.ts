/**
 * A call's cancellation, made on first use: an AbortController costs about 2 µs, and most
 * handlers never look at `ctx.signal` and are never cancelled.
 */
export class CallCancel {
  private controller?: AbortController;
  get signal(): AbortSignal {
    return (this.controller ??= new AbortController()).signal;
  }
  abort(reason: unknown): void {
    (this.controller ??= new AbortController()).abort(reason);
  }
}
