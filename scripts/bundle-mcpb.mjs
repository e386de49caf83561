// `npm run bundle`: a Claude Desktop bundle (.mcpb) built with the official @anthropic-ai/mcpb CLI.
//
// The bundle holds the packed package (what `npm pack` yields, so exactly what users install)
// under server/, with its two runtime dependencies installed: zod, and esbuild with its native
// binary for every platform Claude Desktop runs on (npm would install only this machine's).
// Claude Desktop runs `node server/dist/cli.js stdio --plugins <folder>`: it attaches to a
// running daemon or starts one, exactly as the npx entry does.
//
// Usage: node scripts/bundle-mcpb.mjs [OUT.mcpb]   (default: mcp-patchbay-<version>.mcpb)
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const out = resolve(process.argv[2] ?? join(root, `${pkg.name}-${pkg.version}.mcpb`));
const mcpb = join(root, "node_modules", "@anthropic-ai", "mcpb", "dist", "cli", "cli.js");
if (!existsSync(join(root, "dist", "cli.js"))) throw new Error("dist/ is missing: run `node scripts/build.mjs` first (npm run bundle does)");

// esbuild's per-platform binaries, at the version the package depends on
const ESBUILD_PLATFORMS = ["darwin-arm64", "darwin-x64", "win32-x64", "win32-arm64", "linux-x64", "linux-arm64"];
const esbuildVersion = JSON.parse(readFileSync(join(root, "node_modules", "esbuild", "package.json"), "utf8")).version;

const DEFAULT_PORT = 7337;
const manifest = {
  manifest_version: "0.3",
  name: "patchbay",
  display_name: "Patchbay",
  version: pkg.version,
  description: `Every MCP plugin in one folder, served as one server, with a live dashboard at http://127.0.0.1:${DEFAULT_PORT}/`,
  long_description: [
    "Patchbay hot-loads MCP plugins (tools, resources and prompts written in TypeScript or JavaScript, and upstream MCP servers declared as NAME.mcp.json) from a folder and serves all of them through this one entry.",
    `Save a plugin file and its tools appear a moment later, no restart. The dashboard at http://127.0.0.1:${DEFAULT_PORT}/ shows every call's latency, errors and traces.`,
    "Claude Desktop starts `patchbay stdio`, which attaches to the Patchbay daemon running for your user (or starts it), so every client shares one set of plugins.",
  ].join("\n\n"),
  author: { name: "Patchbay developers" },
  license: pkg.license,
  keywords: pkg.keywords,
  server: {
    type: "node",
    entry_point: "server/dist/cli.js",
    mcp_config: {
      command: "node",
      args: ["${__dirname}/server/dist/cli.js", "stdio", "--plugins", "${user_config.plugins_dir}"],
      env: {},
    },
  },
  tools_generated: true,
  prompts_generated: true,
  user_config: {
    plugins_dir: {
      type: "directory",
      title: "Plugins folder",
      description: "The folder Patchbay watches for plugins. The default, ~/.patchbay/plugins, is created with an example on first start; a folder you choose must exist (until it does, Patchbay serves no plugins and its status says the folder is missing).",
      required: false,
      default: "${HOME}/.patchbay/plugins",
    },
  },
  compatibility: {
    platforms: ["darwin", "win32", "linux"],
    runtimes: { node: pkg.engines.node },
  },
};

const stage = mkdtempSync(join(tmpdir(), "patchbay-mcpb-"));
try {
  const server = join(stage, "server");
  mkdirSync(server);
  execFileSync("npm", ["pack", "--ignore-scripts", "--silent", "--pack-destination", stage], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  const tarball = readdirSync(stage).find((f) => f.endsWith(".tgz"));
  execFileSync("tar", ["-xzf", join(stage, tarball), "-C", server, "--strip-components=1"]);
  rmSync(join(stage, tarball));
  // --force: npm refuses binaries for other platforms (EBADPLATFORM) without it
  execFileSync(
    "npm",
    ["install", "--omit=dev", "--ignore-scripts", "--no-package-lock", "--no-save", "--no-audit", "--no-fund", "--force", "--loglevel=error", ...ESBUILD_PLATFORMS.map((p) => `@esbuild/${p}@${esbuildVersion}`)],
    { cwd: server, stdio: ["ignore", "ignore", "inherit"] },
  );
  writeFileSync(join(stage, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
  execFileSync(process.execPath, [mcpb, "validate", join(stage, "manifest.json")], { stdio: ["ignore", "inherit", "inherit"] });
  rmSync(out, { force: true });
  execFileSync(process.execPath, [mcpb, "pack", stage, out], { stdio: ["ignore", "inherit", "inherit"] });
  console.log(`bundle: ${out}`);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
