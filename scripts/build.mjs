// Builds dist/ with esbuild: the CLI, the plugin worker, the plugin API and the dashboard.
//
// The runtime dependencies are bundled into dist (shared chunks under dist/chunks, so the CLI,
// the worker and the plugin API load one copy of each module). Only two packages stay real
// dependencies: esbuild (a native binary the daemon runs to compile plugins) and zod (the
// published plugin types name it, and plugins share the daemon's one zod through the API).
// Why: the installed package was ~200 packages and 108 MB whose OpenTelemetry tree declared
// `node >= 22.15`, contradicting our engines field; bundled, the tree is three packages whose
// engines agree with ours, and tree-shaking drops what Patchbay never loads. The OTLP
// exporters are dynamic imports, so they become chunks loaded only when OTLP is configured.
// The dashboard is bundled whole for the browser.
import { build } from "esbuild";
import { rmSync, mkdirSync, copyFileSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { execFileSync } from "node:child_process";

const RUNTIME_EXTERNAL = ["esbuild", "zod", "zod/*"];
// ws requires these native speed-ups inside try/catch and falls back to JavaScript; pino-pretty
// and the OTLP gRPC exporter name optional modules the same way.
const OPTIONAL_ABSENT = ["bufferutil", "utf-8-validate", "pino-abstract-transport/node_modules/*"];

// The OTLP gRPC exporter (rolldown output) loads grpc-js with a require() made by createRequire
// at run time, which esbuild cannot see: bundled, it would resolve grpc-js from the install
// folder (absent) or find a second copy whose ChannelCredentials fail instanceof. Turn those
// calls into an import of the bundled grpc-js; the exporter is its own lazy chunk anyway.
const grpcRequire = /__require\("@grpc\/grpc-js"\)/g;
const bundleGrpcRequires = {
  name: "bundle-grpc-requires",
  setup(b) {
    b.onLoad({ filter: /@opentelemetry[\\/]otlp-grpc-exporter-base[\\/].*\.mjs$/ }, async (args) => {
      const source = readFileSync(args.path, "utf8");
      if (!grpcRequire.test(source)) return undefined;
      return { contents: `import * as __pbGrpc from "@grpc/grpc-js";\n${source.replace(grpcRequire, "__pbGrpc")}`, loader: "js", resolveDir: dirname(args.path) };
    });
  },
};

/**
 * The licence texts of every package bundled into dist (MIT, ISC, BSD, Apache-2.0 with its
 * NOTICE): bundling copies their code, so the package must carry their notices.
 */
function thirdPartyLicenses(metafiles) {
  const dirs = new Set();
  for (const m of metafiles)
    for (const input of Object.keys(m.inputs)) {
      const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
      if (match) dirs.add(match[1]);
    }
  const sections = [];
  for (const dir of [...dirs].sort()) {
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    const texts = readdirSync(dir)
      .filter((f) => /^(licen[cs]e|notice|copying)/i.test(f))
      .sort()
      .map((f) => readFileSync(join(dir, f), "utf8").trim());
    sections.push(`## ${pkg.name} ${pkg.version}\n\nLicense: ${typeof pkg.license === "string" ? pkg.license : JSON.stringify(pkg.license ?? "see the package")}\n\n${texts.length ? texts.map((t) => "```\n" + t + "\n```").join("\n\n") : "(the package ships no licence file; its package.json names the licence above)"}`);
  }
  return `# Third-party software bundled into dist/\n\nPatchbay bundles these packages into its own files; their licences follow.\n\n${sections.join("\n\n")}\n`;
}

rmSync("dist", { recursive: true, force: true });
mkdirSync("dist/dashboard", { recursive: true });
const result = await Promise.all([
  build({
    entryPoints: { cli: "daemon/bin.ts", "worker-entry": "daemon/plugins/thread/worker-entry.ts", "token-count-process": "daemon/context/token-count-process.ts", api: "daemon/api.ts", main: "daemon/main.ts" },
    outdir: "dist",
    bundle: true,
    splitting: true,
    chunkNames: "chunks/[name]-[hash]",
    platform: "node",
    format: "esm",
    target: "node20",
    external: [...RUNTIME_EXTERNAL, ...OPTIONAL_ABSENT],
    // CommonJS packages bundled into ESM still call require() for Node built-ins and read
    // __filename/__dirname; give every output file real ones.
    banner: {
      js: [
        'import { createRequire as __pbCreateRequire } from "node:module";',
        'import { fileURLToPath as __pbFileURLToPath } from "node:url";',
        'import { dirname as __pbDirname } from "node:path";',
        "const require = __pbCreateRequire(import.meta.url);",
        "const __filename = __pbFileURLToPath(import.meta.url);",
        "const __dirname = __pbDirname(__filename);",
      ].join("\n"),
    },
    // whitespace and syntax only: identifiers are not minified, so a user's stack trace still
    // names our functions
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: "linked",
    metafile: true,
    plugins: [bundleGrpcRequires],
    logLevel: "warning",
  }),
  build({ entryPoints: ["dashboard/app.ts"], bundle: true, platform: "browser", format: "iife", target: "es2022", minify: true, outfile: "dist/dashboard/app.js", metafile: true, logLevel: "warning" }),
]);
writeFileSync("dist/THIRD_PARTY_LICENSES.md", thirdPartyLicenses([result[0].metafile, result[1].metafile]));
if (process.env.PATCHBAY_BUILD_META) writeFileSync(process.env.PATCHBAY_BUILD_META, JSON.stringify(result[0].metafile));
copyFileSync("dashboard/index.html", "dist/dashboard/index.html");
copyFileSync("dashboard/style.css", "dist/dashboard/style.css");
copyFileSync("node_modules/uplot/dist/uPlot.min.css", "dist/dashboard/uplot.css");
// declarations for plugin authors importing "mcp-patchbay" from the published package
execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.api.json"], { stdio: "inherit" });
