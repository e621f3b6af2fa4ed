import type { Document } from "bson";
import { Query } from "mingo/query";
import type { Options } from "mingo/types";
import { flatten, resolve } from "mingo/util";
import { keyOf } from "./bson-key.js";
import { isNumeric, numericKind, toNumber } from "./bson-numbers.js";
import { compareValues, typeRank } from "./bson-order.js";
import { bsonTag, isPlainObject } from "./bson-tags.js";
import { bsonTypeName } from "./bson-types.js";
import { parseCollation, type StringCompare } from "./collation.js";
import { badValue } from "./errors.js";

/**
 * Leaf query operators with MongoDB's value semantics, registered in mingo's Context in place
 * of mingo's own. mingo still parses filters, walks paths and combines predicates; these only
 * decide "does this value match": numbers compare by value across int32/int64/double/decimal
 * (exactly, beyond 2^53 too), embedded documents compare field order included, ranges stay
 * within a type bracket, and $type sees the stored BSON type.
 */

type Predicate = (obj: unknown) => boolean;
type QueryOperator = (selector: string, value: unknown, options: Options) => Predicate;

const depthOf = (selector: string): number => selector.split(".").length - 1;

/**
 * The collation's string comparison, when the filter runs under one (mingo hands its options,
 * including the collation document the command passed, to every operator).
 */
function stringCompareOf(options: Options | undefined): StringCompare | undefined {
  // mingo's updater hands an empty collation document to the queries it builds itself.
  const collation = options?.collation;
  return collation && Object.keys(collation).length > 0 ? parseCollation(collation) : undefined;
}

const UNWRAP = { unwrapArray: true } as const;

function leaf(
  test: (lhs: unknown, rhs: unknown, depth: number, strcmp?: StringCompare) => boolean,
  validate?: (rhs: unknown) => void,
): QueryOperator {
  return (selector, value, options) => {
    validate?.(value);
    const depth = depthOf(selector);
    const strcmp = stringCompareOf(options);
    return (obj) => test(resolve(obj as Document, selector, UNWRAP), value, depth, strcmp);
  };
}

/** MongoDB equality of two values (same type bracket, equal under BSON comparison). */
export function bsonEquals(a: unknown, b: unknown, strcmp?: StringCompare): boolean {
  if (a === b) return true;
  if (typeRank(a) !== typeRank(b)) return false;
  return compareValues(a, b, strcmp) === 0;
}

function eq(lhs: unknown, rhs: unknown, depth: number, strcmp?: StringCompare): boolean {
  if (bsonEquals(lhs, rhs, strcmp)) return true;
  if (!Array.isArray(lhs)) return false;
  if (lhs.some((v) => bsonEquals(v, rhs, strcmp))) return true;
  return depth > 0 && flatten(lhs, depth).some((v) => bsonEquals(v, rhs, strcmp));
}

function inValues(values: unknown): { keys: Set<string>; patterns: RegExp[] } {
  if (!Array.isArray(values)) throw badValue("$in needs an array");
  const keys = new Set<string>();
  const patterns: RegExp[] = [];
  for (const v of values) {
    if (v instanceof RegExp) patterns.push(v);
    else if (isPlainObject(v) && Object.keys(v)[0]?.startsWith("$")) {
      throw badValue("cannot nest $ under $in");
    } else keys.add(keyOf(v));
  }
  return { keys, patterns };
}

const $in: QueryOperator = (selector, value, options) => {
  const { keys, patterns } = inValues(value);
  const strcmp = stringCompareOf(options);
  // Under a collation, strings (also inside documents and arrays) may equal other spellings.
  const collated = strcmp ? (value as unknown[]).filter((v) => !(v instanceof RegExp)) : [];
  return (obj) => {
    const lhs = resolve(obj as Document, selector, { unwrapArray: true });
    const candidates = Array.isArray(lhs) ? [...lhs, lhs] : [lhs];
    for (const c of candidates) {
      if (keys.has(keyOf(c))) return true;
      if (strcmp && collated.some((v) => bsonEquals(c, v, strcmp))) return true;
      if (typeof c === "string" && patterns.some((p) => p.test(c))) return true;
    }
    return false;
  };
};

const $nin: QueryOperator = (selector, value, options) => {
  const inPredicate = $in(selector, value, options);
  return (obj) => !inPredicate(obj);
};

function range(test: (c: number) => boolean): QueryOperator {
  return (selector, rhs, options) => {
    // What depends on the operand only is worked out once per query, not once per document.
    const strcmp = stringCompareOf(options);
    const anyType = bsonTag(rhs) === "MinKey" || bsonTag(rhs) === "MaxKey";
    const rank = typeRank(rhs);
    const matches = (v: unknown) =>
      (anyType || typeRank(v) === rank) && test(compareValues(v, rhs, strcmp));
    return (obj) => {
      const lhs = resolve(obj as Document, selector, UNWRAP);
      if (Array.isArray(lhs)) {
        if (lhs.some(matches)) return true;
        return Array.isArray(rhs) && test(compareValues(lhs, rhs, strcmp));
      }
      return matches(lhs);
    };
  };
}

const TYPE_ALIASES: Record<string, number> = {
  double: 1,
  string: 2,
  object: 3,
  array: 4,
  binData: 5,
  undefined: 6,
  objectId: 7,
  bool: 8,
  date: 9,
  null: 10,
  regex: 11,
  dbPointer: 12,
  javascript: 13,
  symbol: 14,
  javascriptWithScope: 15,
  int: 16,
  timestamp: 17,
  long: 18,
  decimal: 19,
  minKey: -1,
  maxKey: 127,
};

function typeCodes(spec: unknown): Set<number | "number"> {
  const specs = Array.isArray(spec) ? spec : [spec];
  const out = new Set<number | "number">();
  for (const s of specs) {
    if (s === "number") out.add("number");
    else if (typeof s === "string") {
      const code = TYPE_ALIASES[s];
      if (code === undefined) throw badValue(`Unknown type name alias: ${s}`);
      out.add(code);
    } else if (isNumeric(s)) out.add(toNumber(s)!);
    else throw badValue("type must be represented as a number or a string");
  }
  return out;
}

function valueMatchesType(value: unknown, codes: Set<number | "number">): boolean {
  if (codes.has("number") && numericKind(value) !== undefined) return true;
  const code = TYPE_ALIASES[bsonTypeName(value)];
  return code !== undefined && codes.has(code);
}

const $type: QueryOperator = (selector, value) => {
  const codes = typeCodes(value);
  return (obj) => {
    const lhs = resolve(obj as Document, selector, { unwrapArray: true });
    if (lhs === undefined) return false;
    if (Array.isArray(lhs)) {
      if (codes.has(TYPE_ALIASES.array!)) return true;
      return lhs.some((v) => valueMatchesType(v, codes));
    }
    return valueMatchesType(lhs, codes);
  };
};

const $all: QueryOperator = (selector, value, options) => {
  if (!Array.isArray(value)) throw badValue("$all needs an array");
  const depth = depthOf(selector);
  const checks = value.map((v): ((lhs: unknown) => boolean) => {
    if (isPlainObject(v) && v.$elemMatch !== undefined) {
      const q = new Query({ x: { $elemMatch: v.$elemMatch } }, options);
      return (lhs) => Array.isArray(lhs) && q.test({ x: lhs });
    }
    if (v instanceof RegExp) {
      return (lhs) =>
        (Array.isArray(lhs) ? lhs : [lhs]).some((s) => typeof s === "string" && v.test(s));
    }
    const strcmp = stringCompareOf(options);
    return (lhs) => eq(lhs, v, depth, strcmp);
  });
  return (obj) => {
    if (checks.length === 0) return false;
    const lhs = resolve(obj as Document, selector, { unwrapArray: true });
    return checks.every((check) => check(lhs));
  };
};

const $mod: QueryOperator = leaf(
  (lhs, rhs) => {
    const [divisor, remainder] = (rhs as unknown[]).map((v) => Math.trunc(toNumber(v)!));
    const test = (v: unknown) => {
      const n = toNumber(v);
      return n !== undefined && Number.isFinite(n) && Math.trunc(n) % divisor! === remainder;
    };
    return Array.isArray(lhs) ? lhs.some(test) : test(lhs);
  },
  (rhs) => {
    if (!Array.isArray(rhs) || rhs.length !== 2 || !rhs.every(isNumeric)) {
      throw badValue("malformed mod, needs to be an array of two numbers");
    }
    if (toNumber(rhs[0]) === 0) throw badValue("divisor cannot be 0");
  },
);

export const queryOperators: Record<string, QueryOperator> = {
  $eq: leaf(eq),
  $ne: leaf((lhs, rhs, depth, strcmp) => !eq(lhs, rhs, depth, strcmp)),
  $gt: range((c) => c > 0),
  $gte: range((c) => c >= 0),
  $lt: range((c) => c < 0),
  $lte: range((c) => c <= 0),
  $in,
  $nin,
  $type,
  $all,
  $mod,
};

/**
 * Projection `$elemMatch`: the first array element matching; criteria made only of operators
 * apply to the element itself (so it works on arrays of scalars, as in MongoDB).
 */
export function elemMatchProjection(
  obj: unknown,
  expr: unknown,
  field: string,
  options: Options,
): unknown {
  const arr = resolve(obj as Document, field);
  if (!Array.isArray(arr) || !isPlainObject(expr)) return undefined;
  const keys = Object.keys(expr);
  const onElement =
    keys.length > 0 && keys.every((k) => k.startsWith("$") && !["$and", "$or", "$nor"].includes(k));
  const query = new Query(onElement ? { x: expr } : expr, options);
  const match = arr.find((e) =>
    onElement ? query.test({ x: e }) : isPlainObject(e) && query.test(e),
  );
  return match === undefined ? undefined : [match];
}
