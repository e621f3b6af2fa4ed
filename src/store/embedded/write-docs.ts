import { type Document, ObjectId, Timestamp } from "bson";
import { formatDocument, formatValue, keyOf } from "./bson-key.js";
import { arithmetic, asKind, isNumeric, numericKind } from "./bson-numbers.js";
import { compareValues } from "./bson-order.js";
import { bsonTypeName } from "./bson-types.js";
import {
  type DocPair,
  hasTypedNumbers,
  isPlainObject,
  makePair,
  restoreTypes,
  toView,
} from "./bson-values.js";
import { badValue, CommandError, commandError } from "./errors.js";
import type { QueryEngine } from "./mingo-engine.js";

/**
 * Building the documents that writes store: inserts (with `_id` first, generated if absent),
 * replacements, update operators and update pipelines (applied by mingo on the view form, then
 * mapped back to BSON types), and upsert seeds taken from the filter's equality conditions.
 */

export type UpdateSpec = Document | Document[];

export function isReplacement(update: UpdateSpec): boolean {
  if (Array.isArray(update)) return false;
  const keys = Object.keys(update);
  return keys.length === 0 || !keys[0]!.startsWith("$");
}

/** mongod refuses `$`-prefixed field names anywhere inside `_id` (storage validation). */
function checkIdFieldNames(value: unknown): void {
  if (Array.isArray(value)) {
    for (const v of value) checkIdFieldNames(v);
    return;
  }
  if (!isPlainObject(value)) return;
  for (const [key, v] of Object.entries(value)) {
    if (key.startsWith("$")) {
      throw new CommandError(
        52,
        `_id fields may not contain '$'-prefixed fields: ${key} is not valid for storage.`,
      );
    }
    checkIdFieldNames(v);
  }
}

function checkIdValue(id: unknown): void {
  if (Array.isArray(id)) throw badValue("can't use an array for _id");
  if (id instanceof RegExp) throw badValue("can't use a regex for _id");
  if (id === undefined) throw badValue("can't use a undefined for _id");
  checkIdFieldNames(id);
}

/** mongod's fixDocumentForInsert: `_id` generated when missing and always stored first. */
export function prepareInsert(raw: unknown): Document {
  if (!isPlainObject(raw))
    throw commandError("TypeMismatch", "document to insert must be an object");
  if (!("_id" in raw)) return { _id: new ObjectId(), ...raw };
  checkIdValue(raw._id);
  if (Object.keys(raw)[0] === "_id") return raw;
  const { _id, ...rest } = raw;
  return { _id, ...rest };
}

function checkReplacementFields(doc: Document): void {
  for (const key of Object.keys(doc)) {
    if (key.startsWith("$")) {
      throw new CommandError(
        52,
        `The dollar ($) prefixed field '${key}' in '${key}' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith.`,
      );
    }
  }
}

function valueAtPath(doc: unknown, path: string): unknown {
  let value = doc;
  for (const part of path.split(".")) {
    if (Array.isArray(value) && /^\d+$/.test(part)) value = value[Number(part)];
    else if (isPlainObject(value)) value = value[part];
    else return undefined;
  }
  return value;
}

/** Copy-on-write assignment of a dotted path (stored objects are shared and never mutated). */
function withPathValue(doc: Document, path: string, value: unknown): Document {
  const [head, ...rest] = path.split(".");
  const out: Document = { ...doc };
  if (rest.length === 0) {
    out[head!] = value;
    return out;
  }
  const child = out[head!];
  if (Array.isArray(child) && /^\d+$/.test(rest[0]!)) {
    const arr = [...child];
    const idx = Number(rest[0]);
    arr[idx] =
      rest.length === 1
        ? value
        : withPathValue(isPlainObject(arr[idx]) ? arr[idx] : {}, rest.slice(1).join("."), value);
    out[head!] = arr;
    return out;
  }
  out[head!] = withPathValue(isPlainObject(child) ? child : {}, rest.join("."), value);
  return out;
}

function describeId(view: Document): string {
  return formatDocument({ _id: view._id });
}

const isPositional = (path: string): boolean => path.split(".").some((p) => p.startsWith("$"));

/**
 * Checks mongod makes before applying operators and mingo silently skips: arithmetic on
 * non-numbers, array operators on non-arrays.
 */
function checkOperatorTargets(view: Document, modifier: Document): void {
  const each = (op: string, fn: (path: string, current: unknown, arg: unknown) => void) => {
    const spec = modifier[op];
    if (!isPlainObject(spec)) {
      if (spec !== undefined) {
        throw commandError(
          "FailedToParse",
          `Modifiers operate on fields but we found type ${bsonTypeName(spec)} instead. For example: {$mod: {<field>: ...}} not {${op}: ${formatValue(spec)}}`,
        );
      }
      return;
    }
    for (const [path, arg] of Object.entries(spec)) {
      if (isPositional(path)) continue;
      fn(path, valueAtPath(view, path), arg);
    }
  };
  for (const op of ["$inc", "$mul"]) {
    each(op, (path, current, arg) => {
      if (typeof arg !== "number") {
        throw commandError(
          "TypeMismatch",
          `Cannot ${op === "$inc" ? "increment" : "multiply"} with non-numeric argument: {${path}: ${formatValue(arg)}}`,
        );
      }
      if (current !== undefined && typeof current !== "number") {
        throw commandError(
          "TypeMismatch",
          `Cannot apply ${op} to a value of non-numeric type. ${describeId(view)} has the field '${path.split(".").pop()}' of non-numeric type ${bsonTypeName(current)}`,
        );
      }
    });
  }
  each("$push", (path, current) => {
    if (current !== undefined && !Array.isArray(current)) {
      throw badValue(
        `The field '${path}' must be an array but is of type ${bsonTypeName(current)} in document ${describeId(view)}`,
      );
    }
  });
  each("$addToSet", (path, current) => {
    if (current !== undefined && !Array.isArray(current)) {
      throw badValue(
        `Cannot apply $addToSet to non-array field. Field named '${path.split(".").pop()}' has non-array type ${bsonTypeName(current)}`,
      );
    }
  });
  for (const op of ["$pull", "$pullAll"]) {
    each(op, (_path, current) => {
      if (current !== undefined && !Array.isArray(current))
        throw badValue(`Cannot apply ${op} to a non-array value`);
    });
  }
  each("$pop", (path, current) => {
    if (current !== undefined && !Array.isArray(current)) {
      throw commandError(
        "TypeMismatch",
        `Path '${path}' contains an element of non-array type '${bsonTypeName(current)}'`,
      );
    }
  });
}

function immutableIdError(): CommandError {
  return commandError(
    "ImmutableField",
    "Performing an update on the path '_id' would modify the immutable field '_id'",
  );
}

export interface UpdateContext {
  readonly engine: QueryEngine;
  /** View-form filter (without $text) used to resolve the positional `$` operator. */
  readonly filter: Document;
  readonly arrayFilters: Document[] | undefined;
  /** True when applying to a fresh upsert document: $setOnInsert applies. */
  readonly inserting: boolean;
  /** False only for an upsert seed without `_id`, whose `_id` the update may still choose. */
  readonly idFixed?: boolean;
  /** Server clock for $currentDate. */
  readonly now: () => Date;
  /** The command's `let` variables and the statement's constants, for update pipelines. */
  readonly variables?: Document | undefined;
}

/**
 * The top-level fields an operator update may change (the first segment of each path, `$rename`
 * targets included); null for a replacement or a pipeline, which may change any.
 */
export function touchedFields(update: UpdateSpec): Set<string> | null {
  if (Array.isArray(update) || isReplacement(update)) return null;
  const fields = new Set<string>();
  for (const [op, spec] of Object.entries(update)) {
    if (!isPlainObject(spec)) return null;
    for (const [path, arg] of Object.entries(spec)) {
      fields.add(path.split(".", 1)[0]!);
      if (op === "$rename") {
        if (typeof arg !== "string") return null;
        fields.add(arg.split(".", 1)[0]!);
      }
    }
  }
  return fields;
}

/** Whether two versions of a document hold the same values in `fields` (null: in every field). */
export function sameInFields(
  a: Document,
  b: Document,
  fields: ReadonlySet<string> | null,
): boolean {
  if (!fields) return keyOf(a) === keyOf(b);
  for (const field of fields) {
    if (field in a !== field in b || keyOf(a[field]) !== keyOf(b[field])) return false;
  }
  return true;
}

/** The new version of `base` after `update`; `_id` may never change. */
export function applyUpdateSpec(base: DocPair, update: UpdateSpec, ctx: UpdateContext): DocPair {
  if (isReplacement(update)) {
    const replacement = update as Document;
    checkReplacementFields(replacement);
    if (
      "_id" in replacement &&
      base.typed._id !== undefined &&
      keyOf(replacement._id) !== keyOf(base.typed._id)
    ) {
      throw commandError(
        "ImmutableField",
        `After applying the update, the (immutable) field '_id' was found to have been altered to _id: ${formatValue(replacement._id)}`,
      );
    }
    const { _id: _ignored, ...rest } = replacement;
    const id = base.typed._id ?? replacement._id;
    return makePair(id === undefined ? rest : { _id: id, ...rest });
  }
  let newView: Document;
  if (Array.isArray(update)) {
    newView = ctx.engine.applyUpdate(base.view, toView(update), {
      filter: ctx.filter,
      variables: ctx.variables ? toView(ctx.variables) : undefined,
    });
    if (newView._id !== undefined) checkIdValue(newView._id);
  } else {
    const modifier: Document = { ...toView(update) };
    const onInsert = modifier.$setOnInsert;
    delete modifier.$setOnInsert;
    if (ctx.inserting && isPlainObject(onInsert)) {
      const set: Document = { ...(isPlainObject(modifier.$set) ? modifier.$set : {}) };
      for (const [path, value] of Object.entries(onInsert)) {
        if (path in set) {
          throw commandError(
            "ConflictingUpdateOperators",
            `Updating the path '${path}' would create a conflict at '${path}'`,
          );
        }
        set[path] = value;
      }
      modifier.$set = set;
    }
    checkOperatorTargets(base.view, modifier);
    newView =
      Object.keys(modifier).length === 0
        ? base.view
        : ctx.engine.applyUpdate(base.view, modifier, {
            filter: ctx.inserting ? {} : ctx.filter,
            arrayFilters: ctx.arrayFilters ? toView(ctx.arrayFilters) : undefined,
          });
  }
  if (ctx.idFixed !== false && keyOf(newView._id) !== keyOf(base.view._id)) {
    throw immutableIdError();
  }
  let typed = (
    base.typed === base.view ? newView : restoreTypes(newView, base.typed, true)
  ) as Document;
  if (!Array.isArray(update)) typed = overlayTypedResults(typed, base.typed, update, ctx);
  return makePair(typed);
}

function pathsOf(spec: unknown): [string, unknown][] {
  return isPlainObject(spec) ? Object.entries(spec).filter(([path]) => !isPositional(path)) : [];
}

/**
 * The view only carries plain numbers, so where the BSON type of a result matters it is
 * recomputed from the typed values: $set of Long/Double/Decimal128 values, $inc/$mul with
 * mongod's type promotion and exact int64/decimal arithmetic, $min/$max keeping the winner's type,
 * $rename carrying the type along, $currentDate from the store's clock (and as a Timestamp).
 * Positional paths ($, $[], $[id]) keep what restoreTypes inferred.
 */
function overlayTypedResults(
  typed: Document,
  before: Document,
  update: Document,
  ctx: UpdateContext,
): Document {
  let out = typed;
  for (const [from, to] of pathsOf(update.$rename)) {
    // The view renamed a number; the typed value moves with it.
    const moved = valueAtPath(before, from);
    if (typeof to === "string" && hasTypedNumbers(moved)) out = withPathValue(out, to, moved);
  }
  for (const [path, spec] of pathsOf(update.$currentDate)) {
    const now = ctx.now();
    const timestamp = isPlainObject(spec) && spec.$type === "timestamp";
    // mongod's timestamps count seconds, with an increment to order writes within one second.
    const value = timestamp ? new Timestamp({ t: Math.floor(now.getTime() / 1000), i: 1 }) : now;
    out = withPathValue(out, path, value);
  }
  for (const spec of [update.$set, ctx.inserting ? update.$setOnInsert : undefined]) {
    for (const [path, value] of pathsOf(spec)) {
      if (hasTypedNumbers(value)) out = withPathValue(out, path, value);
    }
  }
  for (const op of ["$inc", "$mul"] as const) {
    for (const [path, operand] of pathsOf(update[op])) {
      if (!isNumeric(operand)) continue;
      const current = valueAtPath(before, path);
      let result: unknown;
      if (current === undefined)
        result = op === "$inc" ? operand : asKind(0, numericKind(operand)!);
      else if (isNumeric(current))
        result = arithmetic(op === "$inc" ? "add" : "multiply", current, operand);
      if (result !== undefined) out = withPathValue(out, path, result);
    }
  }
  for (const op of ["$min", "$max"] as const) {
    for (const [path, operand] of pathsOf(update[op])) {
      const current = valueAtPath(before, path);
      const c = current === undefined ? 1 : compareValues(operand, current);
      if ((op === "$min" ? c < 0 : c > 0) && hasTypedNumbers(operand)) {
        out = withPathValue(out, path, operand);
      }
    }
  }
  return out;
}

/** The document an upsert starts from: the filter's equality conditions (typed form). */
export function upsertSeed(filter: Document): Document {
  let seed: Document = {};
  const visit = (f: Document) => {
    for (const [key, cond] of Object.entries(f)) {
      if (key === "$and" && Array.isArray(cond)) {
        for (const c of cond) if (isPlainObject(c)) visit(c);
      } else if (key.startsWith("$")) {
      } else if (isPlainObject(cond) && Object.keys(cond).some((k) => k.startsWith("$"))) {
        if ("$eq" in cond) seed = withPathValue(seed, key, cond.$eq);
      } else if (!(cond instanceof RegExp)) {
        seed = withPathValue(seed, key, cond);
      }
    }
  };
  visit(filter);
  return seed;
}

/** Builds the document an upsert inserts; `_id` comes from the filter, the update, or is new. */
export function buildUpsert(
  filter: Document,
  update: UpdateSpec,
  ctx: Omit<UpdateContext, "inserting" | "idFixed">,
): Document {
  const seed = upsertSeed(filter);
  if (isReplacement(update)) {
    const replacement = update as Document;
    checkReplacementFields(replacement);
    const id = seed._id ?? replacement._id;
    const { _id: _ignored, ...rest } = replacement;
    return prepareInsert(id === undefined ? rest : { _id: id, ...rest });
  }
  // Without an _id in the filter the update itself may set one.
  const updated = applyUpdateSpec(makePair(seed), update, {
    ...ctx,
    inserting: true,
    idFixed: seed._id !== undefined,
  });
  return prepareInsert(updated.typed);
}
