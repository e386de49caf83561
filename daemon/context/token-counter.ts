/**
 * Counts what definitions cost a model, in o200k tokens (an open encoding: the counts are an
 * estimate of any one model's tokenizer). Counting happens in a thread of its own
 * (token-count-thread.ts) that ends after `idleMs` without work, so the ~55 MB the encoding
 * occupies is paid only while plugins change. Counts are cached by text, so a reload counts
 * only the definitions that changed.
 *
 * Never throws into its callers: a failed count (no thread, a crash) falls back to the
 * bytes/4 estimate and says so with `exact: false`.
 */
import { Worker } from "node:worker_threads";
import { join } from "node:path";
import { distDir } from "../package-root.ts";
import type { CountReply, CountRequest } from "./token-count-thread.ts";

export const TOKEN_COUNT_ENTRY = join(distDir, "token-count-thread.js");

/** The usual rule of thumb for JSON and English: about four bytes a token. */
export function estimateTokens(bytes: number): number {
  return Math.ceil(bytes / 4);
}

/** Texts kept in the cache at most; past it the oldest half is dropped. */
const MAX_CACHED = 50_000;

export class TokenCounter {
  private readonly cache = new Map<string, number>();
  private worker?: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (c: number[] | undefined) => void }>();
  private idleTimer?: NodeJS.Timeout;
  /** set once counting failed: the estimate is used from then on */
  failed?: string;

  constructor(private readonly opts: { idleMs?: number; entry?: string } = {}) {}

  /** The cached count of a text, if it was counted. */
  cached(text: string): number | undefined {
    return this.cache.get(text);
  }

  /** Counts the texts not yet cached; resolves when they are (never rejects). */
  async countAll(texts: string[]): Promise<void> {
    const missing = [...new Set(texts.filter((t) => !this.cache.has(t)))];
    if (missing.length === 0 || this.failed) return;
    const counts = await this.ask(missing);
    if (!counts) return;
    if (this.cache.size + missing.length > MAX_CACHED) {
      let drop = Math.max(this.cache.size / 2, this.cache.size + missing.length - MAX_CACHED);
      for (const k of this.cache.keys()) {
        if (drop-- <= 0) break;
        this.cache.delete(k);
      }
    }
    missing.forEach((t, i) => this.cache.set(t, counts[i]));
  }

  private ask(texts: string[]): Promise<number[] | undefined> {
    return new Promise((resolve) => {
      try {
        const w = this.thread();
        const id = this.nextId++;
        this.waiting.set(id, { resolve });
        if (this.idleTimer) clearTimeout(this.idleTimer);
        w.postMessage({ id, texts } satisfies CountRequest);
      } catch (err) {
        this.fail((err as Error).message);
        resolve(undefined);
      }
    });
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(this.opts.entry ?? TOKEN_COUNT_ENTRY, { stdout: true, stderr: true, resourceLimits: { maxOldGenerationSizeMb: 256 } });
    w.unref();
    w.on("message", (reply: CountReply) => {
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (reply.error) this.fail(reply.error);
      waiter?.resolve(reply.counts);
      if (this.waiting.size === 0) this.armIdle();
    });
    w.on("error", (err) => this.fail(err.message));
    w.on("exit", () => {
      if (this.worker === w) this.worker = undefined;
      for (const { resolve } of this.waiting.values()) resolve(undefined);
      this.waiting.clear();
    });
    this.worker = w;
    return w;
  }

  private armIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => void this.worker?.terminate(), this.opts.idleMs ?? 10_000);
    this.idleTimer.unref();
  }

  private fail(message: string): void {
    this.failed ??= message;
    void this.worker?.terminate();
  }

  /** Whether the counting thread is running (tests: it must end when idle). */
  get running(): boolean {
    return this.worker !== undefined;
  }

  async close(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    await this.worker?.terminate();
  }
}
