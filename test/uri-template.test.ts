/**
 * One URI-template matcher for both sides of a templated resources/read: the host picks the
 * template (Registry.findTemplate) and the plugin's runtime takes the variables out of the
 * URI; both use daemon/plugins/uri-template.ts. Runs the plugin runtime in this process
 * (no daemon, no worker thread) and holds both sides to SDK v2's own `UriTemplate`, which is
 * what an SDK server would answer with.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { UriTemplate as SdkV2UriTemplate } from "@modelcontextprotocol/server";
import { Registry } from "../daemon/registry.ts";
import { createPluginRuntime } from "../daemon/plugins/thread/plugin-runtime.ts";
import type { PluginHost } from "../daemon/plugins/host/plugin-host.ts";
import type { PluginManifest, WorkerToHost } from "../daemon/plugins/worker-protocol.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

// every operator the matcher knows, exploded lists, and templates that overlap
const TEMPLATES = [
  "file:///{path}",
  "docs://{+rest}",
  "search://items{?q,lang}",
  "tree://root{/segments*}",
  "pic://img{.ext}",
  "page://p{#frag}",
  "users://{id}/posts/{post}",
  "users://{id}/profile",
  "list://{ids*}",
  "q://x?fixed=1{&more}",
];

const URIS = [
  "file:///a.txt",
  "file:///dir/a.txt",
  "file:///",
  "file:///%20sp%C3%A9",
  "docs://a/b/c?x=1#y",
  "docs://",
  "search://items?q=cats&lang=en",
  "search://items?q=cats",
  "search://items?lang=en&q=cats",
  "search://items",
  "tree://root/a/b/c",
  "tree://root/a",
  "tree://root",
  "pic://img.png",
  "pic://img.tar.gz",
  "page://p#top",
  "users://42/posts/7",
  "users://42/profile",
  "users:///posts/7",
  "users://4/2/posts/7",
  "list://a,b,c",
  "list://a",
  "q://x?fixed=1&more=2",
  "q://x?fixed=1",
  "unknown://x",
  "",
  "file:///" + "a".repeat(1_000_001),
];

/** SDK v2's answer: the first template (in order) that matches, and its variables. */
function sdkAnswer(uri: string): { template: string; vars: Record<string, string | string[]> } | undefined {
  for (const t of TEMPLATES) {
    let vars: Record<string, string | string[]> | null;
    try {
      vars = new SdkV2UriTemplate(t).match(uri);
    } catch {
      vars = null;
    }
    if (vars) return { template: t, vars };
  }
  return undefined;
}

test("the host's routing and the plugin thread's variables agree with each other and with SDK v2, for every operator", async () => {
  const dir = mkdtempSync(join(tmpdir(), "pb-uri-template-"));
  try {
    const bundle = join(dir, "templates.mjs");
    // what the compiler would have made of a plugin whose every template reads back its variables
    const entries = TEMPLATES.map((t) => `${JSON.stringify(t)}: { read }`).join(", ");
    writeFileSync(bundle, `const read = (uri, vars) => JSON.stringify({ uri, vars });\nexport default { name: "tpl", resourceTemplates: { ${entries} } };\n`);

    const waiting = new Map<number, (m: Extract<WorkerToHost, { type: "result" }>) => void>();
    let loaded!: (m: PluginManifest) => void;
    const manifest = new Promise<PluginManifest>((r) => (loaded = r));
    const runtime = createPluginRuntime(
      {
        postMessage(msgs) {
          for (const m of Array.isArray(msgs) ? msgs : [msgs]) {
            if (m.type === "loaded") loaded(m.manifest);
            else if (m.type === "load-error") throw new Error(m.error.message);
            else if (m.type === "result") waiting.get(m.id)?.(m);
          }
        },
      },
      Promise.resolve(),
    );
    runtime.receive({ type: "load", bundlePath: bundle, file: join(dir, "templates.ts"), defaultName: "tpl", dataDir: join(dir, "data") });

    const registry = new Registry();
    registry.put({ key: bundle, file: bundle, manifest: await manifest, worker: {} as PluginHost });
    assert.deepEqual(
      registry.templates.map((t) => t.info.uriTemplate),
      TEMPLATES,
    );

    let id = 0;
    for (const uri of URIS) {
      const label = uri.length > 80 ? `${uri.slice(0, 40)}… (${uri.length} characters)` : JSON.stringify(uri);
      const expected = sdkAnswer(uri);
      const host = registry.findTemplate(uri);
      assert.equal(host?.info.uriTemplate, expected?.template, `host's template for ${label}`);
      if (!host) continue;
      const callId = ++id;
      const result = await new Promise<Extract<WorkerToHost, { type: "result" }>>((r) => {
        waiting.set(callId, r);
        runtime.receive({ type: "call", id: callId, kind: "template", target: host.info.uriTemplate, uri });
      });
      assert.ok(result.ok, `thread read of ${label}`);
      const text = (result.value as { contents: { text: string }[] }).contents[0].text;
      assert.deepEqual(JSON.parse(text).vars, expected!.vars, `thread's variables for ${label}`);
    }
    assert.ok(id >= 12, `only ${id} URIs matched a template: the corpus no longer tests much`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("no daemon file but plugins/uri-template.ts imports an SDK UriTemplate", () => {
  const files = (d: string): string[] => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? files(join(d, n)) : n.endsWith(".ts") ? [join(d, n)] : []));
  const importers = files(join(ROOT, "daemon"))
    .filter((f) => /import\s*\{[^}]*\bUriTemplate\b[^}]*\}\s*from\s*["']@modelcontextprotocol\//.test(readFileSync(f, "utf8")))
    .map((f) => relative(ROOT, f));
  assert.deepEqual(importers, ["daemon/plugins/uri-template.ts"]);
});
