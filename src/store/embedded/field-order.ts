import type { Document } from "bson";
import { isNumeric, toNumber } from "./bson-numbers.js";
import { isPlainObject } from "./bson-tags.js";

/**
 * mongod's output field order for an inclusion projection ($project and find): `_id` first,
 * then the included fields in the input document's order, then the computed fields in the
 * order the specification names them. Nested specifications follow the same rule inside the
 * sub-document; a sub-document that exists only through computed fields counts as computed.
 * mingo builds its output in specification order, so the projected document is reordered here.
 */

type SpecNode =
  | { readonly kind: "include" }
  | { readonly kind: "exclude" }
  | { readonly kind: "computed" }
  | { readonly kind: "children"; readonly children: SpecTree };

export type SpecTree = Map<string, SpecNode>;

/** Operators that keep an existing field in its place (find's `$slice`). */
const IN_PLACE_OPERATORS = new Set(["$slice"]);

function classify(value: unknown): SpecNode {
  if (isPlainObject(value)) {
    const keys = Object.keys(value);
    if (keys.length > 0 && keys[0]!.startsWith("$")) {
      return IN_PLACE_OPERATORS.has(keys[0]!) ? { kind: "include" } : { kind: "computed" };
    }
    return { kind: "children", children: projectionTree(value) };
  }
  if (value === true) return { kind: "include" };
  if (value === false) return { kind: "exclude" };
  const n = typeof value === "number" || isNumeric(value) ? toNumber(value) : undefined;
  if (n !== undefined) return n === 0 ? { kind: "exclude" } : { kind: "include" };
  return { kind: "computed" };
}

/** The specification as a tree of path segments (dotted paths split; `a.$` counts as `a`). */
export function projectionTree(spec: Document): SpecTree {
  const tree: SpecTree = new Map();
  for (const [path, value] of Object.entries(spec)) {
    const parts = path.split(".").filter((p) => p !== "$");
    let level = tree;
    for (let i = 0; i < parts.length - 1; i++) {
      const part = parts[i]!;
      let node = level.get(part);
      if (node?.kind !== "children") {
        node = { kind: "children", children: new Map() };
        level.set(part, node);
      }
      level = node.children;
    }
    const last = parts[parts.length - 1];
    if (last !== undefined) level.set(last, classify(value));
  }
  return tree;
}

/** True when the projection includes or computes something other than `_id`. */
export function isInclusionTree(tree: SpecTree): boolean {
  for (const [key, node] of tree) {
    if (key !== "_id" && node.kind !== "exclude") return true;
  }
  return false;
}

function reorderValue(out: unknown, input: unknown, tree: SpecTree): unknown {
  if (Array.isArray(out)) {
    const source = Array.isArray(input) ? input : [];
    const aligned =
      source.length === out.length
        ? source
        : source.filter((v) => isPlainObject(v) || Array.isArray(v));
    return out.map((v, i) =>
      reorderValue(v, aligned.length === out.length ? aligned[i] : undefined, tree),
    );
  }
  if (!isPlainObject(out)) return out;
  return reorderDocument(out, isPlainObject(input) ? input : undefined, tree, false);
}

function reorderDocument(
  out: Document,
  input: Document | undefined,
  tree: SpecTree,
  top: boolean,
): Document {
  const result: Document = {};
  const take = (key: string, fromInput: boolean) => {
    const node = tree.get(key);
    result[key] =
      node?.kind === "children"
        ? reorderValue(out[key], fromInput ? input?.[key] : undefined, node.children)
        : out[key];
  };
  if (top && "_id" in out) take("_id", true);
  if (input) {
    for (const key of Object.keys(input)) {
      if (!(key in out) || key in result) continue;
      const node = tree.get(key);
      if (node?.kind === "computed") continue;
      if (node?.kind === "children" && !(isPlainObject(input[key]) || Array.isArray(input[key])))
        continue;
      take(key, true);
    }
  }
  for (const key of tree.keys()) {
    if (key in out && !(key in result)) take(key, false);
  }
  for (const key of Object.keys(out)) if (!(key in result)) result[key] = out[key];
  return result;
}

/** Reorders a projected document as mongod would have produced it from `input`. */
export function reorderProjected(out: Document, input: Document, tree: SpecTree): Document {
  return reorderDocument(out, input, tree, true);
}
