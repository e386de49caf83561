/**
 * Inside a plugin worker: the questions one call asks its client (`ctx.sample`,
 * `ctx.elicit`, `ctx.roots`). Each question gets a key (the plugin's `opts.key`, or `r<n>` for
 * the n-th ask of the run). A key whose answer the call brought along (`CallRequest.answers`,
 * recorded in earlier 2026-07-28 rounds) resolves at once; the others are sent to the host in
 * one "client-requests" message per tick and settle when its "client-responses" arrive. The
 * call's abort (cancellation, timeout, or the host ending a 2026-07-28 round) rejects every
 * question still waiting. Knows nothing of eras: the host decides how a question is asked.
 */
import type { ClientRequest, ClientRequestMethod, ClientResponse, SerializedError } from "../worker-protocol.ts";

/** Longest key accepted from `opts.key`. */
export const MAX_KEY_LENGTH = 256;

const LABEL: Record<ClientRequestMethod, string> = {
  "sampling/createMessage": "ctx.sample",
  "elicitation/create": "ctx.elicit",
  "roots/list": "ctx.roots",
};

interface Waiter {
  label: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

/** The error a question rejects with when the client (or the host for it) refused it. */
export function clientRequestError(e: SerializedError): Error & { code?: string | number } {
  const err = new Error(e.message) as Error & { code?: string | number };
  err.name = e.name && e.name !== "Error" ? e.name : "ClientRequestError";
  if (e.code !== undefined) err.code = e.code;
  return err;
}

export class CallAsks {
  private asked = 0;
  private readonly used = new Set<string>();
  private readonly waiting = new Map<string, Waiter>();
  private outbox: ClientRequest[] = [];
  private ended = false;
  private readonly onAbort = () => this.rejectAll((label) => this.abortError(label));

  /**
   * @param answers results recorded in earlier rounds, by key
   * @param signal the call's signal
   * @param send posts one "client-requests" batch; throws if the batch cannot be cloned
   */
  constructor(
    private readonly answers: Record<string, unknown> | undefined,
    private readonly signal: AbortSignal,
    private readonly send: (requests: ClientRequest[]) => void,
  ) {
    signal.addEventListener("abort", this.onAbort, { once: true });
  }

  /** How many questions wait for an answer from the host. */
  get pending(): number {
    return this.waiting.size;
  }

  /** One question; `params` go to the client unchanged. */
  ask(method: ClientRequestMethod, params: unknown, opts: { key?: unknown } | undefined): Promise<unknown> {
    const label = LABEL[method];
    const n = this.asked++;
    const key = opts?.key === undefined ? `r${n}` : opts.key;
    if (typeof key !== "string" || key.length === 0 || key.length > MAX_KEY_LENGTH) {
      return Promise.reject(new TypeError(`${label}: opts.key must be a string of 1 to ${MAX_KEY_LENGTH} characters`));
    }
    if (method !== "roots/list" && (typeof params !== "object" || params === null || Array.isArray(params))) {
      return Promise.reject(new TypeError(`${label}(params): params must be an object (the MCP ${method} params)`));
    }
    if (this.used.has(key)) {
      return Promise.reject(new Error(`${label}: the key "${key}" was already used in this call; give each question its own key`));
    }
    this.used.add(key);
    if (this.answers && Object.hasOwn(this.answers, key)) return Promise.resolve(this.answers[key]);
    if (this.signal.aborted) return Promise.reject(this.abortError(label));
    if (this.ended) return Promise.reject(new Error(`${label}: the call has already ended`));
    return new Promise((resolve, reject) => {
      this.waiting.set(key, { label, resolve, reject });
      this.outbox.push(method === "roots/list" ? { key, method } : { key, method, params: params as Record<string, unknown> });
      // Questions asked in the same tick (Promise.all over several, or helpers that each
      // await something first) leave as one batch: one input_required round in 2026-07-28.
      if (this.outbox.length === 1) setImmediate(() => this.flush());
    });
  }

  /** Answers from the host, by key; keys no longer waited for are ignored. */
  receive(responses: ClientResponse[]): void {
    for (const r of responses) {
      const w = this.waiting.get(r.key);
      if (!w) continue;
      this.waiting.delete(r.key);
      if (r.ok) w.resolve(r.value);
      else w.reject(clientRequestError(r.error));
    }
  }

  /**
   * The call is over: nothing more is sent, later questions reject. Questions still waiting
   * are dropped without settling: nothing awaits them any more, and rejecting them would
   * only raise unhandled rejections.
   */
  end(): void {
    this.ended = true;
    this.outbox = [];
    this.waiting.clear();
    this.signal.removeEventListener("abort", this.onAbort);
  }

  private flush() {
    const requests = this.outbox;
    this.outbox = [];
    if (this.ended || requests.length === 0) return;
    try {
      this.send(requests);
    } catch {
      // A param that cannot cross the thread boundary (a function, a class instance) fails
      // its own question, not the ones asked with it.
      for (const r of requests) {
        try {
          this.send([r]);
        } catch (err) {
          const w = this.waiting.get(r.key);
          this.waiting.delete(r.key);
          w?.reject(new TypeError(`${w.label}(params): params could not be sent to the host: ${(err as Error).message}`));
        }
      }
    }
  }

  private rejectAll(make: (label: string) => Error) {
    this.outbox = [];
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of waiting) w.reject(make(w.label));
  }

  private abortError(label = "ctx"): Error {
    const reason: unknown = this.signal.reason;
    const why = typeof reason === "string" ? reason : reason instanceof Error ? reason.message : "cancelled";
    const err = new Error(`${label}: the call was cancelled before the client answered (${why})`, { cause: reason });
    err.name = "AbortError";
    return err;
  }
}
