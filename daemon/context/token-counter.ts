/**
 * Counts what definitions cost a model, in o200k tokens (an open encoding: the counts are an
 * estimate of any one model's tokenizer). Counting happens in a child process
 * (token-count-process.ts) that exits after `idleMs` without work, so the ~55 MB the
 * encoding occupies is paid only while plugins change. Counts are cached by text, so a reload
 * counts only the definitions that changed.
 *
 * Never throws into its callers: a failed count (no process, a crash) leaves the bytes/4
 * estimate in place (`exact: false` in the costs) and is not retried.
 */
import { fork, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { distDir } from "../package-root.ts";
import type { CountReply, CountRequest } from "./token-count-process.ts";

/** how long close() waits for the counting process to exit */
const CLOSE_WAIT_MS = 2_000;

export const TOKEN_COUNT_ENTRY = join(distDir, "token-count-process.js");

/** The usual rule of thumb for JSON and English: about four bytes a token. */
export function estimateTokens(bytes: number): number {
  return Math.ceil(bytes / 4);
}

/** Texts kept in the cache at most; past it the oldest half is dropped. */
const MAX_CACHED = 50_000;

export class TokenCounter {
  private readonly cache = new Map<string, number>();
  private child?: ChildProcess;
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
        const c = this.process();
        const id = this.nextId++;
        this.waiting.set(id, { resolve });
        if (this.idleTimer) clearTimeout(this.idleTimer);
        // held while a count is pending (a caller awaits it), let go when idle
        c.ref();
        c.channel?.ref();
        c.send({ id, texts } satisfies CountRequest);
      } catch (err) {
        this.fail((err as Error).message);
        resolve(undefined);
      }
    });
  }

  private process(): ChildProcess {
    if (this.child) return this.child;
    // execArgv: none of the daemon's (a test runner's loader would slow every start)
    const c = fork(this.opts.entry ?? TOKEN_COUNT_ENTRY, [], { execArgv: [], stdio: ["ignore", "ignore", "ignore", "ipc"], serialization: "json" });
    c.on("message", (reply: CountReply) => {
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (reply.error) this.fail(reply.error);
      waiter?.resolve(reply.counts);
      if (this.waiting.size === 0) {
        c.unref();
        c.channel?.unref();
        this.armIdle();
      }
    });
    // A process let go when idle may still be exiting while a new one counts: only the
    // current one's errors and exit concern the waiting counts.
    c.on("error", (err) => {
      if (this.child === c) this.fail(err.message);
    });
    c.on("exit", (code, signal) => {
      if (this.child !== c) return;
      this.child = undefined;
      if (this.waiting.size > 0 && !this.closing) this.fail(`the token-counting process exited (${signal ?? code})`);
      for (const { resolve } of this.waiting.values()) resolve(undefined);
      this.waiting.clear();
    });
    // an idle child must not keep the daemon's event loop alive
    c.unref();
    c.channel?.unref();
    this.child = c;
    return c;
  }

  private armIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      // forgotten before it is let go, so a count asked meanwhile starts a new process
      // instead of writing to a closing channel
      const c = this.child;
      this.child = undefined;
      c?.disconnect();
    }, this.opts.idleMs ?? 10_000);
    this.idleTimer.unref();
  }

  private fail(message: string): void {
    this.failed ??= message;
    this.child?.kill();
  }

  private closing = false;

  /** Whether the counting process is running (tests: it must end when idle). */
  get running(): boolean {
    return this.child !== undefined;
  }

  /** Ends the counting process, if any, and waits for it to be gone. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    // Held by a timer of its own, not only by the child: under load the child's handle was
    // seen gone with no exit event to come (a test's event loop emptied inside this await,
    // and a daemon would end here, before the rest of its shutdown: state file, telemetry).
    let timer: NodeJS.Timeout | undefined;
    const gone = new Promise<void>((resolve) => {
      c.once("exit", () => resolve());
      timer = setTimeout(resolve, CLOSE_WAIT_MS);
    });
    c.ref();
    c.kill();
    await gone;
    clearTimeout(timer);
  }
}
