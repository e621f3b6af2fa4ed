import type { Document } from "bson";
import { keyOf } from "./bson-key.js";
import { isNumeric } from "./bson-numbers.js";
import { Bound, compareValues, Rank, typeRank } from "./bson-order.js";
import { bsonTag, isPlainObject } from "./bson-tags.js";
import type { Collection, IndexRuntime, StoredDoc } from "./collection.js";
import type { SortKey } from "./sort.js";

/**
 * Chooses candidate documents for a filter. Equality, $in and range predicates on the leading
 * fields of an index become bounded scans of its sorted entries; everything else falls back to
 * a scan in natural order. Index scans are SQLite B-tree range scans over byte-encoded keys
 * (key-codec.ts), bounds encoded the same way. Candidates are a superset: mingo still tests the whole filter on each
 * one, so the planner only has to be conservative, never exact.
 */

interface Range {
  lower: unknown;
  upper: unknown;
  /** Set when both sides come from the query (only usable together on non-multikey fields). */
  bothSides: boolean;
}

interface FieldPredicate {
  /** Candidate values from equality or $in; a document must equal one of them. */
  eq?: unknown[];
  range?: Range;
}

export interface Plan {
  readonly candidates: Iterable<StoredDoc>;
  /** True when candidates already come out in the requested sort order. */
  readonly sorted: boolean;
  /** Name of the index used, for diagnostics and tests. */
  readonly index: string | undefined;
}

/** Bounds the cartesian product of $in lists over compound prefixes, not a single long $in. */
const MAX_POINTS = 100_000;

function isEqualityValue(v: unknown): boolean {
  if (typeof v === "number") return !Number.isNaN(v);
  if (typeof v === "string" || typeof v === "boolean" || isNumeric(v)) return true;
  if (v === null || v instanceof Date) return true;
  const tag = bsonTag(v);
  return tag === "ObjectId" || tag === "Binary";
}

function isRangeValue(v: unknown): boolean {
  if (typeof v === "number") return !Number.isNaN(v);
  if (typeof v === "string" || v instanceof Date || isNumeric(v)) return true;
  return bsonTag(v) === "ObjectId";
}

function mergeRange(current: Range | undefined, op: string, value: unknown): Range | undefined {
  const rank = typeRank(value);
  const next: Range = current
    ? { ...current }
    : {
        lower: Bound.bracketStart(rank),
        upper: Bound.bracketEnd(rank),
        bothSides: false,
      };
  if (current) {
    // Predicates of different types can never both hold; leave this field to mingo.
    const existingRank = typeRank(current.lower instanceof Bound ? current.upper : current.lower);
    if (existingRank !== rank) return current;
    next.bothSides = true;
  }
  if (op === "$gt" || op === "$gte") next.lower = value;
  else next.upper = value;
  return next;
}

function addCondition(preds: Map<string, FieldPredicate>, field: string, cond: unknown): void {
  const pred = preds.get(field) ?? {};
  if (isPlainObject(cond) && Object.keys(cond).some((k) => k.startsWith("$"))) {
    for (const [op, value] of Object.entries(cond)) {
      if (op === "$eq" && isEqualityValue(value)) pred.eq = [value];
      else if (op === "$in" && Array.isArray(value) && value.every(isEqualityValue)) {
        if (!pred.eq || value.length < pred.eq.length) pred.eq = value;
      } else if (["$gt", "$gte", "$lt", "$lte"].includes(op) && isRangeValue(value)) {
        pred.range = mergeRange(pred.range, op, value);
      }
    }
  } else if (isEqualityValue(cond)) {
    pred.eq = [cond];
  }
  if (pred.eq || pred.range) preds.set(field, pred);
}

/** Conjunctive predicates on plain field paths (top level and inside $and). */
function collectPredicates(filter: Document, preds = new Map<string, FieldPredicate>()) {
  for (const [field, cond] of Object.entries(filter)) {
    if (field === "$and" && Array.isArray(cond)) {
      for (const child of cond) if (isPlainObject(child)) collectPredicates(child, preds);
    } else if (field === "$or" && Array.isArray(cond)) {
      for (const [path, hull] of orHull(cond)) if (!preds.has(path)) preds.set(path, hull);
    } else if (!field.startsWith("$")) {
      addCondition(preds, field, cond);
    }
  }
  return preds;
}

/** A predicate as an interval of one type bracket, when it can be one. */
function asInterval(pred: FieldPredicate): Range | undefined {
  if (pred.range) return pred.range;
  const value = pred.eq?.length === 1 ? pred.eq[0] : undefined;
  return value !== undefined && isRangeValue(value)
    ? { lower: value, upper: value, bothSides: false }
    : undefined;
}

function rankOf(range: Range): number {
  return typeRank(range.lower instanceof Bound ? range.upper : range.lower);
}

/**
 * What every branch of an $or says about a field, widened to cover all of them: the union of
 * equality values, or the smallest interval containing each branch's interval. Keyset
 * pagination (`$or: [{t: {$lt: x}}, {t: x, _id: {$lt: y}}]`) thereby becomes a range on t.
 */
function orHull(branches: unknown[]): Map<string, FieldPredicate> {
  const hull = new Map<string, FieldPredicate>();
  if (branches.length === 0 || !branches.every(isPlainObject)) return hull;
  const maps = branches.map((b) => collectPredicates(b as Document));
  for (const field of maps[0]!.keys()) {
    const preds = maps.map((m) => m.get(field));
    if (preds.some((p) => p === undefined)) continue;
    if (preds.every((p) => p!.eq)) {
      const seen = new Map<string, unknown>();
      for (const p of preds) for (const v of p!.eq!) seen.set(keyOf(v), v);
      hull.set(field, { eq: [...seen.values()] });
      continue;
    }
    const intervals = preds.map((p) => asInterval(p!));
    if (intervals.some((r) => r === undefined)) continue;
    const ranges = intervals as Range[];
    const rank = rankOf(ranges[0]!);
    if (ranges.some((r) => rankOf(r) !== rank)) continue;
    let { lower, upper } = ranges[0]!;
    for (const r of ranges.slice(1)) {
      if (compareValues(r.lower, lower) < 0) lower = r.lower;
      if (compareValues(r.upper, upper) > 0) upper = r.upper;
    }
    const bothSides = !(lower instanceof Bound) && !(upper instanceof Bound);
    hull.set(field, {
      range: { lower, upper, bothSides: bothSides || ranges.some((r) => r.bothSides) },
    });
  }
  return hull;
}

interface Candidate {
  ix: IndexRuntime;
  points: unknown[][];
  range: Range | undefined;
  eqFields: number;
  score: number;
}

function matchesNull(values: unknown[]): boolean {
  return values.some((v) => v === null);
}

function evaluateIndex(
  ix: IndexRuntime,
  preds: Map<string, FieldPredicate>,
): Candidate | undefined {
  if (!ix.table || ix.partial) return undefined;
  const sparse = ix.spec.sparse === true;
  let points: unknown[][] = [[]];
  let eqFields = 0;
  let range: Range | undefined;
  for (const field of ix.fields) {
    const pred = preds.get(field.path);
    if (pred?.eq && !(sparse && matchesNull(pred.eq))) {
      if (points.length * pred.eq.length > MAX_POINTS) break;
      points = points.flatMap((p) => pred.eq!.map((v) => [...p, v]));
      eqFields++;
      continue;
    }
    if (pred?.range) range = pred.range;
    break;
  }
  if (eqFields === 0 && !range) return undefined;
  let score = eqFields * 2 + (range ? 1 : 0);
  if (ix.spec.unique && eqFields === ix.fields.length) score += 100;
  return { ix, points, range, eqFields, score };
}

/** Lower and upper storage-order bounds for one point (plus optional range on the next field). */
function boundsFor(ix: IndexRuntime, point: unknown[], range: Range | undefined) {
  const lower: unknown[] = [];
  const upper: unknown[] = [];
  ix.fields.forEach((field, i) => {
    let lo: unknown = Bound.min;
    let hi: unknown = Bound.max;
    if (i < point.length) {
      lo = point[i];
      hi = point[i];
      if (lo === null) lo = Bound.bracketStart(Rank.Null); // null also finds missing and []
    } else if (i === point.length && range) {
      lo = range.lower;
      // On a multikey field two bounds may be satisfied by different elements.
      hi = ix.multikey && range.bothSides ? Bound.bracketEnd(typeRank(range.lower)) : range.upper;
    }
    lower.push(field.direction === 1 ? lo : hi);
    upper.push(field.direction === 1 ? hi : lo);
  });
  return { lower, upper };
}

/**
 * Whether scanning `ix` (after `eqFields` single-valued equality fields) yields `sort` order;
 * returns the scan direction, or undefined when it does not.
 */
function sortDirection(
  ix: IndexRuntime,
  eqFields: number,
  singlePoint: boolean,
  sort: readonly SortKey[],
): 1 | -1 | undefined {
  if (sort.length === 0) return 1;
  if (ix.multikey || !singlePoint || sort.some((k) => k.textScore)) return undefined;
  const fixed = new Set(ix.fields.slice(0, eqFields).map((f) => f.path));
  const keys = sort.filter((k) => !fixed.has(k.path));
  if (keys.length === 0) return 1;
  let direction: 1 | -1 | undefined;
  for (let i = 0; i < keys.length; i++) {
    const field = ix.fields[eqFields + i];
    const key = keys[i]!;
    if (!field || field.path !== key.path) return undefined;
    const d = field.direction === key.direction ? 1 : -1;
    if (direction === undefined) direction = d;
    else if (direction !== d) return undefined;
  }
  return direction;
}

function* scan(
  collection: Collection,
  ix: IndexRuntime,
  points: unknown[][],
  range: Range | undefined,
  reverse: boolean,
  fields: ReadonlySet<string> | undefined,
): Generator<StoredDoc> {
  const dedupe = ix.multikey || points.length > 1;
  const seen = dedupe ? new Set<string>() : undefined;
  for (const point of points) {
    const { lower, upper } = boundsFor(ix, point, range);
    for (const row of ix.table!.rows(lower, upper, reverse)) {
      if (seen) {
        if (seen.has(row.id)) continue;
        seen.add(row.id);
      }
      yield collection.docs.fromRow(row, fields);
    }
  }
}

function* fullIndexScan(
  collection: Collection,
  ix: IndexRuntime,
  reverse: boolean,
  fields: ReadonlySet<string> | undefined,
) {
  for (const row of ix.table!.all(reverse)) yield collection.docs.fromRow(row, fields);
}

function* union(plans: Plan[]): Generator<StoredDoc> {
  const seen = new Set<string>();
  for (const plan of plans) {
    for (const doc of plan.candidates) {
      if (!seen.has(doc.key)) {
        seen.add(doc.key);
        yield doc;
      }
    }
  }
}

function planOr(
  collection: Collection,
  branches: unknown[],
  fields: ReadonlySet<string> | undefined,
): Plan | undefined {
  const plans: Plan[] = [];
  for (const branch of branches) {
    if (!isPlainObject(branch)) return undefined;
    const plan = planIndexed(collection, branch, [], fields);
    if (!plan) return undefined;
    plans.push(plan);
  }
  return { candidates: union(plans), sorted: false, index: plans.map((p) => p.index).join(",") };
}

function bestCandidate(collection: Collection, filter: Document): Candidate | undefined {
  const preds = collectPredicates(filter);
  let best: Candidate | undefined;
  for (const ix of collection.indexes) {
    const c = evaluateIndex(ix, preds);
    if (c && (!best || c.score > best.score)) best = c;
  }
  return best;
}

/**
 * The $or's branches each scanned with the rest of the filter, when that beats `hull`, the best
 * plan over the branches' union per field: as selective per branch and fewer index probes, as
 * when the union's cartesian product ({a: 1, b: 1} or {a: 2, b: 2} widened to a in [1, 2] and
 * b in [1, 2]) probes far more keys than the branches name.
 */
function orBranchPlans(
  collection: Collection,
  filter: Document,
  hull: Candidate,
  fields: ReadonlySet<string> | undefined,
): Plan | undefined {
  const { $or: branches, ...rest } = filter;
  if (!Array.isArray(branches) || branches.length === 0) return undefined;
  const picks: Candidate[] = [];
  for (const branch of branches) {
    if (!isPlainObject(branch)) return undefined;
    const pick = bestCandidate(collection, { $and: [rest, branch] });
    if (!pick) return undefined;
    picks.push(pick);
  }
  const score = Math.min(...picks.map((p) => p.score));
  const probes = picks.reduce((n, p) => n + p.points.length, 0);
  if (score < hull.score || (score === hull.score && probes >= hull.points.length)) {
    return undefined;
  }
  const plans = picks.map((p) => ({
    candidates: scan(collection, p.ix, p.points, p.range, false, fields),
    sorted: false,
    index: p.ix.spec.name,
  }));
  return { candidates: union(plans), sorted: false, index: plans.map((p) => p.index).join(",") };
}

function planIndexed(
  collection: Collection,
  filter: Document,
  sort: readonly SortKey[],
  fields: ReadonlySet<string> | undefined,
): Plan | undefined {
  const preds = collectPredicates(filter);
  let best: Candidate | undefined;
  for (const ix of collection.indexes) {
    const c = evaluateIndex(ix, preds);
    if (c && (!best || c.score > best.score)) best = c;
  }
  if (best && sort.length === 0 && Array.isArray(filter.$or)) {
    const perBranch = orBranchPlans(collection, filter, best, fields);
    if (perBranch) return perBranch;
  }
  if (best) {
    const { ix, points, range, eqFields } = best;
    const dir = sortDirection(ix, eqFields, points.length === 1, sort);
    return {
      candidates: scan(collection, ix, points, range, dir === -1, fields),
      sorted: dir !== undefined,
      index: ix.spec.name,
    };
  }
  if (Array.isArray(filter.$or) && filter.$or.length > 0)
    return planOr(collection, filter.$or, fields);
  return undefined;
}

export interface PlanOptions {
  readonly sort?: readonly SortKey[];
  /** Collation changes string equality, which index keys do not model. */
  readonly collation?: boolean;
  /** Decode only these top-level fields (see DocumentStore.fromRow); all when absent. */
  readonly fields?: ReadonlySet<string>;
}

export function planQuery(
  collection: Collection,
  filter: Document,
  options: PlanOptions = {},
): Plan {
  const sort = options.sort ?? [];
  if (!options.collation) {
    const plan = planIndexed(collection, filter, sort, options.fields);
    if (plan) return plan;
    if (sort.length > 0) {
      for (const ix of collection.indexes) {
        if (!ix.table || ix.partial || ix.spec.sparse) continue;
        const dir = sortDirection(ix, 0, true, sort);
        if (dir !== undefined) {
          return {
            candidates: fullIndexScan(collection, ix, dir === -1, options.fields),
            sorted: true,
            index: ix.spec.name,
          };
        }
      }
    }
  }
  return {
    candidates: collection.docs.values(options.fields),
    sorted: sort.length === 0,
    index: undefined,
  };
}
