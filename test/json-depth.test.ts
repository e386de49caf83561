/** The nesting guard (daemon/transports/json-depth.ts): the quick walk and the path walk agree with a plain recursive depth. */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { nestedDeeperThan, pathDeeperThan } from "../daemon/transports/json-depth.ts";

/** Depth of the deepest object or array (the value itself: 0); -1 for a primitive. */
function deepest(v: unknown): number {
  if (v === null || typeof v !== "object") return -1;
  let d = 0;
  for (const c of Object.values(v)) d = Math.max(d, 1 + deepest(c));
  return d;
}

test("nestedDeeperThan and pathDeeperThan agree with a recursive depth", () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 0, max: 9 }), (v, limit) => {
      const deep = deepest(v) >= limit;
      assert.equal(nestedDeeperThan(v, limit), deep);
      assert.equal(pathDeeperThan(v, limit) !== undefined, deep);
    }),
    { seed: 20261125, numRuns: 2000 },
  );
});

test("the path leads to the value that is too deep", () => {
  const v = { a: [1, { b: { c: [[{}]] } }] };
  assert.equal(pathDeeperThan(v, 5, "arguments"), "arguments.a[1].b.c[0]");
  assert.equal(pathDeeperThan(v, 6, "arguments"), "arguments.a[1].b.c[0][0]");
  assert.equal(pathDeeperThan(v, 7, "arguments"), undefined);
  assert.equal(pathDeeperThan({}, 0), "(the value itself)");
  // far deeper than any stack: no recursion to overflow
  let chain: unknown = {};
  for (let i = 0; i < 100_000; i++) chain = { x: chain };
  assert.equal(nestedDeeperThan(chain, 256), true);
  assert.equal(pathDeeperThan(chain, 3), "x.x.x");
});
