// Builds dist/ with esbuild: the CLI, the plugin worker, the plugin API and the dashboard.
// Node packages stay external (they are dependencies), so every part shares one zod and
// one MCP SDK; the dashboard is bundled whole for the browser.
import { build } from "esbuild";
import { rmSync, mkdirSync, copyFileSync } from "node:fs";
import { execFileSync } from "node:child_process";

rmSync("dist", { recursive: true, force: true });
mkdirSync("dist/dashboard", { recursive: true });
const common = { bundle: true, platform: "node", format: "esm", target: "node20", packages: "external", sourcemap: "linked", logLevel: "warning" };
await Promise.all([
  build({ ...common, entryPoints: { cli: "daemon/cli.ts", "worker-entry": "daemon/plugins/worker-entry.ts", api: "daemon/api.ts", main: "daemon/main.ts" }, outdir: "dist" }),
  build({ entryPoints: ["dashboard/app.ts"], bundle: true, platform: "browser", format: "iife", target: "es2022", minify: true, sourcemap: "linked", outfile: "dist/dashboard/app.js", logLevel: "warning" }),
]);
copyFileSync("dashboard/index.html", "dist/dashboard/index.html");
copyFileSync("dashboard/style.css", "dist/dashboard/style.css");
copyFileSync("node_modules/uplot/dist/uPlot.min.css", "dist/dashboard/uplot.css");
// declarations for plugin authors importing "mcp-patchbay" from the published package
execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.api.json"], { stdio: "inherit" });
