import type { Binary, Document, ObjectId, Timestamp } from "bson";
import { compareNumeric } from "./bson-numbers.js";
import { bsonTag, isPlainObject } from "./bson-tags.js";

/**
 * MongoDB's total order over BSON values (woCompare), used by index structures and sorts:
 * MinKey < null/missing < numbers < strings < objects < arrays < binData < ObjectId < bool
 * < Date < Timestamp < regex < MaxKey. mingo's own compare orders ObjectId and other BSON
 * classes after everything else, which is why sorting does not use it.
 */

/** Sentinels used only as index bounds; they never appear in documents. */
export class Bound {
  private constructor(
    /** Rank compared against a value's rank; fractional so it sits around a whole bracket. */
    readonly rank: number,
  ) {}
  static readonly min = new Bound(-1);
  static readonly max = new Bound(100);
  static bracketStart(rank: number): Bound {
    return new Bound(rank - 0.5);
  }
  static bracketEnd(rank: number): Bound {
    return new Bound(rank + 0.5);
  }
}

/** How an empty array is indexed: its own key just below null, like mongod's `undefined` key. */
export const EMPTY_ARRAY_KEY: unique symbol = Symbol("emptyArray");

export const Rank = {
  MinKey: 1,
  Null: 2,
  Number: 3,
  String: 4,
  Object: 5,
  Array: 6,
  Binary: 7,
  ObjectId: 8,
  Boolean: 9,
  Date: 10,
  Timestamp: 11,
  RegExp: 12,
  Code: 13,
  MaxKey: 14,
} as const;

export function typeRank(value: unknown): number {
  if (value instanceof Bound) return value.rank;
  switch (typeof value) {
    case "number":
    case "bigint":
      return Rank.Number;
    case "string":
      return Rank.String;
    case "boolean":
      return Rank.Boolean;
    case "undefined":
      return Rank.Null;
    case "symbol":
      return Rank.Null;
    case "function":
      return Rank.Code;
  }
  if (value === null) return Rank.Null;
  if (Array.isArray(value)) return Rank.Array;
  if (value instanceof Date) return Rank.Date;
  if (value instanceof RegExp) return Rank.RegExp;
  if (value instanceof Uint8Array) return Rank.Binary;
  switch (bsonTag(value)) {
    case "ObjectId":
      return Rank.ObjectId;
    case "Binary":
      return Rank.Binary;
    case "Decimal128":
    case "Long":
    case "Double":
    case "Int32":
      return Rank.Number;
    case "Timestamp":
      return Rank.Timestamp;
    case "BSONRegExp":
      return Rank.RegExp;
    case "BSONSymbol":
      return Rank.String;
    case "MinKey":
      return Rank.MinKey;
    case "MaxKey":
      return Rank.MaxKey;
    case "Code":
      return Rank.Code;
    default:
      return Rank.Object;
  }
}

const cmp = (a: number | string | boolean, b: number | string | boolean): number =>
  a < b ? -1 : a > b ? 1 : 0;

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return cmp(a.length, b.length);
}

function binaryParts(value: unknown): { bytes: Uint8Array; subtype: number } {
  if (value instanceof Uint8Array) return { bytes: value, subtype: 0 };
  const bin = value as Binary;
  return { bytes: bin.buffer.subarray(0, bin.position), subtype: bin.sub_type };
}

function compareObjects(
  a: Document,
  b: Document,
  strcmp?: (a: string, b: string) => number,
): number {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  const n = Math.min(ka.length, kb.length);
  for (let i = 0; i < n; i++) {
    const fa = ka[i]!;
    const fb = kb[i]!;
    const va = a[fa];
    const vb = b[fb];
    const r = cmp(typeRank(va), typeRank(vb));
    if (r !== 0) return r;
    const f = cmp(fa, fb);
    if (f !== 0) return f;
    const v = compareValues(va, vb, strcmp);
    if (v !== 0) return v;
  }
  return cmp(ka.length, kb.length);
}

interface PackedObjectId {
  i0: number;
  i1: number;
  i2: number;
  i3: number;
}

function compareObjectIds(a: ObjectId, b: ObjectId): number {
  // bson 7 keeps the 12 bytes as four 24-bit integers: comparing them avoids building hex strings.
  const pa = a as unknown as PackedObjectId;
  const pb = b as unknown as PackedObjectId;
  if (typeof pa.i0 === "number" && typeof pb.i0 === "number") {
    return cmp(pa.i0, pb.i0) || cmp(pa.i1, pb.i1) || cmp(pa.i2, pb.i2) || cmp(pa.i3, pb.i3);
  }
  return cmp(a.toHexString(), b.toHexString());
}

/**
 * Compares two values (view or typed form) in MongoDB order; undefined (missing) equals null.
 * `strcmp` is a collation's string comparison (collation.ts); binary order without one.
 */
export function compareValues(
  a: unknown,
  b: unknown,
  strcmp?: (a: string, b: string) => number,
): number {
  if (a === b) return 0;
  const ta = typeof a;
  if (ta === typeof b && (ta === "number" || ta === "string")) {
    if (ta === "number" && (Number.isNaN(a) || Number.isNaN(b))) return compareNumeric(a, b);
    if (strcmp && ta === "string") return Math.sign(strcmp(a as string, b as string));
    return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
  }
  if (a === EMPTY_ARRAY_KEY || b === EMPTY_ARRAY_KEY) {
    if (a === EMPTY_ARRAY_KEY && typeRank(b) === Rank.Null) return -1;
    if (b === EMPTY_ARRAY_KEY && typeRank(a) === Rank.Null) return 1;
  }
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  if (a instanceof Bound || b instanceof Bound) return 0;
  switch (ra) {
    case Rank.Null:
    case Rank.MinKey:
    case Rank.MaxKey:
      return 0;
    case Rank.Number:
      return compareNumeric(a, b);
    case Rank.String:
      return strcmp ? Math.sign(strcmp(String(a), String(b))) : cmp(String(a), String(b));
    case Rank.Boolean:
      return cmp(a as boolean, b as boolean);
    case Rank.Date:
      return compareNumeric((a as Date).getTime(), (b as Date).getTime());
    case Rank.ObjectId:
      return compareObjectIds(a as ObjectId, b as ObjectId);
    case Rank.Binary: {
      const pa = binaryParts(a);
      const pb = binaryParts(b);
      if (pa.bytes.length !== pb.bytes.length) return cmp(pa.bytes.length, pb.bytes.length);
      if (pa.subtype !== pb.subtype) return cmp(pa.subtype, pb.subtype);
      return compareBytes(pa.bytes, pb.bytes);
    }
    case Rank.Timestamp: {
      const ta = a as Timestamp;
      const tb = b as Timestamp;
      return cmp(ta.t, tb.t) || cmp(ta.i, tb.i);
    }
    case Rank.RegExp: {
      const sa = regexParts(a);
      const sb = regexParts(b);
      return cmp(sa[0], sb[0]) || cmp(sa[1], sb[1]);
    }
    case Rank.Array: {
      const xa = a as unknown[];
      const xb = b as unknown[];
      const n = Math.min(xa.length, xb.length);
      for (let i = 0; i < n; i++) {
        const c = compareValues(xa[i], xb[i], strcmp);
        if (c !== 0) return c;
      }
      return cmp(xa.length, xb.length);
    }
    case Rank.Object:
      return isPlainObject(a) && isPlainObject(b)
        ? compareObjects(a, b, strcmp)
        : cmp(String(a), String(b));
    default:
      return cmp(String(a), String(b));
  }
}

function regexParts(value: unknown): [string, string] {
  if (value instanceof RegExp) return [value.source, value.flags];
  const r = value as { pattern: string; options: string };
  return [r.pattern, r.options];
}
