#!/usr/bin/env node
/**
 * The `patchbay` executable. It checks the running Node first and only then loads the CLI,
 * so an unsupported Node gets one clear line instead of a stack trace from whichever bundled
 * dependency first uses something that Node lacks.
 */
import { isSupportedNode, unsupportedNodeMessage } from "./node-support.ts";

if (!isSupportedNode(process.versions.node)) {
  process.stderr.write(unsupportedNodeMessage(process.versions.node));
  process.exitCode = 1;
} else {
  await import("./cli.ts");
}
