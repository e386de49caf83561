/**
 * Runs inside the token-counting thread (token-counter.ts): counts o200k tokens of the texts
 * it is sent. A thread of its own because the encoding's tables cost ~55 MB of memory once
 * loaded, which an idle daemon should not hold: the thread ends when no count is asked for a
 * while, and the memory goes with it.
 */
import { parentPort } from "node:worker_threads";
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

parentPort?.on("message", (req: CountRequest) => {
  try {
    parentPort!.postMessage({ id: req.id, counts: req.texts.map((t) => countTokens(t)) } satisfies CountReply);
  } catch (err) {
    parentPort!.postMessage({ id: req.id, error: (err as Error).message } satisfies CountReply);
  }
});
