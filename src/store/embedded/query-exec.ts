import type { Document } from "bson";
import { projectBson } from "./bson-project.js";
import { isPlainObject } from "./bson-tags.js";
import { decodeDocument } from "./bson-values.js";
import { parseCollation } from "./collation.js";
import type { Collection, StoredDoc } from "./collection.js";
import { badValue, commandError } from "./errors.js";
import type { QueryEngine } from "./mingo-engine.js";
import { planQuery } from "./planner.js";
import { compileFindProjection, topLevelInclusion } from "./projection.js";
import { RawDocument } from "./raw-doc.js";
import { type SortKey, sortDocuments } from "./sort.js";
import { matchesPhrases, parseSearch, validateTextSpec } from "./text-search.js";

/**
 * Runs a filter over a collection: the planner picks candidates, mingo decides, then an
 * optional sort/skip/limit. `$text` is answered here from the text index, since mingo has no
 * text search; its scores travel alongside for `{ $meta: "textScore" }`.
 */

export interface MatchOptions {
  readonly sort?: readonly SortKey[];
  readonly skip?: number;
  readonly limit?: number;
  /** The operation's collation document (validated here); binary comparison without one. */
  readonly collation?: Document;
  /** The command's `let` variables. */
  readonly variables?: Document;
  /**
   * Decode only these top-level fields (the filter's and the sort's): the documents are
   * partial, with their stored bytes in `raw`, for a reply that sends them whole.
   */
  readonly fields?: ReadonlySet<string>;
}

export interface MatchResult {
  readonly docs: StoredDoc[];
  /** Text scores by document key, present when the filter used $text. */
  readonly scores: Map<string, number> | undefined;
  /** How the documents were found, for explain. */
  readonly stats: MatchStats;
}

export interface MatchStats {
  /** "TEXT", an index name, or undefined for a collection scan. */
  readonly index: string | undefined;
  readonly sortedByIndex: boolean;
  readonly docsExamined: number;
}

/** Splits `$text` out of a filter (top level or directly inside a top-level $and). */
function extractText(filter: Document): { rest: Document; text: unknown } {
  if (filter.$text !== undefined) {
    const { $text, ...rest } = filter;
    return { rest, text: $text };
  }
  if (Array.isArray(filter.$and)) {
    const i = filter.$and.findIndex((c: unknown) => isPlainObject(c) && c.$text !== undefined);
    if (i >= 0) {
      const clauses = [...filter.$and];
      const { $text, ...clause } = clauses[i] as Document;
      clauses[i] = clause;
      return { rest: { ...filter, $and: clauses }, text: $text };
    }
  }
  return { rest: filter, text: undefined };
}

function textCandidates(collection: Collection, spec: unknown): Map<string, number> {
  const text = validateTextSpec(spec);
  const ix = collection.textIndex();
  if (!ix?.text) throw commandError("IndexNotFound", "text index required for $text query");
  const language = text.$language ?? ix.text.options.language;
  const query = parseSearch(text.$search, language);
  const scores = ix.text.candidates(query);
  if (query.phrases.length || query.negatedPhrases.length) {
    for (const key of [...scores.keys()]) {
      const doc = collection.docs.get(key);
      if (!doc || !matchesPhrases(doc.typed, ix.text.options, query)) scores.delete(key);
    }
  }
  return scores;
}

function* byKeys(collection: Collection, keys: Iterable<string>): Generator<StoredDoc> {
  for (const key of keys) {
    const doc = collection.docs.get(key);
    if (doc) yield doc;
  }
}

export function matchDocuments(
  engine: QueryEngine,
  collection: Collection | undefined,
  filter: Document | undefined,
  options: MatchOptions = {},
): MatchResult {
  if (filter !== undefined && !isPlainObject(filter)) throw badValue("filter must be an object");
  if (!collection) {
    return {
      docs: [],
      scores: undefined,
      stats: { index: undefined, sortedByIndex: false, docsExamined: 0 },
    };
  }
  const strcmp = parseCollation(options.collation);
  const { rest, text } = extractText(filter ?? {});
  const scores = text === undefined ? undefined : textCandidates(collection, text);
  const test = Object.keys(rest).length
    ? engine.compileFilter(rest, {
        variables: options.variables,
        collation: strcmp ? options.collation : undefined,
      })
    : () => true;
  const sort = options.sort ?? [];
  // Indexes hold binary-ordered strings, so a collated query does not use them.
  const plan = scores
    ? { candidates: byKeys(collection, scores.keys()), sorted: sort.length === 0, index: "TEXT" }
    : planQuery(collection, rest, {
        sort,
        collation: strcmp !== undefined,
        fields: options.fields,
      });
  const skip = options.skip ?? 0;
  // Stop early only when candidates already come in the final order.
  const wanted =
    plan.sorted && options.limit !== undefined && options.limit > 0
      ? skip + options.limit
      : Infinity;
  let docs: StoredDoc[] = [];
  let docsExamined = 0;
  for (const doc of plan.candidates) {
    docsExamined++;
    if (test(doc.typed)) {
      docs.push(doc);
      if (docs.length >= wanted) break;
    }
  }
  if (!plan.sorted) {
    docs = sortDocuments(
      docs,
      sort,
      (d) => d.typed,
      (d) => scores?.get(d.key) ?? 0,
      strcmp,
    );
  }
  if (skip > 0 || (options.limit !== undefined && options.limit > 0)) {
    const end = options.limit !== undefined && options.limit > 0 ? skip + options.limit : undefined;
    docs = docs.slice(skip, end);
  }
  return {
    docs,
    scores,
    stats: { index: plan.index, sortedByIndex: plan.sorted && sort.length > 0, docsExamined },
  };
}

/**
 * The documents matching a filter, yielded one at a time in natural (or index) order, for
 * consumers that reduce them (an aggregation's $group): nothing is collected, so memory stays
 * flat however many documents match. No `$text`, sort or limit.
 */
export function* streamDocuments(
  engine: QueryEngine,
  collection: Collection | undefined,
  filter: Document | undefined,
  options: Pick<MatchOptions, "collation" | "variables"> & {
    /** Top-level fields the consumer reads (and the filter tests): only these are decoded. */
    readonly fields?: ReadonlySet<string>;
  } = {},
): Generator<StoredDoc> {
  if (filter !== undefined && !isPlainObject(filter)) throw badValue("filter must be an object");
  if (!collection) return;
  const strcmp = parseCollation(options.collation);
  const rest = filter ?? {};
  const test = Object.keys(rest).length
    ? engine.compileFilter(rest, {
        variables: options.variables,
        collation: strcmp ? options.collation : undefined,
      })
    : () => true;
  const plan = planQuery(collection, rest, {
    sort: [],
    collation: strcmp !== undefined,
    fields: options.fields,
  });
  for (const doc of plan.candidates) if (test(doc.typed)) yield doc;
}

/** Splits `{ $meta: "textScore" }` fields out of a projection (mingo has no $meta). */
export function splitMetaProjection(projection: Document | undefined): {
  projection: Document | undefined;
  scoreFields: string[];
} {
  if (!projection) return { projection: undefined, scoreFields: [] };
  const scoreFields: string[] = [];
  const rest: Document = {};
  for (const [k, v] of Object.entries(projection)) {
    if (isPlainObject(v) && v.$meta !== undefined) {
      if (v.$meta !== "textScore")
        throw badValue(`unsupported $meta projection: ${String(v.$meta)}`);
      scoreFields.push(k);
    } else rest[k] = v;
  }
  return { projection: Object.keys(rest).length ? rest : undefined, scoreFields };
}

/** Turns matched documents into reply documents (projection and `$meta: "textScore"`). */
export function createRenderer(
  engine: QueryEngine,
  projection: Document | undefined,
  filter: Document | undefined,
  scores: Map<string, number> | undefined,
): (doc: StoredDoc) => Document {
  const split = splitMetaProjection(projection);
  if (split.scoreFields.length && !scores) {
    throw commandError("BadValue", "query requires text score metadata, but it is not available");
  }
  const project = split.projection
    ? compileFindProjection(engine, split.projection, extractText(filter ?? {}).rest)
    : undefined;
  const kept = split.scoreFields.length === 0 ? topLevelInclusion(split.projection) : undefined;
  return (doc) => {
    // A partial document (decoded for the filter only) goes out as its stored bytes, or as the
    // stored elements a top-level inclusion projection keeps.
    if (doc.raw && split.scoreFields.length === 0) {
      if (!project) return new RawDocument(doc.raw);
      if (kept) {
        const projected = projectBson(doc.raw, kept);
        // The same bytes back: an element type it cannot walk, so project the decoded document.
        return projected === doc.raw
          ? project(decodeDocument(doc.raw))
          : new RawDocument(projected);
      }
    }
    let out: Document = project ? project(doc.typed) : doc.typed;
    if (split.scoreFields.length) {
      out = { ...out };
      for (const f of split.scoreFields) out[f] = scores?.get(doc.key) ?? 0;
    }
    return out;
  };
}
