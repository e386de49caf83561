/**
 * What every fuzz test file (`test/fuzz-*.test.ts`) does the same way: one daemon per file
 * serving the base plugin from its own plugin folder, each property run against it with the
 * shared settings (restarting the daemon before a case if the last one killed it), the
 * end-of-case checks (alive, no session left behind) and the end-of-run test. Also the
 * receiving end of a long-lived channel (WebSocket, SSE stream) that tests wait on.
 */
import { test, before, after } from "node:test";
import fc from "fast-check";
import { TempDir } from "./env.ts";
import { FuzzDaemon, HANG_BOUND_MS, Violations, describeSettings, fcParams, finalChecks, fuzzSettings, type FuzzDaemonOptions } from "./fuzz-harness.ts";
import { BASE_PLUGIN_SOURCE } from "./fuzz-arbitraries.ts";
import { repliesIn, type Obj } from "./fuzz-oracle.ts";

export interface PropertySpec<T> {
  /** cases in `npm test` (FUZZ_RUNS overrides it, times `longScale`) */
  ciRuns: number;
  longScale?: number;
  arb: fc.Arbitrary<T>;
  /** cases run before the generated ones (mostly defects the fuzzer found) */
  examples?: NoInfer<T>[];
  /** one case; `n` counts cases including shrink steps; throws when an invariant broke */
  run: (c: T, n: number) => Promise<void>;
  /** appended to the closing "N cases run" diagnostic */
  summary?: () => string;
}

/**
 * A property whose cases share the usual frame: violations collected in `v`, then (unless
 * `run` returns undefined: nothing was tested) the daemon must live and the open-session
 * count be back where it was before the case, and no violation may stand.
 */
export interface SessionPropertySpec<T> extends Omit<PropertySpec<T>, "run"> {
  /** names the case in a failure report: "invariant violated (<context>)" */
  context: string;
  run: (c: T, v: Violations) => Promise<CaseEnd | undefined>;
}

/** How a case ends: what closed its sessions (for the leak report) and what cleans up first. */
export interface CaseEnd {
  /** "the SSE stream closed", …: the report reads "N sessions open after <this>, M before" */
  after: string;
  /** appended to the leak report in parentheses */
  detail?: string;
  /** names the request in a crash report ("<this> killed the daemon: …") */
  crashed?: string;
  /** runs first when the daemon is alive (e.g. deleting the sessions the case opened) */
  cleanup?: () => Promise<void>;
}

/** A file's daemon: started (with the base plugin) before its tests and stopped after them. */
export class FuzzSuite {
  readonly plugins: TempDir;
  readonly d: FuzzDaemon;
  private baseline = 0;

  /** `name` names the plugin folder (patchbay-fuzz-<name>-…). */
  constructor(name: string, opts: Omit<FuzzDaemonOptions, "plugins"> = {}) {
    this.plugins = new TempDir(`patchbay-fuzz-${name}-`);
    this.d = new FuzzDaemon({ plugins: this.plugins.path, ...opts });
    before(async () => {
      this.plugins.file("0base.mjs", BASE_PLUGIN_SOURCE);
      await this.d.start();
      this.baseline = await this.d.sessionsOpen();
    });
    after(async () => {
      await this.d.stop();
      this.plugins.cleanup();
    });
  }

  /** Registers a test running one property with the shared settings (seed, runs and cases as diagnostics). */
  property<T>(title: string, spec: PropertySpec<T>): void {
    test(title, async (t) => {
      const settings = fuzzSettings(spec.ciRuns, spec.longScale);
      t.diagnostic(describeSettings(settings));
      let cases = 0;
      await fc.assert(
        fc.asyncProperty(spec.arb, (c) => spec.run(c, ++cases)).beforeEach(() => this.d.ensureAlive()),
        fcParams<[T]>(settings, spec.examples ? { examples: spec.examples.map((e): [T] => [e]) } : {}),
      );
      t.diagnostic(`${cases} cases run (including shrink steps)${spec.summary?.() ?? ""}`);
    });
  }

  /** Registers a property whose cases end with the session checks (see SessionPropertySpec). */
  sessionProperty<T>(title: string, spec: SessionPropertySpec<T>): void {
    this.property(title, {
      ...spec,
      run: async (c) => {
        const v = new Violations();
        const before = await this.d.sessionsOpen();
        const end = await spec.run(c, v);
        if (end) await this.endCase(v, before, end);
        v.assertNone(spec.context);
      },
    });
  }

  /** The end of a case: the daemon lives (else a crash) and the open-session count is back at `before`. */
  private async endCase(v: Violations, before: number, end: CaseEnd): Promise<void> {
    const d = this.d;
    if (await d.checkAlive()) {
      await end.cleanup?.();
      const after = await d.settleSessions(before);
      if (after !== before) v.add("session-leak", `${after} sessions open after ${end.after}, ${before} before${end.detail ? ` (${end.detail})` : ""}`);
    } else v.add("crash", end.crashed ? `${end.crashed} killed the daemon: ${d.deathReport()}` : d.deathReport());
  }

  /** Registers the end-of-run test; call it after the file's properties so that it runs last. */
  finalTest(title: string, context: string): void {
    test(title, async (t) => {
      const v = new Violations();
      await this.d.ensureAlive().catch(() => undefined);
      await finalChecks(this.d, this.baseline, v);
      if (this.d.alive()) t.diagnostic(`daemon figures at the end: ${JSON.stringify(this.d.figures())}`);
      v.assertNone(context);
    });
  }
}

/**
 * The receiving end of a long-lived channel: the messages that came in, and `until`, which
 * waits for a condition re-checked whenever the subclass reports an event with `wake`.
 */
export class Inbox {
  readonly messages: unknown[] = [];
  private waiters: (() => void)[] = [];

  protected wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves true once `check` holds (re-checked on every event), false after the bound. */
  until(check: () => boolean, boundMs = HANG_BOUND_MS): Promise<boolean> {
    if (check()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(check()), boundMs);
      const retry = () => {
        if (check()) {
          clearTimeout(timer);
          resolve(true);
        } else this.waiters.push(retry);
      };
      this.waiters.push(retry);
    });
  }

  replies(): Obj[] {
    return repliesIn(this.messages);
  }
}
