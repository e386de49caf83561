/**
 * The words people and tool descriptions use for the same thing, for tool search. Lexical
 * search (BM25) finds a tool only through words its definition shares with the query, and
 * users rarely speak in a tool's words: "folder" for directory, "PR" for pull request,
 * "remember" for a knowledge-graph entity. Each group below is one meaning in the vocabulary
 * of tools (files, code hosting, chat, data, the web, cloud, everyday verbs); a tool whose
 * definition holds one word of a group is also found by the others, at a lower weight than
 * its own words (tool-search.ts `aliases`).
 *
 * Groups are general vocabulary, not answers to particular queries. Words are in their
 * singular, lower-case form; a definition's words are matched to them through
 * `normalizeTerm`. (Normalizing the index itself the same way lost recall on the
 * evaluation in bench/search-eval, 0.612 → 0.597 at @5: plain prefix matching already
 * finds "files" from "file", and merged forms changed the term statistics.)
 */
const GROUPS: string[][] = [
  // everyday verbs of tools
  ["create", "add", "new", "make", "insert", "open"],
  ["delete", "remove", "erase", "drop", "destroy", "trash", "discard"],
  ["update", "edit", "modify", "change", "patch", "alter", "rename", "set"],
  ["read", "view", "show", "display", "open", "see", "print", "cat"],
  ["get", "fetch", "retrieve", "obtain", "look", "load"],
  ["list", "enumerate", "browse", "index", "overview", "inventory"],
  ["search", "find", "lookup", "query", "locate", "seek", "discover"],
  ["write", "save", "store", "put", "record", "persist"],
  ["send", "post", "publish", "tell", "notify", "message", "say", "announce"],
  ["run", "execute", "exec", "invoke", "launch", "start", "trigger"],
  ["stop", "kill", "terminate", "halt", "cancel", "abort", "end"],
  ["move", "rename", "relocate", "transfer"],
  ["copy", "duplicate", "clone"],
  ["count", "many", "number", "total", "tally", "size"],
  ["compare", "diff", "difference", "changed"],
  ["download", "fetch", "pull", "retrieve"],
  ["upload", "push", "attach"],
  ["summarize", "summary", "overview", "digest", "tldr"],
  ["explain", "describe", "detail", "info", "information", "inspect"],
  ["check", "verify", "validate", "test", "status", "health"],
  ["schedule", "plan", "book", "calendar", "event", "meeting", "appointment"],
  ["remember", "memory", "memorize", "note", "knowledge", "fact", "observation", "entity"],
  ["forget", "delete", "remove"],
  ["think", "reason", "reasoning", "thought", "step", "plan"],
  // files
  ["folder", "directory", "dir"],
  ["file", "document", "doc"],
  ["content", "contents", "text", "body"],
  ["tree", "hierarchy", "structure", "recursive"],
  ["permission", "access", "allowed", "allow"],
  // code hosting
  ["pr", "pull", "merge"],
  ["issue", "ticket", "bug", "task"],
  ["repository", "repo", "project", "codebase"],
  ["branch", "ref"],
  ["commit", "change", "revision"],
  ["readme", "documentation", "docs", "doc"],
  ["comment", "reply", "review", "feedback"],
  ["star", "favorite", "bookmark"],
  ["fork", "clone", "copy"],
  ["release", "version", "tag"],
  // chat and people
  ["channel", "room", "group", "conversation"],
  ["user", "member", "person", "people", "account", "profile", "who"],
  ["email", "mail", "inbox"],
  ["reaction", "emoji", "react"],
  ["thread", "reply", "conversation"],
  // data
  ["database", "db", "sql", "postgres", "mongo"],
  ["table", "collection", "sheet", "base"],
  ["row", "record", "document", "entry", "item"],
  ["column", "field", "attribute", "property", "schema"],
  ["query", "select", "sql", "aggregate", "filter"],
  ["index", "indexes"],
  ["migration", "migrate", "schema"],
  // the web and browsers
  ["web", "internet", "online", "google", "search"],
  ["page", "website", "site", "url", "link", "webpage", "address"],
  ["browser", "navigate", "visit", "go", "tab"],
  ["click", "press", "tap", "button"],
  ["type", "fill", "enter", "input", "form"],
  ["screenshot", "capture", "snapshot", "image", "picture", "screen"],
  ["scrape", "crawl", "extract", "fetch", "content"],
  ["news", "article", "headline"],
  // maps and places
  ["location", "place", "address", "coordinate", "latitude", "longitude", "geocode", "where"],
  ["direction", "route", "navigation", "drive", "travel", "distance"],
  ["elevation", "altitude", "height", "sea", "level"],
  ["nearby", "near", "around", "close"],
  ["weather", "forecast", "temperature", "rain"],
  ["time", "date", "clock", "timezone", "now", "today"],
  // cloud and ops
  ["log", "logs", "output", "printing", "stdout", "stderr"],
  ["pod", "container", "workload"],
  ["deployment", "deploy", "rollout", "release"],
  ["cluster", "context", "kubectl", "kubernetes", "k8s"],
  ["service", "endpoint", "api"],
  ["secret", "credential", "key", "token", "password"],
  ["config", "configuration", "setting", "option", "preference"],
  ["process", "program", "pid", "running"],
  ["terminal", "shell", "command", "bash", "cli"],
  ["error", "failure", "problem", "issue", "exception"],
  ["cost", "price", "billing", "spend", "usage"],
  ["function", "lambda", "serverless"],
  ["storage", "bucket", "blob"],
  // design
  ["design", "figma", "mockup", "frame", "layout"],
  // libraries
  ["library", "package", "dependency", "module", "framework", "sdk"],
];

/** Singular, lower case: "Directories" → "directory", "files" → "file", "status" stays. */
export function normalizeTerm(term: string): string {
  const t = term.toLowerCase();
  if (t.length <= 3) return t;
  if (t.endsWith("ies")) return t.slice(0, -3) + "y";
  if (t.endsWith("sses")) return t.slice(0, -2);
  if (t.endsWith("s") && !/(ss|us|is|os)$/.test(t)) return t.slice(0, -1);
  return t;
}

const RELATED = new Map<string, Set<string>>();
for (const group of GROUPS) {
  const words = group.map(normalizeTerm);
  for (const w of words) {
    let r = RELATED.get(w);
    if (!r) RELATED.set(w, (r = new Set()));
    for (const o of words) if (o !== w) r.add(o);
  }
}

/** The words related to any of `terms` that are not among them, for a tool's `aliases` field. */
export function relatedWords(terms: Iterable<string>): string[] {
  const own = new Set([...terms].map(normalizeTerm));
  const out = new Set<string>();
  for (const t of own) for (const r of RELATED.get(t) ?? []) if (!own.has(r)) out.add(r);
  return [...out];
}
