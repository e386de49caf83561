/**
 * Which relayed call a log message or a server→client request from a remote upstream
 * belongs to. Over Streamable HTTP the upstream sends them on the SSE stream that answers
 * the call's POST, but the SDK client does not tell its handlers which stream a message
 * came on. So each call carries a key in `_meta` (`CALL_META_KEY`), and the client's fetch
 * is wrapped: the SSE answer to a POST holding a key gets that key stamped into the
 * `_meta` of every request and notification on it, before the SDK parses them. Handlers
 * read it back (and strip it before anything is forwarded). Stdio and the standalone GET
 * stream carry no such relation: there the caller decides by its fallback rule.
 */
export const CALL_META_KEY = "dev.patchbay/call";

function callKeyOf(body: unknown): string | undefined {
  if (typeof body !== "string" || !body.includes(CALL_META_KEY)) return undefined;
  try {
    const msg = JSON.parse(body) as { params?: { _meta?: Record<string, unknown> } };
    const key = msg?.params?._meta?.[CALL_META_KEY];
    return typeof key === "string" ? key : undefined;
  } catch {
    return undefined;
  }
}

/** Adds the key to one SSE event's JSON-RPC request or notification; anything else passes unchanged. */
function stampEvent(event: string, key: string): string {
  const lines = event.split(/\r?\n/);
  const data = lines.filter((l) => l.startsWith("data:")).map((l) => l.slice(l.startsWith("data: ") ? 6 : 5));
  if (data.length === 0) return event;
  let msg: { method?: unknown; params?: Record<string, unknown> };
  try {
    msg = JSON.parse(data.join("\n"));
  } catch {
    return event;
  }
  if (!msg || typeof msg !== "object" || typeof msg.method !== "string") return event;
  const params = (msg.params ??= {});
  params._meta = { ...(params._meta as Record<string, unknown> | undefined), [CALL_META_KEY]: key };
  return [...lines.filter((l) => !l.startsWith("data:")), `data: ${JSON.stringify(msg)}`].join("\n");
}

function stampStream(key: string): TransformStream<string, string> {
  let buf = "";
  return new TransformStream<string, string>({
    transform(chunk, out) {
      buf += chunk;
      for (;;) {
        const m = /\r?\n\r?\n/.exec(buf);
        if (!m) break;
        out.enqueue(`${stampEvent(buf.slice(0, m.index), key)}\n\n`);
        buf = buf.slice(m.index + m[0].length);
      }
    },
    flush(out) {
      if (buf) out.enqueue(buf);
    },
  });
}

/** A fetch for the SDK's Streamable HTTP client transport that stamps call keys (see above). */
export function routingFetch(base: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    const res = await base(input, init);
    const key = init?.method === "POST" ? callKeyOf(init.body) : undefined;
    if (!key || !res.body || !(res.headers.get("content-type") ?? "").includes("text/event-stream")) return res;
    const body = res.body.pipeThrough(new TextDecoderStream()).pipeThrough(stampStream(key)).pipeThrough(new TextEncoderStream());
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

/** the requests in flight under each long-lived signal, aborted together by its one listener */
const underSignal = new WeakMap<AbortSignal, Set<AbortController>>();

function follow(shared: AbortSignal, own: AbortController): () => void {
  let set = underSignal.get(shared);
  if (!set) {
    const members = new Set<AbortController>();
    set = members;
    underSignal.set(shared, members);
    // one listener for the signal's whole life, however many requests run under it
    shared.addEventListener("abort", () => {
      for (const c of members) c.abort(shared.reason);
      members.clear();
    }, { once: true });
  }
  set.add(own);
  const members = set;
  return () => void members.delete(own);
}

/** how long the answer stream of a call that has ended may stay open before it is cut */
export const STREAM_AFTER_CALL_MS = 1_000;

/**
 * A fetch that gives each request a signal of its own. The SDK's HTTP client transports
 * pass one AbortSignal, alive as long as the transport, to every fetch, and undici adds an
 * "abort" listener to it per request that goes only when that request is garbage-collected:
 * relaying 12,000 calls left thousands of listeners (MaxListenersExceededWarning) and RSS
 * rising. Here the long-lived signal has one listener in all, which aborts the requests
 * in flight under it; a request leaves that set as soon as it is over — its body read to the
 * end, cancelled or failed, or at once when the answer has no body.
 *
 * `callEnded` names, for a POST carrying a relayed call's key, a signal aborted when that
 * call is over. An answer stream the upstream leaves open after it (a cancelled call's, which
 * the server never answers) is ended a moment later, so it holds nothing either.
 */
export function ownSignalFetch(base: typeof fetch = fetch, callEnded?: (key: string) => AbortSignal | undefined): typeof fetch {
  return async (input, init) => {
    const shared = init?.signal;
    if (!shared) return base(input, init);
    const own = new AbortController();
    let released = false;
    let leave = () => {};
    const release = () => {
      if (released) return;
      released = true;
      leave();
    };
    if (shared.aborted) own.abort(shared.reason);
    else leave = follow(shared, own);
    let res: Response;
    try {
      res = await base(input, { ...init, signal: own.signal });
    } catch (err) {
      release();
      throw err;
    }
    if (!res.body || res.status === 202 || res.status === 204 || res.headers.get("content-length") === "0") {
      release();
      return res;
    }
    const key = init?.method === "POST" && callEnded ? callKeyOf(init.body) : undefined;
    const ended = key !== undefined ? callEnded!(key) : undefined;
    const reader = res.body.getReader();
    let cut: NodeJS.Timeout | undefined;
    let onEnded: (() => void) | undefined;
    const finish = () => {
      release();
      clearTimeout(cut);
      if (onEnded) ended?.removeEventListener("abort", onEnded);
    };
    const body = new ReadableStream<Uint8Array>({
      start(ctl) {
        if (!ended) return;
        onEnded = () => {
          cut = setTimeout(() => {
            if (released) return;
            finish();
            reader.cancel().catch(() => undefined);
            // a plain end of the stream: the SDK sees the stream over, not an error
            try {
              ctl.close();
            } catch {
              // already closed or errored
            }
          }, STREAM_AFTER_CALL_MS);
          cut.unref();
        };
        if (ended.aborted) onEnded();
        else ended.addEventListener("abort", onEnded, { once: true });
      },
      async pull(ctl) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            finish();
            ctl.close();
          } else ctl.enqueue(value);
        } catch (err) {
          if (released && cut !== undefined) return; // the cut above closed the stream already
          finish();
          try {
            ctl.error(err);
          } catch {
            // closed by the cut above
          }
        }
      },
      cancel(reason) {
        finish();
        return reader.cancel(reason);
      },
    });
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

/** The key a handler received, and the params without it (what may be forwarded). */
export function takeCallKey<T extends Record<string, unknown> | undefined>(params: T): { key?: string; params: T } {
  const meta = params?._meta as Record<string, unknown> | undefined;
  if (!meta || !(CALL_META_KEY in meta)) return { params };
  const { [CALL_META_KEY]: key, ...rest } = meta;
  const clean = { ...params, _meta: Object.keys(rest).length ? rest : undefined } as Record<string, unknown>;
  if (clean._meta === undefined) delete clean._meta;
  return { key: typeof key === "string" ? key : undefined, params: clean as T };
}
