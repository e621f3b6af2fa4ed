import type { Document } from "bson";
import { formatDocument, keyOf } from "./bson-key.js";
import { isPlainObject } from "./bson-values.js";
import { parseCollation } from "./collation.js";
import { CommandError, commandError } from "./errors.js";
import type { KeyField } from "./index-keys.js";
import type { TextIndexOptions } from "./text-search.js";

/** An index as persisted and as listIndexes reports it (mongod's shape, `v: 2`). */
export interface IndexSpec extends Document {
  v: 2;
  key: Document;
  name: string;
  unique?: boolean;
  sparse?: boolean;
  expireAfterSeconds?: number;
  partialFilterExpression?: Document;
  weights?: Document;
  default_language?: string;
  language_override?: string;
  textIndexVersion?: number;
}

export const ID_INDEX: IndexSpec = { v: 2, key: { _id: 1 }, name: "_id_" };

const ALLOWED_OPTIONS = new Set([
  "key",
  "name",
  "v",
  "ns",
  "unique",
  "sparse",
  "expireAfterSeconds",
  "partialFilterExpression",
  "background",
  "hidden",
  "weights",
  "default_language",
  "language_override",
  "textIndexVersion",
  "collation",
  "storageEngine",
]);

const TEXT_KEY = { _fts: "text", _ftsx: 1 };

function invalidSpec(message: string): CommandError {
  return new CommandError(197, message);
}

/** Validates one createIndexes entry and returns it in mongod's stored form. */
export function normalizeIndexSpec(raw: unknown): IndexSpec {
  if (!isPlainObject(raw))
    throw commandError("TypeMismatch", "index specification must be an object");
  // Index entries hold binary-ordered strings; a collated index would order (and enforce
  // uniqueness) differently, so only the simple collation is accepted.
  if (raw.collation !== undefined && parseCollation(raw.collation) !== undefined) {
    throw commandError(
      "CommandNotSupported",
      "the embedded store supports only the simple collation for indexes; pass a collation per operation instead",
    );
  }
  for (const field of Object.keys(raw)) {
    if (!ALLOWED_OPTIONS.has(field)) {
      throw invalidSpec(
        `The field '${field}' is not valid for an index specification. Specification: ${formatDocument(raw)}`,
      );
    }
  }
  const key = raw.key;
  if (!isPlainObject(key) || Object.keys(key).length === 0) {
    throw commandError("CannotCreateIndex", "Index keys cannot be empty.");
  }
  if (typeof raw.name !== "string" || raw.name.length === 0) {
    throw commandError(
      "FailedToParse",
      `Error in specification ${formatDocument(raw)} :: caused by :: The 'name' field is a required property of an index specification`,
    );
  }
  const textFields: string[] = [];
  for (const [field, value] of Object.entries(key)) {
    if (value === "text") textFields.push(field);
    else if (typeof value === "string") {
      throw commandError(
        "CannotCreateIndex",
        `Index type '${value}' is not supported by the embedded store (index ${raw.name})`,
      );
    } else if (typeof value !== "number" && typeof value !== "bigint") {
      throw commandError(
        "CannotCreateIndex",
        `Values in the index key pattern can only be numbers or strings, found ${field}: ${String(value)}`,
      );
    } else if (Number(value) === 0 || Number.isNaN(Number(value))) {
      throw commandError(
        "CannotCreateIndex",
        `Values in the index key pattern can't be 0 or NaN, found ${field}: ${String(value)}`,
      );
    }
  }
  const spec: IndexSpec = { v: 2, key: { ...key }, name: raw.name };
  if (raw.unique === true) spec.unique = true;
  if (raw.sparse === true) spec.sparse = true;
  if (raw.expireAfterSeconds !== undefined) {
    const seconds = Number(raw.expireAfterSeconds);
    if (!Number.isFinite(seconds) || seconds < 0 || typeof raw.expireAfterSeconds === "boolean") {
      throw invalidSpec(
        `TTL index 'expireAfterSeconds' option must be a non-negative number: ${String(raw.expireAfterSeconds)}`,
      );
    }
    if (Object.keys(key).length !== 1) {
      throw commandError(
        "CannotCreateIndex",
        "TTL indexes are single-field indexes, compound indexes do not support TTL.",
      );
    }
    spec.expireAfterSeconds = seconds;
  }
  if (raw.partialFilterExpression !== undefined) {
    if (!isPlainObject(raw.partialFilterExpression)) {
      throw commandError("TypeMismatch", "partialFilterExpression must be an object");
    }
    spec.partialFilterExpression = raw.partialFilterExpression;
  }
  if (textFields.length > 0) {
    if (textFields.length !== Object.keys(key).length) {
      throw commandError(
        "CannotCreateIndex",
        "Compound text indexes are not supported by the embedded store",
      );
    }
    const weights: Document = {};
    for (const f of textFields) weights[f] = 1;
    if (isPlainObject(raw.weights)) {
      for (const [f, w] of Object.entries(raw.weights)) weights[f] = Number(w);
    }
    spec.key = { ...TEXT_KEY };
    spec.weights = weights;
    spec.default_language =
      typeof raw.default_language === "string" ? raw.default_language : "english";
    spec.language_override =
      typeof raw.language_override === "string" ? raw.language_override : "language";
    spec.textIndexVersion = 3;
  }
  return spec;
}

export function isTextSpec(spec: IndexSpec): boolean {
  return spec.key._fts === "text";
}

export function keyFields(spec: IndexSpec): KeyField[] {
  if (isTextSpec(spec)) return [];
  return Object.entries(spec.key).map(([path, dir]) => ({
    path,
    direction: Number(dir) < 0 ? -1 : 1,
  }));
}

export function textOptions(spec: IndexSpec): TextIndexOptions {
  const weights = new Map<string, number>();
  for (const [f, w] of Object.entries(spec.weights ?? {})) weights.set(f, Number(w));
  return {
    weights,
    language: spec.default_language ?? "english",
    languageOverride: spec.language_override ?? "language",
  };
}

export function sameKey(a: Document, b: Document): boolean {
  return keyOf(normalizeDirections(a)) === keyOf(normalizeDirections(b));
}

function normalizeDirections(key: Document): Document {
  const out: Document = {};
  for (const [k, v] of Object.entries(key)) out[k] = typeof v === "string" ? v : Number(v);
  return out;
}

const OPTION_FIELDS = [
  "unique",
  "sparse",
  "expireAfterSeconds",
  "partialFilterExpression",
  "weights",
  "default_language",
  "language_override",
] as const;

export function sameOptions(a: IndexSpec, b: IndexSpec): boolean {
  return OPTION_FIELDS.every((f) => keyOf(a[f] ?? null) === keyOf(b[f] ?? null));
}

/** The key pattern a user may pass to dropIndexes for this index. */
export function matchesKeyPattern(spec: IndexSpec, pattern: Document): boolean {
  if (sameKey(spec.key, pattern)) return true;
  if (!isTextSpec(spec)) return false;
  const fields = Object.keys(spec.weights ?? {});
  const given = Object.entries(pattern);
  return (
    given.length === fields.length && given.every(([f, v]) => v === "text" && fields.includes(f))
  );
}
