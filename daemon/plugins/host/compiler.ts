/**
 * Bundles one plugin with esbuild, as Vite bundles a config file: the plugin and its local
 * imports go into one ESM file with an inline source map (so stack traces name the plugin's
 * own file:line); packages in node_modules stay external, imported by absolute URL so the
 * bundle works from the cache folder; `mcp-patchbay` is the daemon's own API, so plugins
 * need no install. Returns every local file it bundled, for the watcher.
 *
 * Every local file is read here, not by esbuild: non-blocking and only if it is a regular
 * file (a FIFO in the folder would otherwise block esbuild's service, and every compile
 * after it, for ever). Reading them ourselves also tells us exactly which bytes went into
 * the bundle, which keys the compile cache: `<cacheDir>/index/<entry digest>.json` records,
 * per entry, the digest of each input's content and the bundle made from them, under a key
 * of the esbuild version, the daemon's version and where its API lives. A later compile
 * whose inputs all read the same reuses the bundle without running esbuild, so a restart
 * over hundreds of unchanged plugins does not compile them again.
 */
import { build, version as esbuildVersion, type Loader, type Plugin as EsbuildPlugin, type Message } from "esbuild";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { basename, extname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { NotRegularFileError, PluginCompileError } from "../../errors.ts";
import { distDir } from "../../package-root.ts";
import { isPidAlive } from "../../state-file.ts";
import { VERSION } from "../../version.ts";
import { readRegularFile } from "./plugin-files.ts";
import type { PluginManifest } from "../worker-protocol.ts";

export interface CompiledPlugin {
  bundlePath: string;
  /** Content hash of the bundle: equal hashes mean nothing changed. */
  hash: string;
  /** Absolute paths of the local source files that went into the bundle. */
  inputs: string[];
  /** true: the bundle came from the compile cache (esbuild did not run) */
  cached?: boolean;
}

const API_URL = pathToFileURL(join(distDir, "api.js")).href;
/** Bump when the bundle's shape changes (options below, the source map rewrite). */
const BUNDLE_FORMAT = 1;
/** What every cached bundle was made with; a different one makes every entry stale. */
const CACHE_KEY = JSON.stringify({ esbuild: esbuildVersion, patchbay: VERSION, api: API_URL, format: BUNDLE_FORMAT, node: "node20" });

/** esbuild's loader for each extension a plugin's local files may have; others are left to esbuild */
const LOADERS: Record<string, Loader> = { ".ts": "ts", ".mts": "ts", ".cts": "ts", ".tsx": "tsx", ".js": "js", ".mjs": "js", ".cjs": "js", ".jsx": "jsx", ".json": "json", ".txt": "text" };

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

/** Reads every local file esbuild bundles (see the header), recording each one's digest. */
function regularFilesOnly(digests: Map<string, string>): EsbuildPlugin {
  return {
    name: "patchbay-regular-files",
    setup(b) {
      b.onLoad({ filter: /.*/, namespace: "file" }, async (args) => {
        let contents: Buffer;
        try {
          contents = await readRegularFile(args.path);
        } catch (err) {
          if (err instanceof NotRegularFileError) return { errors: [{ text: err.message }] };
          throw err;
        }
        digests.set(args.path, digest(contents));
        const loader = LOADERS[extname(args.path)];
        // an extension we do not know: esbuild picks its loader from its own table
        return loader ? { contents, loader } : { contents, loader: "default" as Loader };
      });
    },
  };
}

function digest(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

function firstLocated(messages: Message[]) {
  const m = messages.find((e) => e.location) ?? messages[0];
  return m;
}

interface CacheEntry {
  key: string;
  entry: string;
  hash: string;
  bundle: string;
  inputs: { path: string; sha256: string }[];
}

function indexFileFor(cacheDir: string, entry: string): string {
  return join(cacheDir, "index", `${digest(entry).slice(0, 32)}.json`);
}

/** Whether every `file:` URL a bundle imports (its node_modules packages, the API) exists. */
function externalsPresent(bundle: string): boolean {
  for (const m of bundle.matchAll(/(?:from\s*|import\s*\(?\s*)"(file:\/\/[^"]+)"/g)) {
    try {
      if (!existsSync(fileURLToPath(m[1]))) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** The cached bundle for `entry` if every input it was made from still reads the same. */
async function fromCache(cacheDir: string, entry: string): Promise<CompiledPlugin | undefined> {
  let saved: CacheEntry;
  try {
    saved = JSON.parse(readFileSync(indexFileFor(cacheDir, entry), "utf8")) as CacheEntry;
  } catch {
    return undefined;
  }
  if (saved.key !== CACHE_KEY || saved.entry !== entry || !Array.isArray(saved.inputs)) return undefined;
  const bundlePath = join(cacheDir, "bundles", saved.bundle);
  if (!existsSync(bundlePath)) return undefined;
  for (const input of saved.inputs) {
    try {
      if (digest(await readRegularFile(input.path)) !== input.sha256) return undefined;
    } catch {
      return undefined; // gone, or no longer a regular file: esbuild says what is wrong
    }
  }
  // Packages the plugin imports stay external, named by absolute file URLs resolved when it
  // was compiled (see the resolve plugin above): an `npm install` since then may have moved or
  // removed them, which no input's content shows. Compile again rather than load a bundle
  // whose imports are gone.
  try {
    if (!externalsPresent(readFileSync(bundlePath, "utf8"))) return undefined;
  } catch {
    return undefined;
  }
  try {
    // used now: the prune at start keeps what was used lately
    const now = new Date();
    utimesSync(bundlePath, now, now);
  } catch {
    // read-only cache: still usable
  }
  return { bundlePath, hash: saved.hash, inputs: saved.inputs.map((i) => i.path), cached: true };
}

function writeAtomically(file: string, data: string) {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}

/**
 * Compiles `entry` into `<cacheDir>/bundles`, or reuses the bundle made from the same
 * inputs before (`useCache`, default true; see the header).
 */
export async function compilePlugin(entry: string, cacheDir: string, pluginName: string, opts: { useCache?: boolean } = {}): Promise<CompiledPlugin> {
  const useCache = opts.useCache ?? true;
  if (useCache) {
    const hit = await fromCache(cacheDir, entry);
    if (hit) return hit;
  }
  const digests = new Map<string, string>();
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
      plugins: [externals, regularFilesOnly(digests)],
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
  const hash = digest(code).slice(0, 16);
  const bundles = join(cacheDir, "bundles");
  mkdirSync(bundles, { recursive: true });
  const bundleName = `${pluginName}-${hash}.mjs`;
  const bundlePath = join(bundles, bundleName);
  // content-addressed: a bundle of this name already there has these very bytes
  if (!existsSync(bundlePath)) writeAtomically(bundlePath, code);
  const inputs = Object.keys(result.metafile.inputs)
    .filter((p) => !p.includes("node_modules") && !p.startsWith("file:"))
    .map((p) => resolve(base, p));
  if (useCache) {
    const recorded = inputs.map((p) => ({ path: p, sha256: digests.get(p) }));
    // every input was read by us (see regularFilesOnly); if one was not, do not cache
    if (recorded.every((i) => i.sha256 !== undefined)) {
      try {
        mkdirSync(join(cacheDir, "index"), { recursive: true });
        const saved: CacheEntry = { key: CACHE_KEY, entry, hash, bundle: bundleName, inputs: recorded as CacheEntry["inputs"] };
        writeAtomically(indexFileFor(cacheDir, entry), JSON.stringify(saved));
      } catch {
        // a cache that cannot be written only costs the next start a compile
      }
    }
  }
  return { bundlePath, hash, inputs };
}

/**
 * What a bundle's plugin reported when it last loaded and then parked (nothing of its own
 * kept it running), kept beside the bundle: a restart lists it from this without starting a
 * thread (plugin-manager.ts). Same key as the bundles: another Patchbay or esbuild, or
 * another bundle, never reads it.
 */
export interface ParkedManifest {
  manifest: PluginManifest;
  keepAlive?: boolean;
}

function manifestFileFor(cacheDir: string, bundlePath: string): string {
  return join(cacheDir, "manifests", `${basename(bundlePath, ".mjs")}.json`);
}

export function readParkedManifest(cacheDir: string, bundlePath: string): ParkedManifest | undefined {
  try {
    const saved = JSON.parse(readFileSync(manifestFileFor(cacheDir, bundlePath), "utf8")) as { key?: string } & Partial<ParkedManifest>;
    if (saved.key !== CACHE_KEY || !saved.manifest || !Array.isArray(saved.manifest.tools)) return undefined;
    return { manifest: saved.manifest, keepAlive: saved.keepAlive };
  } catch {
    return undefined;
  }
}

/** Never throws: a record that cannot be written only costs the next start a thread boot. */
export function writeParkedManifest(cacheDir: string, bundlePath: string, record: ParkedManifest): void {
  try {
    mkdirSync(join(cacheDir, "manifests"), { recursive: true });
    writeAtomically(manifestFileFor(cacheDir, bundlePath), JSON.stringify({ key: CACHE_KEY, ...record }));
  } catch {
    // read-only cache
  }
}

/** Forgets `entry`'s cached bundle (its file was deleted). */
export function forgetCompiled(cacheDir: string, entry: string): void {
  try {
    rmSync(indexFileFor(cacheDir, entry), { force: true });
  } catch {
    // harmless: the next compile of the entry checks its inputs anyway
  }
}

/** How long an unreferenced bundle is kept: another process on the same home may still load it. */
const UNREFERENCED_BUNDLE_TTL_MS = 24 * 60 * 60_000;

/**
 * Keeps the compile cache from growing without bound: removes index entries whose entry file
 * is gone or that were made by another esbuild / Patchbay, and bundles no index entry names
 * that have not been used for a day. Never throws.
 */
export function pruneCompileCache(cacheDir: string, now = Date.now()): void {
  const referenced = new Set<string>();
  const indexDir = join(cacheDir, "index");
  let names: string[] = [];
  try {
    names = readdirSync(indexDir);
  } catch {
    // no cache yet
  }
  for (const name of names) {
    const file = join(indexDir, name);
    try {
      const saved = JSON.parse(readFileSync(file, "utf8")) as CacheEntry;
      if (saved.key === CACHE_KEY && existsSync(saved.entry)) {
        referenced.add(saved.bundle);
        continue;
      }
      rmSync(file, { force: true });
    } catch {
      // unreadable, or a write of another process in progress (its .tmp): leave it
    }
  }
  let bundles: string[] = [];
  try {
    bundles = readdirSync(join(cacheDir, "bundles"));
  } catch {
    return;
  }
  for (const name of bundles) {
    if (referenced.has(name)) continue;
    const file = join(cacheDir, "bundles", name);
    try {
      if (now - statSync(file).mtimeMs > UNREFERENCED_BUNDLE_TTL_MS) rmSync(file, { force: true });
    } catch {
      // gone meanwhile
    }
  }
  // a manifest record lives as long as its bundle
  let manifests: string[] = [];
  try {
    manifests = readdirSync(join(cacheDir, "manifests"));
  } catch {
    return;
  }
  for (const name of manifests) {
    if (!name.endsWith(".json") || existsSync(join(cacheDir, "bundles", `${name.slice(0, -".json".length)}.mjs`))) continue;
    rmSync(join(cacheDir, "manifests", name), { force: true });
  }
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
 * Earlier versions bundled into `<cacheRoot>/<pid>`, removed on a clean exit; a crash or
 * `kill -9` left it behind, and an older daemon on the same home still does. Removes the
 * folders of processes that no longer exist (a reused pid keeps its folder until a later
 * sweep: harmless, and never someone's live cache).
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
