import type { Document } from "bson";
import { compareValues } from "./bson-order.js";
import { isPlainObject } from "./bson-values.js";
import type { StringCompare } from "./collation.js";
import { badValue } from "./errors.js";
import { pathValues } from "./index-keys.js";

export interface SortKey {
  readonly path: string;
  readonly direction: 1 | -1;
  /** `{ $meta: "textScore" }`: sorts by text score, best first. */
  readonly textScore: boolean;
}

export function parseSort(spec: unknown): SortKey[] {
  if (spec === undefined || spec === null) return [];
  if (!isPlainObject(spec)) throw badValue("sort must be an object");
  return Object.entries(spec).map(([path, dir]) => {
    if (isPlainObject(dir)) {
      if (dir.$meta === "textScore") return { path, direction: -1, textScore: true };
      throw badValue(`Illegal key in $sort specification: ${path}: ${JSON.stringify(dir)}`);
    }
    const n = Number(dir);
    if (n !== 1 && n !== -1) {
      throw badValue(`$sort key ordering must be 1 (for ascending) or -1 (for descending)`);
    }
    return { path, direction: n, textScore: false };
  });
}

/**
 * MongoDB's sort key for one field: missing sorts as null, and an array sorts by its smallest
 * element ascending or its largest element descending.
 */
export function sortValue(
  doc: Document,
  path: string,
  direction: 1 | -1,
  strcmp?: StringCompare,
): unknown {
  const { values } = pathValues(doc, path);
  if (values.length === 0) return null;
  let best = values[0];
  for (let i = 1; i < values.length; i++) {
    const c = compareValues(values[i], best, strcmp);
    if (direction === 1 ? c < 0 : c > 0) best = values[i];
  }
  return best;
}

/**
 * Sorts stably (ties keep input order, i.e. natural order). Keys are extracted once per
 * document rather than once per comparison.
 */
export function sortDocuments<T>(
  items: readonly T[],
  keys: readonly SortKey[],
  viewOf: (item: T) => Document,
  textScoreOf: (item: T) => number = () => 0,
  strcmp?: StringCompare,
): T[] {
  if (keys.length === 0) return [...items];
  const decorated = items.map((item) => {
    const view = viewOf(item);
    return {
      item,
      values: keys.map((k) =>
        k.textScore ? textScoreOf(item) : sortValue(view, k.path, k.direction, strcmp),
      ),
    };
  });
  decorated.sort((a, b) => {
    for (let i = 0; i < keys.length; i++) {
      const c = compareValues(a.values[i], b.values[i], strcmp);
      if (c !== 0) return c * keys[i]!.direction;
    }
    return 0;
  });
  return decorated.map((d) => d.item);
}
