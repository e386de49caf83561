/**
 * Re-collects bench/search-eval/catalogue.json: installs each pinned MCP server below from
 * the npm registry into a folder of its own under a scratch folder (one shared install lets
 * one server's SDK version shadow another's), starts each over stdio with the official SDK
 * client, lists its tools and saves them. The bench never runs this (it reads the committed
 * catalogue, offline); run it by hand when the catalogue should follow newer servers:
 *
 *   npx tsx bench/search-eval/collect.ts [--dir /tmp/mcp-cat] [--skip-install]
 *
 * Credentials are dummies: each server here lists its tools without reaching its service.
 * Left out: @stripe/mcp (now a proxy to a remote server) and server-redis (exits when it
 * cannot connect).
 * HOME points at a scratch folder so no server writes settings into the real one.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { z } from "zod";

/**
 * tools/list as the server sent it: the SDK's own result schema rejects a server whose
 * schemas lack `type: "object"` (server-gitlab's, as its zod-to-json-schema emits them), and
 * the catalogue should hold what clients really receive.
 */
const LaxListTools = z.looseObject({ tools: z.array(z.looseObject({ name: z.string() })), nextCursor: z.string().optional() });

interface ServerSpec {
  /** the plugin name Patchbay would give it (`NAME.mcp.json`): exposed tools are `NAME__tool` */
  name: string;
  package: string;
  version: string;
  /** the `bin` to run when the package has several */
  bin?: string;
  args?: (scratch: string) => string[];
  env?: Record<string, string>;
  /** more packages to install beside it */
  extra?: string[];
}

export const SERVERS: ServerSpec[] = [
  { name: "filesystem", package: "@modelcontextprotocol/server-filesystem", version: "2026.8.31", args: (s) => [s] },
  { name: "memory", package: "@modelcontextprotocol/server-memory", version: "2026.8.31", env: { MEMORY_FILE_PATH: "memory.jsonl" } },
  { name: "everything", package: "@modelcontextprotocol/server-everything", version: "2026.8.31", args: () => ["stdio"] },
  { name: "github", package: "@modelcontextprotocol/server-github", version: "2025.4.8", env: { GITHUB_PERSONAL_ACCESS_TOKEN: "dummy" } },
  // it imports zod without declaring it: a fresh install hoists zod 4, with which its
  // zod-to-json-schema emits empty input schemas; zod 3 (its SDK's) gives the real ones
  { name: "gitlab", package: "@modelcontextprotocol/server-gitlab", version: "2025.4.25", env: { GITLAB_PERSONAL_ACCESS_TOKEN: "dummy" }, extra: ["zod@3.25.76"] },
  { name: "sequential_thinking", package: "@modelcontextprotocol/server-sequential-thinking", version: "2026.8.31" },
  { name: "slack", package: "@modelcontextprotocol/server-slack", version: "2025.4.25", env: { SLACK_BOT_TOKEN: "xoxb-dummy", SLACK_TEAM_ID: "T000" } },
  { name: "brave_search", package: "@modelcontextprotocol/server-brave-search", version: "0.6.2", env: { BRAVE_API_KEY: "dummy" } },
  { name: "google_maps", package: "@modelcontextprotocol/server-google-maps", version: "0.6.2", env: { GOOGLE_MAPS_API_KEY: "dummy" } },
  { name: "postgres", package: "@modelcontextprotocol/server-postgres", version: "0.6.2", args: () => ["postgresql://localhost:1/dummy"] },
  { name: "playwright", package: "@playwright/mcp", version: "0.0.86", args: () => ["--headless"] },
  { name: "notion", package: "@notionhq/notion-mcp-server", version: "2.5.2", env: { NOTION_TOKEN: "dummy" } },
  { name: "kubernetes", package: "mcp-server-kubernetes", version: "4.1.7" },
  // every feature group but `docs`, whose tool fetches the docs' GraphQL schema to list itself
  { name: "supabase", package: "@supabase/mcp-server-supabase", version: "0.13.0", args: () => ["--access-token", "dummy", "--features=account,database,debugging,development,functions,branching,storage"] },
  { name: "firecrawl", package: "firecrawl-mcp", version: "3.22.2", env: { FIRECRAWL_API_KEY: "fc-dummy" } },
  { name: "mongodb", package: "mongodb-mcp-server", version: "3.0.4" },
  { name: "context7", package: "@upstash/context7-mcp", version: "4.1.1" },
  { name: "tavily", package: "tavily-mcp", version: "0.2.22", env: { TAVILY_API_KEY: "tvly-dummy" } },
  { name: "desktop_commander", package: "@wonderwhy-er/desktop-commander", version: "0.2.52", bin: "desktop-commander" },
  { name: "figma", package: "figma-developer-mcp", version: "0.13.2", args: () => ["--figma-api-key=dummy", "--stdio"] },
  { name: "exa", package: "exa-mcp-server", version: "3.4.1", env: { EXA_API_KEY: "dummy" } },
  { name: "airtable", package: "airtable-mcp-server", version: "1.14.0", env: { AIRTABLE_API_KEY: "dummy" } },
  { name: "puppeteer", package: "@modelcontextprotocol/server-puppeteer", version: "2025.5.12" },
];

export interface CatalogueTool {
  name: string;
  title?: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}

export interface CatalogueServer {
  name: string;
  package: string;
  version: string;
  description?: string;
  tools: CatalogueTool[];
}

export interface Catalogue {
  collected: string;
  note: string;
  servers: CatalogueServer[];
}

const HERE = dirname(fileURLToPath(import.meta.url));

function binOf(dir: string, spec: ServerSpec): string {
  const pkgDir = join(dir, spec.name, "node_modules", spec.package);
  const pkg = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")) as { version: string; bin?: string | Record<string, string> };
  if (pkg.version !== spec.version) throw new Error(`${spec.package}: ${pkg.version} installed, ${spec.version} pinned`);
  const bin = typeof pkg.bin === "string" ? pkg.bin : pkg.bin?.[spec.bin ?? Object.keys(pkg.bin)[0]];
  if (!bin) throw new Error(`${spec.package}: no bin`);
  return join(pkgDir, bin);
}

async function listTools(dir: string, spec: ServerSpec, scratch: string): Promise<CatalogueServer> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [binOf(dir, spec), ...(spec.args?.(scratch) ?? [])],
    env: { PATH: process.env.PATH ?? "", HOME: scratch, ...spec.env },
    cwd: scratch,
    stderr: "ignore",
  });
  const client = new Client({ name: "patchbay-search-eval", version: "1.0.0" }, { capabilities: {} });
  try {
    await client.connect(transport, { timeout: 60_000 });
    const tools: CatalogueTool[] = [];
    let cursor: string | undefined;
    do {
      const page = await client.request({ method: "tools/list", params: cursor ? { cursor } : {} }, LaxListTools, { timeout: 60_000 });
      for (const t of page.tools as unknown as CatalogueTool[]) {
        const keep: CatalogueTool = { name: t.name, inputSchema: t.inputSchema as Record<string, unknown> };
        if (t.title) keep.title = t.title;
        if (t.description) keep.description = t.description;
        if (t.outputSchema) keep.outputSchema = t.outputSchema as Record<string, unknown>;
        if (t.annotations) keep.annotations = t.annotations as Record<string, unknown>;
        tools.push(keep);
      }
      cursor = page.nextCursor;
    } while (cursor);
    const info = client.getServerVersion();
    return { name: spec.name, package: spec.package, version: spec.version, ...(info?.title || info?.description ? { description: String(info?.description ?? info?.title) } : {}), tools };
  } finally {
    await client.close().catch(() => undefined);
  }
}

async function main() {
  const { values } = parseArgs({ options: { dir: { type: "string", default: join(tmpdir(), "mcp-cat2") }, "skip-install": { type: "boolean", default: false }, only: { type: "string" } } });
  const dir = values.dir!;
  const specs = values.only ? SERVERS.filter((s) => values.only!.split(",").includes(s.name)) : SERVERS;
  if (!values["skip-install"])
    for (const spec of specs) {
      const at = join(dir, spec.name);
      mkdirSync(at, { recursive: true });
      if (!existsSync(join(at, "package.json"))) writeFileSync(join(at, "package.json"), '{"name":"mcp-cat","private":true}\n');
      process.stderr.write(`installing ${spec.package}@${spec.version}\n`);
      // no install scripts: they download browsers and binaries that listing tools does not need
      execFileSync("npm", ["install", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error", `${spec.package}@${spec.version}`, ...(spec.extra ?? [])], {
        cwd: at,
        stdio: ["ignore", "inherit", "inherit"],
        env: { ...process.env, PUPPETEER_SKIP_DOWNLOAD: "1", PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: "1" },
      });
    }
  const out = join(HERE, "catalogue.json");
  const previous: Catalogue | undefined = existsSync(out) ? JSON.parse(readFileSync(out, "utf8")) : undefined;
  const servers = new Map((previous?.servers ?? []).map((s) => [s.name, s]));
  for (const spec of specs) {
    const scratch = mkdtempSync(join(tmpdir(), "mcp-cat-run-"));
    try {
      const s = await listTools(dir, spec, scratch);
      servers.set(spec.name, s);
      process.stderr.write(`${spec.name}: ${s.tools.length} tools (${spec.package}@${spec.version})\n`);
    } catch (err) {
      process.stderr.write(`${spec.name}: FAILED ${(err as Error).message}\n`);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  const order = SERVERS.map((s) => s.name);
  const list = [...servers.values()].filter((s) => order.includes(s.name)).sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  const catalogue: Catalogue = {
    collected: new Date().toISOString().slice(0, 10),
    note: "tools/list of published MCP servers, collected by bench/search-eval/collect.ts with dummy credentials; `name` is the plugin name the bench gives each server",
    servers: list,
  };
  writeFileSync(out, JSON.stringify(catalogue, null, 1) + "\n");
  process.stderr.write(`${list.length} servers, ${list.reduce((n, s) => n + s.tools.length, 0)} tools → ${out}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
