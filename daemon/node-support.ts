/**
 * Which Node.js lines Patchbay runs on: the same ranges as `engines` in package.json, which a
 * test holds together. Kept free of imports so the CLI's entry can check the running Node
 * before it loads anything that might fail on an older one with a stack trace of its own.
 */

/** `engines.node` of the published package. */
export const SUPPORTED_NODE = "^20.19.0 || ^22.12.0 || >=24.0.0";

/** Whether `version` (as `process.versions.node`: "22.12.0") is a supported Node. */
export function isSupportedNode(version: string): boolean {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) return false;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major === 20) return minor >= 19;
  if (major === 22) return minor >= 12;
  return major >= 24;
}

/** The one line printed when the running Node is not supported. */
export function unsupportedNodeMessage(version: string): string {
  return `patchbay: Node.js ${version} is not supported; it needs Node ${SUPPORTED_NODE} (22 or 24 LTS recommended: https://nodejs.org)\n`;
}
