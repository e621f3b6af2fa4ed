import type { Document } from "bson";
import { isPlainObject } from "./bson-values.js";
import { badValue } from "./errors.js";
import type { Storage } from "./storage.js";

/**
 * Text indexes: case- and diacritic-insensitive tokens, English stop words dropped (as mongod's
 * default_language "english" does), no stemming. An inverted index (a SQLite table) maps each
 * term to the documents containing it with a precomputed per-document score, so `$text` never scans.
 */

// mongod's English stop-word list (src/mongo/db/fts/stop_words_english.txt).
const ENGLISH_STOP_WORDS = new Set(
  (
    "a about above after again against all am an and any are aren't as at be because been before " +
    "being below between both but by can't cannot could couldn't did didn't do does doesn't doing " +
    "don't down during each few for from further had hadn't has hasn't have haven't having he he'd " +
    "he'll he's her here here's hers herself him himself his how how's i i'd i'll i'm i've if in " +
    "into is isn't it it's its itself let's me more most mustn't my myself no nor not of off on " +
    "once only or other ought our ours ourselves out over own same shan't she she'd she'll she's " +
    "should shouldn't so some such than that that's the their theirs them themselves then there " +
    "there's these they they'd they'll they're they've this those through to too under until up " +
    "very was wasn't we we'd we'll we're we've were weren't what what's when when's where where's " +
    "which while who who's whom why why's with won't would wouldn't you you'd you'll you're you've " +
    "your yours yourself yourselves"
  ).split(" "),
);

/** Lowercase and strip combining marks, so "Café" and "cafe" are the same text. */
export function foldText(text: string): string {
  return text
    .normalize("NFD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase();
}

export function tokenize(text: string): string[] {
  return foldText(text).match(/[\p{L}\p{N}]+(?:'[\p{L}]+)?/gu) ?? [];
}

export interface TextIndexOptions {
  /** field path → weight; "$**" indexes every string in the document. */
  readonly weights: ReadonlyMap<string, number>;
  readonly language: string;
  readonly languageOverride: string;
}

function stopWordsFor(language: string): ReadonlySet<string> {
  return language === "none" ? new Set() : ENGLISH_STOP_WORDS;
}

function collectStrings(value: unknown, out: string[]): void {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) for (const v of value) collectStrings(v, out);
  else if (isPlainObject(value)) for (const k in value) collectStrings(value[k], out);
}

function stringsAt(doc: Document, path: string): string[] {
  const out: string[] = [];
  if (path === "$**") {
    collectStrings(doc, out);
    return out;
  }
  const visit = (value: unknown, parts: string[]): void => {
    if (parts.length === 0) {
      if (typeof value === "string") out.push(value);
      else if (Array.isArray(value)) for (const v of value) if (typeof v === "string") out.push(v);
      return;
    }
    if (Array.isArray(value)) {
      for (const v of value) visit(v, parts);
      return;
    }
    if (isPlainObject(value)) visit(value[parts[0]!], parts.slice(1));
  };
  visit(doc, path.split("."));
  return out;
}

/** The folded text of every indexed field, for phrase matching. */
export function indexedText(doc: Document, options: TextIndexOptions): string[] {
  const texts: string[] = [];
  for (const path of options.weights.keys()) {
    for (const s of stringsAt(doc, path)) texts.push(foldText(s));
  }
  return texts;
}

/** term → score for one document, following mongod's shape: weight × frequency × length damping. */
export function scoreDocument(doc: Document, options: TextIndexOptions): Map<string, number> {
  const language =
    typeof doc[options.languageOverride] === "string"
      ? (doc[options.languageOverride] as string)
      : options.language;
  const stop = stopWordsFor(language);
  const scores = new Map<string, number>();
  for (const [path, weight] of options.weights) {
    for (const raw of stringsAt(doc, path)) {
      const tokens = tokenize(raw).filter((t) => !stop.has(t));
      if (tokens.length === 0) continue;
      const counts = new Map<string, number>();
      for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
      for (const [term, count] of counts) {
        let freq = 0;
        for (let i = 0; i < count; i++) freq += 1 / 2 ** i;
        const coeff = 0.5 * (count / tokens.length) + 0.5;
        scores.set(term, (scores.get(term) ?? 0) + weight * freq * coeff);
      }
    }
  }
  return scores;
}

export interface TextQuery {
  readonly terms: string[];
  readonly negated: string[];
  readonly phrases: string[];
  readonly negatedPhrases: string[];
}

/** Parses `$search`: words OR-ed, "quoted phrases" required, -word and -"phrase" excluded. */
export function parseSearch(search: string, language: string): TextQuery {
  const stop = stopWordsFor(language);
  const terms = new Set<string>();
  const negated = new Set<string>();
  const phrases: string[] = [];
  const negatedPhrases: string[] = [];
  const re = /(-?)"([^"]*)"?|(\S+)/g;
  for (let m = re.exec(search); m; m = re.exec(search)) {
    if (m[2] !== undefined) {
      const phrase = foldText(m[2]).trim();
      if (!phrase) continue;
      if (m[1]) negatedPhrases.push(phrase);
      else {
        phrases.push(phrase);
        for (const t of tokenize(phrase)) if (!stop.has(t)) terms.add(t);
      }
      continue;
    }
    const word = m[3]!;
    const isNegated = word.startsWith("-");
    for (const t of tokenize(isNegated ? word.slice(1) : word)) {
      if (stop.has(t)) continue;
      (isNegated ? negated : terms).add(t);
    }
  }
  return { terms: [...terms], negated: [...negated], phrases, negatedPhrases };
}

/**
 * Inverted index for one text index over one collection: a SQLite table of (term, rid, score)
 * (storage.ts), written in the same transaction as the document, so nothing is held in memory
 * or rebuilt at start. `ixId` is undefined until the table exists (see Collection).
 */
export class TextIndex {
  constructor(
    readonly options: TextIndexOptions,
    private readonly storage: Storage,
    readonly ixId: number | undefined,
  ) {}

  add(rid: number, doc: Document): void {
    for (const [term, score] of scoreDocument(doc, this.options)) {
      this.storage.insertTextEntry(this.ixId!, term, rid, score);
    }
  }

  remove(rid: number, doc: Document): void {
    for (const term of scoreDocument(doc, this.options).keys()) {
      this.storage.deleteTextEntry(this.ixId!, term, rid);
    }
  }

  /** Rewrites only the entries whose term or score changed between two versions. */
  replace(rid: number, before: Document, after: Document): void {
    const old = scoreDocument(before, this.options);
    const next = scoreDocument(after, this.options);
    for (const [term, score] of old) {
      if (next.get(term) !== score) this.storage.deleteTextEntry(this.ixId!, term, rid);
    }
    for (const [term, score] of next) {
      if (old.get(term) !== score) this.storage.insertTextEntry(this.ixId!, term, rid, score);
    }
  }

  /**
   * Keys and scores of documents matching the positive terms (phrases and negations are checked
   * by the caller against the document text, since they need the raw field values).
   */
  candidates(query: TextQuery): Map<string, number> {
    const scores = new Map<string, number>();
    for (const term of query.terms) {
      for (const { id, score } of this.storage.textPostings(this.ixId!, term)) {
        scores.set(id, (scores.get(id) ?? 0) + score);
      }
    }
    for (const term of query.negated) {
      for (const { id } of this.storage.textPostings(this.ixId!, term)) scores.delete(id);
    }
    return scores;
  }
}

export function matchesPhrases(view: Document, options: TextIndexOptions, q: TextQuery): boolean {
  if (q.phrases.length === 0 && q.negatedPhrases.length === 0) return true;
  const texts = indexedText(view, options);
  const contains = (p: string) => texts.some((t) => t.includes(p));
  return q.phrases.every(contains) && !q.negatedPhrases.some(contains);
}

export interface TextSpec {
  readonly $search: string;
  readonly $language?: string;
}

export function validateTextSpec(spec: unknown): TextSpec {
  if (!isPlainObject(spec) || typeof spec.$search !== "string") {
    throw badValue("$search needs a String");
  }
  if (spec.$language !== undefined && typeof spec.$language !== "string") {
    throw badValue("$language needs a String");
  }
  return spec as TextSpec;
}
