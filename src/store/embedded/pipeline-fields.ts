import type { Document } from "bson";
import { isPlainObject } from "./bson-tags.js";

/**
 * Which top-level fields a streamed aggregation reads from its input documents, so the scan
 * decodes only those (bson-project.ts). Conservative: anything that may read the whole
 * document or a field named at run time (`$$ROOT`, `$$CURRENT`, `$getField`, JavaScript,
 * stages other than $match before the reducing stage) answers undefined, i.e. decode it all.
 */

/** Expression operators whose field access is not spelled as a "$path" string. */
const OPAQUE_OPERATORS = new Set([
  "$getField",
  "$setField",
  "$unsetField",
  "$function",
  "$accumulator",
  "$where",
  "$text",
  "$jsonSchema",
]);

const REDUCING = new Set(["$group", "$count", "$bucket", "$bucketAuto", "$sortByCount"]);

const topLevel = (path: string): string => {
  const dot = path.indexOf(".");
  return dot < 0 ? path : path.slice(0, dot);
};

/** Adds the fields an expression reads; false when it cannot tell. */
function expressionFields(value: unknown, out: Set<string>): boolean {
  if (typeof value === "string") {
    if (value.startsWith("$$")) {
      const variable = topLevel(value.slice(2));
      return variable !== "ROOT" && variable !== "CURRENT";
    }
    if (value.startsWith("$")) out.add(topLevel(value.slice(1)));
    return true;
  }
  if (Array.isArray(value)) return value.every((v) => expressionFields(v, out));
  if (isPlainObject(value)) {
    for (const [key, v] of Object.entries(value)) {
      if (OPAQUE_OPERATORS.has(key)) return false;
      if (key === "$literal") continue;
      if (!expressionFields(v, out)) return false;
    }
  }
  return true;
}

/** Adds the fields a query filter reads; false when it cannot tell. */
function filterFields(filter: Document, out: Set<string>): boolean {
  for (const [key, value] of Object.entries(filter)) {
    if (key === "$and" || key === "$or" || key === "$nor") {
      if (!Array.isArray(value)) return false;
      for (const branch of value) {
        if (!isPlainObject(branch) || !filterFields(branch, out)) return false;
      }
    } else if (key === "$expr") {
      if (!expressionFields(value, out)) return false;
    } else if (key === "$comment") {
      // no field
    } else if (key.startsWith("$")) {
      return false;
    } else {
      out.add(topLevel(key));
    }
  }
  return true;
}

/** The top-level fields a query filter reads, or undefined when it cannot tell. */
export function filterReads(filter: Document | undefined): Set<string> | undefined {
  const out = new Set<string>();
  return filter === undefined || filterFields(filter, out) ? out : undefined;
}

/**
 * The top-level fields that `filter` and the stages up to the first reducing stage read, or
 * undefined when the whole document may be needed.
 */
export function streamedFields(
  filter: Document | undefined,
  stages: readonly Document[],
): Set<string> | undefined {
  const out = new Set<string>();
  if (filter !== undefined && !filterFields(filter, out)) return undefined;
  for (const stage of stages) {
    const [name] = Object.keys(stage);
    if (name === undefined) return undefined;
    const body = stage[name];
    if (name === "$match") {
      if (!isPlainObject(body) || !filterFields(body, out)) return undefined;
      continue;
    }
    if (!REDUCING.has(name)) return undefined;
    return expressionFields(body, out) ? out : undefined;
  }
  return undefined;
}
