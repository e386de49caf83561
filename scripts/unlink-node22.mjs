// The `node@22` dev dependency exists only to run the conformance suite (it needs Node >= 22).
// npm links its binary as node_modules/.bin/node, which would make every npm script and
// `npx tsx` run on Node 22 instead of the machine's Node that Patchbay targets. Remove that
// link; the conformance runner calls node_modules/node/bin/node by path.
import { lstatSync, readlinkSync, unlinkSync } from "node:fs";

const link = "node_modules/.bin/node";
try {
  if (lstatSync(link).isSymbolicLink() && readlinkSync(link).includes("node/bin/node")) unlinkSync(link);
} catch {
  // no link: nothing to do
}
