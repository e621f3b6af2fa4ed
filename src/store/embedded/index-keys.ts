import type { Document } from "bson";
import { keyOf } from "./bson-key.js";
import { EMPTY_ARRAY_KEY } from "./bson-order.js";
import { isPlainObject } from "./bson-tags.js";
import { commandError } from "./errors.js";

export interface KeyField {
  readonly path: string;
  readonly direction: 1 | -1;
}

const isDigits = (s: string): boolean => /^\d+$/.test(s);

/**
 * Values reachable at a dotted path, expanding arrays the way mongod's key generator does:
 * arrays met along the path fan out to their elements, and an array at the end of the path
 * contributes each element (an empty one contributes EMPTY_ARRAY_KEY). Missing → [].
 * `arrays` reports whether any array was expanded (the index becomes multikey).
 */
export function pathValues(doc: unknown, path: string): { values: unknown[]; arrays: boolean } {
  if (!path.includes(".") && isPlainObject(doc)) {
    // Fast path for top-level fields, by far the most common index and sort keys.
    const value = doc[path];
    if (value === undefined) return { values: [], arrays: false };
    if (!Array.isArray(value)) return { values: [value], arrays: false };
  }
  const parts = path.split(".");
  const values: unknown[] = [];
  let arrays = false;
  const walk = (value: unknown, i: number): void => {
    if (i === parts.length) {
      if (Array.isArray(value)) {
        arrays = true;
        if (value.length === 0) values.push(EMPTY_ARRAY_KEY);
        else for (const item of value) values.push(item);
      } else if (value !== undefined) {
        values.push(value);
      }
      return;
    }
    const part = parts[i]!;
    if (Array.isArray(value)) {
      if (isDigits(part)) {
        const item = value[Number(part)];
        if (item !== undefined) walk(item, i + 1);
      }
      arrays = true;
      for (const item of value) {
        if (isPlainObject(item)) walk(item[part], i + 1);
      }
      return;
    }
    if (isPlainObject(value)) {
      const next = value[part];
      if (next !== undefined) walk(next, i + 1);
    }
  };
  walk(doc, 0);
  return { values, arrays };
}

export interface DocumentKeys {
  readonly keys: unknown[][];
  readonly multikey: boolean;
}

/**
 * Index keys of one document: the cartesian product of each field's values, missing fields
 * indexing as null. Returns no keys for a sparse index when every field is missing. Like mongod,
 * refuses documents with arrays in two fields of one compound index.
 */
export function documentKeys(
  doc: Document,
  fields: readonly KeyField[],
  sparse: boolean,
): DocumentKeys {
  const perField: unknown[][] = [];
  let multikey = false;
  let arrayField: string | undefined;
  let anyPresent = false;
  for (const field of fields) {
    const { values, arrays } = pathValues(doc, field.path);
    if (values.length > 0) anyPresent = true;
    if (arrays) {
      if (arrayField !== undefined && arrayField !== field.path) {
        throw commandError(
          "CannotIndexParallelArrays",
          `cannot index parallel arrays [${field.path}] [${arrayField}]`,
        );
      }
      arrayField = field.path;
      multikey = true;
    }
    perField.push(values.length > 0 ? dedupe(values) : [null]);
  }
  if (sparse && !anyPresent) return { keys: [], multikey };
  let keys: unknown[][] = [[]];
  for (const values of perField) {
    const next: unknown[][] = [];
    for (const prefix of keys) for (const v of values) next.push([...prefix, v]);
    keys = next;
  }
  return { keys, multikey };
}

function dedupe(values: unknown[]): unknown[] {
  if (values.length < 2) return values;
  const seen = new Set<string>();
  const out: unknown[] = [];
  for (const v of values) {
    const k = keyOf(v);
    if (!seen.has(k)) {
      seen.add(k);
      out.push(v);
    }
  }
  return out;
}

export function tupleKey(key: readonly unknown[]): string {
  return key.map(keyOf).join("|");
}
