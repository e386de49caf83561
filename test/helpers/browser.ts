/** Debian's Chromium for the dashboard tests: where it is, why a test skips, how it starts. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM = process.env.PATCHBAY_CHROMIUM ?? "/usr/bin/chromium";
/** false when Chromium is there; otherwise the skip reason, with the install command. */
export const SKIP_NO_CHROMIUM: string | false = existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (or set PATCHBAY_CHROMIUM)`;

/** Under CI=true a missing browser is a failure, not a skip: call once at a browser test file's top. */
export function requireChromiumUnderCi(): void {
  if (SKIP_NO_CHROMIUM && process.env.CI === "true") test("Chromium is required under CI=true", () => assert.fail(String(SKIP_NO_CHROMIUM)));
}

/** Headless, sandbox off (root in CI), nothing that phones home. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"] });
}
