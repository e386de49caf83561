/**
 * Runs in the token-counting child process (token-counter.ts): counts o200k tokens of the
 * texts it is sent. A process of its own, not a thread: the encoding's tables take ~55 MB,
 * and a thread's memory stays in the daemon's allocator after the thread ends (measured: an
 * idle daemon kept ~22 MB more RSS), while a process gives all of it back when it exits.
 */
import { countTokens } from "gpt-tokenizer/encoding/o200k_base";

export interface CountRequest {
  id: number;
  texts: string[];
}
export interface CountReply {
  id: number;
  counts?: number[];
  error?: string;
}

process.on("message", (req: CountRequest) => {
  let reply: CountReply;
  try {
    reply = { id: req.id, counts: req.texts.map((t) => countTokens(t)) };
  } catch (err) {
    reply = { id: req.id, error: (err as Error).message };
  }
  process.send?.(reply);
});
// the daemon went away (or closed the channel): nothing left to count for
process.on("disconnect", () => process.exit(0));
