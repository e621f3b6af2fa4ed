import { BSON, type Document } from "bson";
import { asKind, numericKind, toNumber } from "./bson-numbers.js";
import { bsonTag, isPlainObject } from "./bson-tags.js";

export { bsonTag, isPlainObject } from "./bson-tags.js";

/**
 * Two representations of every stored document:
 *
 * - "typed": exactly the BSON the client sent. int32 and doubles are JS numbers, except a
 *   double with an integral value (which a number would turn into int32) stays a `Double`;
 *   int64 is `Long`, decimal is `Decimal128`. Stored, indexed, filtered (with the BSON-exact
 *   query operators of query-operators.ts), projected and sent back in this form.
 * - "view": every numeric type as a JS number. mingo's update operators and aggregation
 *   expressions only do arithmetic on numbers, so updates and pipelines run on the view and
 *   their results are mapped back to BSON types with `restoreTypes`.
 *
 * Documents without Long/Double/Decimal128 values (the common case) use one object for both.
 */

const DECODE_OPTIONS = { promoteValues: false, promoteBuffers: false, bsonRegExp: false } as const;

/** Replaces Int32 by numbers, and Double by numbers wherever that keeps it a double. */
function normalizeInPlace(value: unknown): unknown {
  const tag = bsonTag(value);
  if (tag === "Int32") return (value as { value: number }).value;
  if (tag === "Double") {
    const n = (value as { value: number }).value;
    return numericKind(n) === "double" && !Object.is(n, -0) ? n : value;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = normalizeInPlace(value[i]);
  } else if (isPlainObject(value)) {
    for (const key in value) value[key] = normalizeInPlace(value[key]);
  }
  return value;
}

/** Deserializes BSON into the typed form. */
export function decodeDocument(bytes: Uint8Array): Document {
  return normalizeInPlace(BSON.deserialize(bytes, DECODE_OPTIONS)) as Document;
}

/** Values that exist in the typed form but are plain numbers in the view. */
function isTypedNumber(value: unknown): boolean {
  if (typeof value === "bigint") return true;
  const tag = bsonTag(value);
  return tag === "Decimal128" || tag === "Long" || tag === "Double" || tag === "Int32";
}

function containsTyped(value: unknown): boolean {
  if (isTypedNumber(value)) return true;
  if (Array.isArray(value)) return value.some(containsTyped);
  if (isPlainObject(value)) {
    for (const key in value) if (containsTyped(value[key])) return true;
  }
  return false;
}

function convert(value: unknown): unknown {
  if (isTypedNumber(value)) return toNumber(value);
  if (Array.isArray(value)) return containsTyped(value) ? value.map(convert) : value;
  if (isPlainObject(value)) {
    if (!containsTyped(value)) return value;
    const out: Document = {};
    for (const key of Object.keys(value)) out[key] = convert(value[key]);
    return out;
  }
  return value;
}

/** The all-numbers form of a value; returns the argument itself when nothing needs converting. */
export function toView<T>(value: T): T {
  return convert(value) as T;
}

export function hasTypedNumbers(value: unknown): boolean {
  return containsTyped(value);
}

/**
 * Maps a view-form result back to BSON types, using `typed` (the typed form of the source
 * document) as the template: a number found at the same path as a Long/Double/Decimal128
 * becomes that type again. With `promote`, a changed value keeps the template's type, as
 * mongod's arithmetic would; without it only unchanged values are restored (pipelines).
 */
export function restoreTypes(view: unknown, typed: unknown, promote: boolean): unknown {
  if (view === typed) return view;
  if (typeof view === "number") {
    if (!isTypedNumber(typed)) return view;
    if (view === toNumber(typed) || (Number.isNaN(view) && Number.isNaN(toNumber(typed)))) {
      return typed;
    }
    if (!promote) return view;
    const kind = numericKind(typed)!;
    if (kind === "long" && !Number.isInteger(view)) return view;
    return asKind(view, kind);
  }
  if (Array.isArray(view)) {
    if (!Array.isArray(typed)) return view;
    let changed = false;
    const out = view.map((item, i) => {
      const restored = restoreTypes(item, typed[i], promote);
      if (restored !== item) changed = true;
      return restored;
    });
    return changed ? out : view;
  }
  if (isPlainObject(view) && isPlainObject(typed)) {
    let changed = false;
    const out: Document = {};
    for (const key of Object.keys(view)) {
      const restored = restoreTypes(view[key], typed[key], promote);
      if (restored !== view[key]) changed = true;
      out[key] = restored;
    }
    return changed ? out : view;
  }
  return view;
}

/** A stored document in both representations (see top of file). */
export interface DocPair {
  readonly typed: Document;
  readonly view: Document;
}

export function makePair(typed: Document): DocPair {
  return { typed, view: toView(typed) };
}
