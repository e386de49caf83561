/**
 * How many plugin loads run at once. A folder of 500 plugins loads in parallel, but not all
 * at once: each load compiles (esbuild) and boots a thread, and hundreds of those together
 * only fight over a few cores and memory. A load that takes long — an upstream server that
 * does not answer, a plugin whose setup waits on the network — keeps running under its own
 * deadline but gives its place to the next one after `holdMs`, so a few slow plugins cannot
 * hold up the rest of the folder. The worker pool bounds thread boots with one too.
 */
export class LoadQueue {
  private active = 0;
  private waiting: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly concurrency: number,
    private readonly holdMs: number,
  ) {}

  /**
   * Waits for a free place and takes it; the returned function gives it back (at most once
   * counts). After `holdMs` the place is given back anyway, whatever the holder still does.
   */
  async acquire(): Promise<() => void> {
    if (!this.closed && this.active >= this.concurrency) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      clearTimeout(timer);
      this.active--;
      this.waiting.shift()?.();
    };
    const timer = setTimeout(release, this.holdMs);
    timer.unref();
    return release;
  }

  /** Runs `load` when a place is free; resolves or rejects with it. */
  async run<T>(load: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await load();
    } finally {
      release();
    }
  }

  /** Loads waiting for a place go ahead at once (they find the manager closed and end). */
  close(): void {
    this.closed = true;
    this.waiting.splice(0).forEach((r) => r());
  }
}
