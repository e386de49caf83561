/**
 * Bundles one plugin with esbuild, as Vite bundles a config file: the plugin and its local
 * imports go into one ESM file with an inline source map (so stack traces name the plugin's
 * own file:line); packages in node_modules stay external, imported by absolute URL so the
 * bundle works from the cache folder; `mcp-patchbay` is the daemon's own API, so plugins
 * need no install. Returns every local file it bundled, for the watcher.
 */
import { build, type Plugin as EsbuildPlugin, type Message } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, writeFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { PluginCompileError } from "../errors.ts";
import { distDir } from "../package-root.ts";
import { isPidAlive } from "../state-file.ts";

export interface CompiledPlugin {
  bundlePath: string;
  /** Content hash of the bundle: equal hashes mean nothing changed. */
  hash: string;
  /** Absolute paths of the local source files that went into the bundle. */
  inputs: string[];
}

const API_URL = pathToFileURL(join(distDir, "api.js")).href;

const externals: EsbuildPlugin = {
  name: "patchbay-externals",
  setup(b) {
    b.onResolve({ filter: /^mcp-patchbay$/ }, () => ({ path: API_URL, external: true }));
    // Bare specifiers: let esbuild find the file, then keep node_modules out of the bundle.
    b.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData?.patchbayResolving) return undefined;
      const r = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: { patchbayResolving: true } });
      if (r.errors.length > 0) return { errors: r.errors };
      if (r.external) return { path: args.path, external: true };
      if (r.path.includes(`${"/"}node_modules${"/"}`)) return { path: pathToFileURL(r.path).href, external: true };
      return { path: r.path };
    });
  },
};

function firstLocated(messages: Message[]) {
  const m = messages.find((e) => e.location) ?? messages[0];
  return m;
}

export async function compilePlugin(entry: string, cacheDir: string, pluginName: string): Promise<CompiledPlugin> {
  let result;
  try {
    result = await build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      format: "esm",
      platform: "node",
      target: "node20",
      // external + rewritten below: the bundle runs from the cache folder, so its map must
      // name sources by absolute URL for stack traces to point at the plugin's own files.
      sourcemap: "external",
      outfile: join(resolve(entry, ".."), "__patchbay_bundle.mjs"),
      sourcesContent: false,
      metafile: true,
      logLevel: "silent",
      plugins: [externals],
      absWorkingDir: resolve(entry, ".."),
    });
  } catch (err) {
    const errors: Message[] = (err as { errors?: Message[] }).errors ?? [];
    const first = firstLocated(errors);
    if (first?.location) {
      const file = resolve(resolve(entry, ".."), first.location.file);
      throw new PluginCompileError(`${file}:${first.location.line}:${first.location.column + 1}: ${first.text}`, { file, line: first.location.line, column: first.location.column + 1 });
    }
    throw new PluginCompileError(`${entry}: ${first?.text ?? (err as Error).message}`, { file: entry, line: 1 });
  }
  const base = resolve(entry, "..");
  const js = result.outputFiles.find((f) => f.path.endsWith(".mjs"))!;
  const mapFile = result.outputFiles.find((f) => f.path.endsWith(".map"));
  let code = js.text.replace(/\n\/\/# sourceMappingURL=.*\s*$/, "\n");
  if (mapFile) {
    const map = JSON.parse(mapFile.text) as { sources: string[] };
    map.sources = map.sources.map((s) => (s.startsWith("file:") ? s : pathToFileURL(resolve(base, s)).href));
    code += `//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify(map)).toString("base64")}\n`;
  }
  const hash = createHash("sha256").update(code).digest("hex").slice(0, 16);
  mkdirSync(cacheDir, { recursive: true });
  const bundlePath = join(cacheDir, `${pluginName}-${hash}.mjs`);
  writeFileSync(bundlePath, code);
  const inputs = Object.keys(result.metafile.inputs)
    .filter((p) => !p.includes("node_modules") && !p.startsWith("file:"))
    .map((p) => resolve(base, p));
  return { bundlePath, hash, inputs };
}

/** Removes a bundle that no worker uses any more. */
export function discardBundle(bundlePath: string): void {
  try {
    rmSync(bundlePath, { force: true });
  } catch {
    // a leftover cache file is harmless
  }
}

/**
 * Each process bundles into `<cacheRoot>/<pid>` and removes it on a clean exit; a crash or
 * `kill -9` leaves it behind. Removes the folders of processes that no longer exist (a
 * reused pid keeps its folder until a later sweep: harmless, and never someone's live cache).
 */
export function sweepStaleCaches(cacheRoot: string): void {
  let names: string[];
  try {
    names = readdirSync(cacheRoot);
  } catch {
    return; // no cache yet
  }
  for (const name of names) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid || isPidAlive(Number(name))) continue;
    try {
      rmSync(join(cacheRoot, name), { recursive: true, force: true });
    } catch {
      // another process swept it first, or it is not ours to remove
    }
  }
}
