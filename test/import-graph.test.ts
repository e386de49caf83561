/**
 * The daemon's import graph: no circles among daemon/ files, and the code that runs inside a
 * plugin's worker thread (daemon/plugins/thread/) reaches nothing of the host side
 * (plugins/host/) or of upstream servers (plugins/upstream/), directly or through a shared
 * file, so the worker bundle stays small and the thread never runs daemon code by accident.
 *
 * The graph comes from TypeScript's own scanner (`ts.preProcessFile`) over every .ts file
 * under daemon/, not from an esbuild metafile: esbuild drops `import type` before it resolves
 * anything, and both circles this test was written against (errors.ts ↔ worker-protocol.ts,
 * plugin-host.ts ↔ plugin-worker.ts) were type-only. A type-only circle still ties two
 * files' meaning together, so it counts here too.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Edges left out of the circle check, each a circle someone owns and has not yet broken
 * (none now: the last, mcp/server-factory.ts ↔ its handler files, went with
 * mcp/patchbay-server.ts). The test says so when a listed edge no longer matches an import.
 */
const KNOWN_CYCLE_EDGES: [from: string, to: string][] = [];

const THREAD = "daemon/plugins/thread/";
const NOT_FOR_THREAD = ["daemon/plugins/host/", "daemon/plugins/upstream/"];

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return path.endsWith(".ts") && !path.endsWith(".d.ts") ? [path] : [];
  });
}

/** Every daemon/ file (relative to the repository) → the daemon/ files it imports, `import type` and `import()` included. */
function importGraph(): { graph: Map<string, string[]>; unresolved: string[] } {
  const graph = new Map<string, string[]>();
  const unresolved: string[] = [];
  for (const file of tsFiles(join(ROOT, "daemon"))) {
    const from = relative(ROOT, file);
    const deps = new Set<string>();
    for (const { fileName } of ts.preProcessFile(readFileSync(file, "utf8"), true, true).importedFiles) {
      if (!fileName.startsWith(".")) continue;
      const target = resolve(dirname(file), fileName);
      const found = [target, target.replace(/\.js$/, ".ts")].find((t) => existsSync(t) && statSync(t).isFile());
      if (found) deps.add(relative(ROOT, found));
      else unresolved.push(`${from} → ${fileName}`);
    }
    graph.set(from, [...deps].sort());
  }
  return { graph, unresolved };
}

/** Strongly connected components with more than one file (or a file importing itself): each is a circle. */
function circles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v)!.includes(v)) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** One path of imports from `from` to a file `bad` says it must not reach, or undefined. */
function pathTo(graph: Map<string, string[]>, from: string, bad: (f: string) => boolean): string[] | undefined {
  const cameFrom = new Map<string, string | undefined>([[from, undefined]]);
  const queue = [from];
  while (queue.length) {
    const v = queue.shift()!;
    if (v !== from && bad(v)) {
      const path = [v];
      for (let p = cameFrom.get(v); p !== undefined; p = cameFrom.get(p)) path.unshift(p);
      return path;
    }
    for (const w of graph.get(v) ?? [])
      if (!cameFrom.has(w)) {
        cameFrom.set(w, v);
        queue.push(w);
      }
  }
  return undefined;
}

const { graph, unresolved } = importGraph();

test("every relative import under daemon/ names a file that exists (so the graph below is whole)", () => {
  assert.deepEqual(unresolved, []);
  assert.ok(graph.size > 50, `only ${graph.size} files found under daemon/`);
});

test("no import circles among daemon/ files", () => {
  const pruned = new Map([...graph].map(([from, deps]) => [from, deps.filter((to) => !KNOWN_CYCLE_EDGES.some(([f, t]) => f === from && t === to))]));
  const found = circles(pruned);
  assert.equal(found.length, 0, `import circles:\n${found.map((c) => "  " + c.join(" ↔ ")).join("\n")}`);
  const stale = KNOWN_CYCLE_EDGES.filter(([from, to]) => !graph.get(from)?.includes(to));
  assert.deepEqual(stale, [], "these known-circle edges no longer exist: remove them from KNOWN_CYCLE_EDGES");
});

test("code in plugins/thread/ reaches nothing in plugins/host/ or plugins/upstream/", () => {
  const threadFiles = [...graph.keys()].filter((f) => f.startsWith(THREAD));
  assert.ok(threadFiles.includes(`${THREAD}worker-entry.ts`), "the worker entry is under plugins/thread/");
  const offending = threadFiles
    .map((f) => pathTo(graph, f, (g) => NOT_FOR_THREAD.some((dir) => g.startsWith(dir))))
    .filter((p): p is string[] => p !== undefined)
    .map((p) => "  " + p.join(" → "));
  assert.deepEqual(offending, []);
});
