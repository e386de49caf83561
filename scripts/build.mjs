// Builds dist/ with esbuild: the CLI, the plugin worker and the plugin API. Packages stay
// external (they are dependencies), so every part shares one zod and one MCP SDK.
import { build } from "esbuild";
import { rmSync, mkdirSync, writeFileSync } from "node:fs";

rmSync("dist", { recursive: true, force: true });
mkdirSync("dist", { recursive: true });
const common = { bundle: true, platform: "node", format: "esm", target: "node20", packages: "external", sourcemap: "linked", logLevel: "warning" };
await build({ ...common, entryPoints: { cli: "daemon/cli.ts", "worker-entry": "daemon/plugins/worker-entry.ts", api: "daemon/api.ts", main: "daemon/main.ts" }, outdir: "dist", banner: { js: "" } });
// types for plugin authors importing "mcp-patchbay" from a published package
writeFileSync("dist/api.d.ts", 'export * from "../daemon/api.ts";\n');
