import type { Document } from "bson";
import { cloneDeep } from "mingo/util";
import { toNumber } from "./bson-numbers.js";
import { isPlainObject } from "./bson-tags.js";
import { toView } from "./bson-values.js";
import { projectionTree, reorderProjected } from "./field-order.js";
import type { QueryEngine } from "./mingo-engine.js";

/**
 * Find-style projection: mingo's $project plus the two places where find differs from it.
 * A projection made only of `$slice` (and exclusions) keeps every other field, and fields come
 * back in mongod's order (field-order.ts), not the projection's.
 */

function isSlice(value: unknown): value is { $slice: unknown } {
  return isPlainObject(value) && Object.keys(value).length === 1 && "$slice" in value;
}

function isExclusion(value: unknown): boolean {
  return value === false || value === 0;
}

function sliceArray(arr: unknown[], spec: unknown): unknown[] {
  if (Array.isArray(spec)) {
    const skip = toNumber(spec[0]) ?? 0;
    const limit = toNumber(spec[1]) ?? 0;
    const start = skip < 0 ? Math.max(arr.length + skip, 0) : skip;
    return arr.slice(start, start + limit);
  }
  const n = toNumber(spec) ?? 0;
  return n >= 0 ? arr.slice(0, n) : arr.slice(n);
}

function applySlice(doc: Document, path: string, spec: unknown): void {
  const parts = path.split(".");
  let target: unknown = doc;
  for (const part of parts.slice(0, -1)) {
    target = isPlainObject(target) ? target[part] : undefined;
  }
  const last = parts[parts.length - 1]!;
  if (isPlainObject(target) && Array.isArray(target[last])) {
    target[last] = sliceArray(target[last], spec);
  }
}

export function compileFindProjection(
  engine: QueryEngine,
  projection: Document,
  filter: Document,
): (doc: Document) => Document {
  const spec = toView(projection);
  const slices = Object.entries(spec).filter(([, v]) => isSlice(v));
  const others = Object.fromEntries(Object.entries(spec).filter(([, v]) => !isSlice(v)));
  const inclusion = Object.entries(others).some(([k, v]) => k !== "_id" && !isExclusion(v));
  if (slices.length > 0 && !inclusion) {
    const exclude = Object.keys(others).length
      ? engine.compileProjection(others, filter)
      : undefined;
    return (doc) => {
      const out = exclude ? exclude(doc) : (cloneDeep(doc) as Document);
      for (const [path, s] of slices) applySlice(out, path, (s as { $slice: unknown }).$slice);
      return out;
    };
  }
  const project = engine.compileProjection(spec, filter);
  const tree = projectionTree(spec);
  return (doc) => reorderProjected(project(doc), doc, tree);
}

/**
 * The fields a projection keeps when it only includes top-level fields (`{ a: 1, b: true }`,
 * with `_id` unless it says `_id: 0`), or undefined for any other projection. Such a projection
 * is a copy of some elements of the stored BSON, in stored order, as mongod returns them, so it
 * is applied to the stored bytes without decoding them (bson-project.ts).
 */
export function topLevelInclusion(projection: Document | undefined): Set<string> | undefined {
  if (!projection) return undefined;
  const fields = new Set<string>(["_id"]);
  let included = false;
  for (const [key, value] of Object.entries(projection)) {
    if (key.length === 0 || key.includes(".") || key.startsWith("$")) return undefined;
    if (key === "_id" && isExclusion(value)) {
      fields.delete("_id");
      continue;
    }
    if (value !== 1 && value !== true) return undefined;
    fields.add(key);
    if (key !== "_id") included = true;
  }
  return included ? fields : undefined;
}
