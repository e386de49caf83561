/**
 * Supported Node lines: the CLI's own check, `engines` in package.json, and what an
 * unsupported Node sees (one line on stderr, exit 1, before any dependency loads).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { CLI } from "./helpers/env.ts";
import { isSupportedNode, SUPPORTED_NODE } from "../daemon/node-support.ts";

test("supported and unsupported Node versions", () => {
  for (const v of ["20.19.0", "20.20.2", "22.12.0", "22.23.3", "24.0.0", "24.11.1", "26.1.0"]) assert.equal(isSupportedNode(v), true, v);
  for (const v of ["18.20.4", "20.18.3", "21.7.3", "22.11.0", "23.11.0", "16.0.0", "garbage", ""]) assert.equal(isSupportedNode(v), false, v);
});

test("engines.node in package.json is the range the CLI checks", () => {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { engines: { node: string } };
  assert.equal(pkg.engines.node, SUPPORTED_NODE);
});

test("an unsupported Node gets one clear line and exit 1, whatever the command", () => {
  // The version is faked before the CLI's entry runs; the entry reads it like any Node would.
  for (const args of [["--version"], ["start", "--port", "0"], ["stdio"]]) {
    const r = spawnSync(process.execPath, ["--import", 'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"18.20.4"})', CLI, ...args], { encoding: "utf8", timeout: 30_000 });
    assert.equal(r.status, 1, args.join(" "));
    assert.equal(r.stdout, "", "nothing on stdout (stdio mode's stdout belongs to JSON-RPC)");
    assert.equal(r.stderr, `patchbay: Node.js 18.20.4 is not supported; it needs Node ${SUPPORTED_NODE} (22 or 24 LTS recommended: https://nodejs.org)\n`);
  }
});
