/**
 * Search over the tools a view may call, for `patchbay__search_tools` and for the closest
 * names when `patchbay__call_tool` is given an unknown one. MiniSearch (BM25 with field
 * boosts, prefix and fuzzy matching) over each tool's exposed name, title, description,
 * parameter names and descriptions, its plugin's name and description, and the words
 * related to its own (search-vocabulary.ts), so "folder" finds a tool about directories.
 *
 * One index per registry version (the registry swaps its tools map on every change, so the
 * map is the version): a search runs against the map it was given, so it never returns a tool
 * that is gone, and a tool added by a reload is found as soon as the new map is in place —
 * before any client hears `list_changed`. The profile filter runs inside the search, so a tool
 * outside the view is never returned, not even as a near miss.
 *
 * A new version's index is the latest one brought up to date: the tools whose definition or
 * plugin changed are removed and added again, so a reload costs what the reloaded plugin's
 * tools cost, not what all tools cost (indexing 1,000 real tools takes about 90 ms of CPU).
 */
import MiniSearch from "minisearch";
import type { ExposedTool } from "../registry.ts";
import { relatedWords } from "./search-vocabulary.ts";

interface ToolDoc {
  id: string;
  name: string;
  title: string;
  description: string;
  params: string;
  plugin: string;
  /** words related to the tool's own (search-vocabulary.ts), weighted below them */
  aliases: string;
}

const FIELDS = ["name", "title", "description", "params", "plugin", "aliases"] as const;
/**
 * A plugin named in the query ("…in Supabase") picks the server, so its field weighs most
 * after the name; parameter descriptions say least about what a tool is for. Related words
 * weigh 2 (measured on bench/search-eval: 0.5 → recall@5 0.670, 1 → 0.684, 2 → 0.689,
 * 3 → 0.684); the field holds many words, so BM25's length normalization already keeps
 * each one below a word of the tool's own.
 */
const BOOST = { name: 3, title: 2, description: 1, params: 0.5, plugin: 3, aliases: 2 };
/**
 * Plain BM25 (MiniSearch's default adds d = 0.5 per matched word, BM25+) with stronger length
 * normalization: long descriptions full of usage examples otherwise match some word of every
 * query and crowd out short, exact ones.
 */
const BM25 = { k: 1.2, b: 0.9, d: 0 };

/** Splits identifiers as well as prose: `create_issue`, `createIssue`, `github__list-prs`. */
function tokenize(text: string): string[] {
  return text
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .split(/[^\p{L}\p{N}]+/u)
    .filter((t) => t.length > 0);
}

/**
 * Words that say nothing about which tool fits ("a tool to get the list of…", "could you
 * tell me who…"). Words of place, time and quantity ("up", "off", "all", "before") stay.
 */
const STOP = new Set(
  (
    "a an and are as at be by can do does for from get give how i in into is it its me my of on or please show some that the this to tool tools use using want what which with would you your " +
    "about also am any been being but could did doing done each else had has have having he her here hers him his if just let lets much must ought our ours shall she should so such than then there these they those too very was we were when where who whom why will yet yours"
  ).split(" "),
);

/** Lower case; stop words and single characters (the "s" of "what's", the "t" of "isn't") go. */
function processTerm(term: string): string | null {
  const t = term.toLowerCase();
  return t.length < 2 || STOP.has(t) ? null : t;
}

function paramText(schema: Record<string, unknown> | undefined): string {
  const props = schema && typeof schema.properties === "object" && schema.properties ? (schema.properties as Record<string, unknown>) : {};
  const parts: string[] = [];
  for (const [name, p] of Object.entries(props)) {
    parts.push(name);
    const d = p && typeof p === "object" ? (p as { description?: unknown }).description : undefined;
    if (typeof d === "string") parts.push(d);
  }
  return parts.join(" ");
}

function docOf(t: ExposedTool): ToolDoc {
  const m = t.plugin.manifest;
  const doc: ToolDoc = {
    id: t.exposed,
    name: t.exposed,
    title: [t.info.title, (t.info.annotations as { title?: unknown } | undefined)?.title].filter((x) => typeof x === "string").join(" "),
    description: t.info.description ?? "",
    params: paramText(t.info.inputSchema),
    plugin: [m.name, m.description ?? ""].join(" "),
    aliases: "",
  };
  // from what says what the tool does: its name, title and description
  const own = [doc.name, doc.title, doc.description].flatMap(tokenize).map((w) => processTerm(w)).filter((w): w is string => w !== null);
  doc.aliases = relatedWords(own).join(" ");
  return doc;
}

/** What a document was made from: the registry keeps these objects while a plugin is unchanged. */
interface Indexed {
  doc: ToolDoc;
  info: ExposedTool["info"];
  manifest: ExposedTool["plugin"]["manifest"];
}

interface Version {
  tools: Map<string, ExposedTool>;
  index: MiniSearch<ToolDoc>;
  docs: Map<string, Indexed>;
}

const indexes = new WeakMap<Map<string, ExposedTool>, MiniSearch<ToolDoc>>();
/** The version whose index the next one updates in place (it then stops being that version's). */
let latest: Version | undefined;

function same(i: Indexed | undefined, t: ExposedTool): boolean {
  return i !== undefined && i.info === t.info && i.manifest === t.plugin.manifest;
}

function fresh(tools: Map<string, ExposedTool>): Version {
  const index = new MiniSearch<ToolDoc>({ fields: [...FIELDS], storeFields: [], tokenize, processTerm });
  const docs = new Map<string, Indexed>();
  for (const t of tools.values()) docs.set(t.exposed, { doc: docOf(t), info: t.info, manifest: t.plugin.manifest });
  index.addAll([...docs.values()].map((d) => d.doc));
  return { tools, index, docs };
}

/** `prev`'s index made to hold exactly `tools`; undefined when a fresh build is as cheap. */
function updated(prev: Version, tools: Map<string, ExposedTool>): Version | undefined {
  const gone = [...prev.docs.entries()].filter(([id, i]) => {
    const t = tools.get(id);
    return !t || !same(i, t);
  });
  const added = [...tools.values()].filter((t) => !same(prev.docs.get(t.exposed), t));
  if (gone.length + added.length > tools.size / 2) return undefined;
  indexes.delete(prev.tools);
  const docs = prev.docs;
  for (const [id, i] of gone) {
    prev.index.remove(i.doc);
    docs.delete(id);
  }
  for (const t of added) {
    const d: Indexed = { doc: docOf(t), info: t.info, manifest: t.plugin.manifest };
    prev.index.add(d.doc);
    docs.set(t.exposed, d);
  }
  return { tools, index: prev.index, docs };
}

/**
 * The index of one registry version, built on first use: the latest index updated for what
 * changed, or built afresh when most tools changed (or the version searched is an old one).
 */
export function indexOf(tools: Map<string, ExposedTool>): MiniSearch<ToolDoc> {
  const known = indexes.get(tools);
  if (known) return known;
  const v = (latest && updated(latest, tools)) ?? fresh(tools);
  indexes.set(tools, v.index);
  latest = v;
  return v.index;
}

export interface SearchHit {
  tool: ExposedTool;
  score: number;
}

/**
 * The best `limit` tools of this registry version for a query, among those `allows` lets
 * through. Words are matched whole, by prefix (`repo` finds `repository`) and, past four
 * letters, with one typo in five letters.
 */
export function searchTools(tools: Map<string, ExposedTool>, query: string, limit: number, allows?: (name: string) => boolean): SearchHit[] {
  if (tools.size === 0) return [];
  const index = indexOf(tools);
  const hits = index.search(query, {
    boost: BOOST,
    bm25: BM25,
    prefix: (term) => term.length >= 3,
    fuzzy: (term) => (term.length > 4 ? 0.2 : false),
    combineWith: "OR",
    filter: allows ? (r) => allows(r.id as string) : undefined,
  });
  const out: SearchHit[] = [];
  for (const h of hits) {
    const tool = tools.get(h.id as string);
    if (tool) out.push({ tool, score: h.score });
    if (out.length >= limit) break;
  }
  return out;
}
