import { type Document, ObjectId } from "bson";
import { isPlainObject, makePair, toView } from "./bson-values.js";
import type { Catalog } from "./catalog.js";
import { isUnique } from "./collection.js";
import { CommandError, commandError } from "./errors.js";
import type { QueryEngine } from "./mingo-engine.js";
import { matchDocuments } from "./query-exec.js";
import { applyUpdateSpec, prepareInsert } from "./write-docs.js";

/**
 * The `$merge` stage (mongod's documented semantics): each result document is matched in the
 * target collection by the `on` fields (default `_id`, otherwise backed by a unique index),
 * then replaced, merged, kept, run through a pipeline or refused (`whenMatched`), or inserted,
 * discarded or refused when nothing matches (`whenNotMatched`). All in the command's one
 * transaction, so a failure leaves the target as it was.
 */

export interface MergeSpec {
  readonly db: string;
  readonly coll: string;
  readonly on: readonly string[];
  readonly whenMatched: "replace" | "keepExisting" | "merge" | "fail" | Document[];
  readonly whenNotMatched: "insert" | "discard" | "fail";
  readonly variables: Document | undefined;
}

const WHEN_MATCHED = ["replace", "keepExisting", "merge", "fail"];
const WHEN_NOT_MATCHED = ["insert", "discard", "fail"];
const FIELDS = new Set(["into", "on", "let", "whenMatched", "whenNotMatched"]);

export function parseMerge(spec: unknown, defaultDb: string): MergeSpec {
  const raw = typeof spec === "string" ? { into: spec } : spec;
  if (!isPlainObject(raw)) {
    throw new CommandError(51182, "$merge only supports a string or object argument");
  }
  for (const key of Object.keys(raw)) {
    if (!FIELDS.has(key))
      throw new CommandError(40415, `BSON field '$merge.${key}' is an unknown field.`);
  }
  let db = defaultDb;
  let coll: unknown = raw.into;
  if (isPlainObject(raw.into)) {
    db = typeof raw.into.db === "string" ? raw.into.db : defaultDb;
    coll = raw.into.coll;
  }
  if (typeof coll !== "string" || coll.length === 0) {
    throw new CommandError(51178, "$merge 'into' field must be either a string or an object");
  }
  const on = raw.on === undefined ? ["_id"] : Array.isArray(raw.on) ? raw.on : [raw.on];
  if (on.length === 0 || !on.every((f: unknown) => typeof f === "string")) {
    throw new CommandError(51186, "$merge 'on' field must be a string or an array of strings");
  }
  const whenMatched = raw.whenMatched ?? "replace";
  if (!Array.isArray(whenMatched) && !WHEN_MATCHED.includes(whenMatched)) {
    throw commandError(
      "BadValue",
      `Enumeration value '${String(whenMatched)}' for field '$merge.whenMatched' is not a valid value.`,
    );
  }
  const whenNotMatched = raw.whenNotMatched ?? "insert";
  if (!WHEN_NOT_MATCHED.includes(whenNotMatched)) {
    throw commandError(
      "BadValue",
      `Enumeration value '${String(whenNotMatched)}' for field '$merge.whenNotMatched' is not a valid value.`,
    );
  }
  if (raw.let !== undefined && !isPlainObject(raw.let)) {
    throw commandError(
      "TypeMismatch",
      "BSON field '$merge.let' is the wrong type, expected type 'object'",
    );
  }
  if (raw.let !== undefined && !Array.isArray(whenMatched)) {
    throw new CommandError(
      51199,
      `Cannot use 'let' variables with 'whenMatched: ${whenMatched}' mode`,
    );
  }
  return { db, coll, on, whenMatched, whenNotMatched, variables: raw.let };
}

function onValue(doc: Document, path: string): unknown {
  let value: unknown = doc;
  for (const part of path.split(".")) {
    value = isPlainObject(value) ? value[part] : undefined;
  }
  return value;
}

export function runMerge(
  catalog: Catalog,
  engine: QueryEngine,
  spec: MergeSpec,
  results: Document[],
  now: () => Date,
): void {
  catalog.write(() => {
    const target = catalog.get(spec.db, spec.coll) ?? catalog.create(spec.db, spec.coll, {});
    const onId = spec.on.length === 1 && spec.on[0] === "_id";
    if (!onId) {
      const wanted = [...spec.on].sort().join(",");
      const backed = target.indexes.some(
        (ix) => isUnique(ix) && Object.keys(ix.spec.key).sort().join(",") === wanted,
      );
      if (!backed) {
        throw new CommandError(
          51183,
          "Cannot find index to verify that join fields will be unique",
        );
      }
    }
    for (const result of results) {
      const doc = onId && result._id === undefined ? { _id: new ObjectId(), ...result } : result;
      const filter: Document = {};
      for (const path of spec.on) {
        const value = onValue(doc, path);
        if (value === undefined || value === null || Array.isArray(value)) {
          throw new CommandError(
            51132,
            `$merge write error: 'on' field '${path}' cannot be missing, null, undefined or an array`,
          );
        }
        filter[path] = value;
      }
      const existing = matchDocuments(engine, target, filter, { limit: 1 }).docs[0];
      if (!existing) {
        if (spec.whenNotMatched === "discard") continue;
        if (spec.whenNotMatched === "fail") {
          throw new CommandError(
            13113,
            "$merge could not find a matching document in the target collection for at least one document in the source collection",
          );
        }
        target.insert(makePair(prepareInsert(doc)));
        continue;
      }
      const { whenMatched } = spec;
      if (whenMatched === "keepExisting") continue;
      if (whenMatched === "fail") {
        // The target's unique index reports the clash, as mongod's does.
        target.insert(makePair(prepareInsert(doc)));
        continue;
      }
      let next: Document;
      if (whenMatched === "replace") {
        next = doc;
      } else if (whenMatched === "merge") {
        next = { ...existing.typed, ...doc };
      } else {
        // `let` expressions see the result document as $$ROOT; $$new defaults to it.
        const variables: Document = { new: { $literal: doc } };
        for (const [name, expr] of Object.entries(spec.variables ?? {})) {
          variables[name] = { $literal: engine.evaluate(expr, toView(doc)) };
        }
        next = applyUpdateSpec(existing, whenMatched, {
          engine,
          now,
          filter: {},
          arrayFilters: undefined,
          inserting: false,
          variables,
        }).typed;
      }
      const updated = applyUpdateSpec(existing, next, {
        engine,
        now,
        filter: {},
        arrayFilters: undefined,
        inserting: false,
      });
      target.replace(existing, updated);
    }
  });
}
