/** clipString: the cut that is kept in spans, dashboard buffers and the session table. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { clipString } from "../daemon/clip-string.ts";

test("a string within the limit is returned as it is; a longer one is cut, with the ellipsis inside the limit", () => {
  assert.equal(clipString("short", 10), "short");
  assert.equal(clipString("0123456789", 10), "0123456789");
  assert.equal(clipString("0123456789abc", 10), "012345678…");
  assert.equal(clipString("0123456789abc", 10).length, 10);
  assert.equal(clipString("0123456789abc", 10, ""), "0123456789");
});

test("a cut through a surrogate pair leaves no lone surrogate behind", () => {
  const clipped = clipString("ab😀cd", 3, "");
  assert.doesNotMatch(clipped, /[\ud800-\udfff]/u, "no lone surrogate");
  assert.equal(clipped.startsWith("ab"), true);
});
