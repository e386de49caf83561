/**
 * The warm spare thread: booted after a take so the next reload or wake skips the thread
 * boot, and terminated when unused for `spareIdleMs`, so an idle daemon does not hold a
 * thread (~12 MB) for nothing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { WorkerPool } from "../daemon/plugins/host/worker-pool.ts";
import { waitFor } from "./helpers/env.ts";

test("a spare is booted after each take and terminated once unused for spareIdleMs", async () => {
  const pool = new WorkerPool({ heapMb: 64, warm: true, spareIdleMs: 3_000 });
  try {
    assert.equal(pool.hasSpare, true, "a warm pool boots a spare at once");
    const { worker, release } = await pool.take();
    release();
    await waitFor("a new spare after the take", () => pool.hasSpare || undefined);
    await waitFor("the unused spare terminated", () => !pool.hasSpare || undefined, 30_000);
    // the taken thread is its owner's: untouched by the spare's expiry
    assert.equal(worker.threadId > 0, true);
    const exited = once(worker, "exit");
    await worker.terminate();
    await exited;
  } finally {
    pool.close();
  }
});

test("a cold pool boots no spare", async () => {
  const pool = new WorkerPool({ heapMb: 64, warm: false });
  try {
    assert.equal(pool.hasSpare, false);
    const { worker, release } = await pool.take();
    release();
    assert.equal(pool.hasSpare, false);
    await worker.terminate();
  } finally {
    pool.close();
  }
});
