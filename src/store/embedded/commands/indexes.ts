import type { Document } from "bson";
import { formatDocument } from "../bson-key.js";
import { isPlainObject } from "../bson-values.js";
import type { Collection } from "../collection.js";
import { commandError } from "../errors.js";
import {
  type IndexSpec,
  matchesKeyPattern,
  normalizeIndexSpec,
  sameKey,
  sameOptions,
} from "../index-spec.js";
import {
  batchSizeOf,
  type CommandContext,
  type CommandDefinition,
  collectionName,
  cursorReply,
  optionalDocument,
} from "./context.js";

/** Whether the index already exists (true), is new (false), or conflicts (throws), as mongod. */
function alreadyExists(collection: Collection, spec: IndexSpec): boolean {
  for (const { spec: existing } of collection.indexes) {
    const sameName = existing.name === spec.name;
    const keyMatch = sameKey(existing.key, spec.key);
    if (sameName && keyMatch && sameOptions(existing, spec)) return true;
    if (sameName) {
      throw commandError(
        "IndexKeySpecsConflict",
        `An existing index has the same name as the requested index. When index names are not specified, they are auto generated and can cause conflicts. Please refer to our documentation. Requested index: ${formatDocument(spec)}, existing index: ${formatDocument(existing)}`,
      );
    }
    if (keyMatch) {
      throw commandError(
        "IndexOptionsConflict",
        sameOptions(existing, spec)
          ? `Index already exists with a different name: ${existing.name}`
          : `An equivalent index already exists with a different name and options. Requested index: ${formatDocument(spec)}, existing index: ${formatDocument(existing)}`,
      );
    }
  }
  return false;
}

function createIndexes(ctx: CommandContext): Document {
  const name = collectionName(ctx);
  const raw = ctx.body.indexes;
  if (!Array.isArray(raw) || raw.length === 0) {
    throw commandError("BadValue", "Must specify at least one index to create");
  }
  const specs = raw.map(normalizeIndexSpec);
  for (const spec of specs) {
    if (spec.name === "_id_" && !sameKey(spec.key, { _id: 1 })) {
      throw commandError(
        "BadValue",
        "The index name '_id_' is reserved for the _id index, which must have key pattern {_id: 1}",
      );
    }
  }
  const { catalog } = ctx.server;
  return catalog.write(() => {
    const { collection, created } = catalog.getOrCreate(ctx.db, name);
    const before = collection.indexes.length;
    let added = 0;
    for (const spec of specs) {
      if (alreadyExists(collection, spec)) continue;
      collection.addIndex(spec);
      added++;
    }
    return {
      numIndexesBefore: before,
      numIndexesAfter: collection.indexes.length,
      ...(added === 0 ? { note: "all indexes already exist" } : {}),
      createdCollectionAutomatically: created,
      ok: 1,
    };
  });
}

function listIndexes(ctx: CommandContext): Document {
  const name = collectionName(ctx);
  const collection = ctx.server.catalog.get(ctx.db, name);
  if (!collection) throw commandError("NamespaceNotFound", `ns does not exist: ${ctx.db}.${name}`);
  const ns = `${ctx.db}.$cmd.listIndexes.${name}`;
  const cursorOptions = optionalDocument(ctx.body, "cursor");
  const { id, batch } = ctx.server.cursors.open(ns, collection.specs(), (s) => ({ ...s }), {
    batchSize: batchSizeOf(cursorOptions?.batchSize),
  });
  return cursorReply(ns, id, batch, true);
}

function resolveTargets(collection: Collection, index: unknown): string[] {
  if (index === "*")
    return collection
      .specs()
      .filter((s) => s.name !== "_id_")
      .map((s) => s.name);
  const names = Array.isArray(index) ? index : [index];
  return names.map((target) => {
    if (typeof target === "string") {
      if (target === "_id_") throw commandError("InvalidOptions", "cannot drop _id index");
      if (!collection.findIndex(target)) {
        throw commandError("IndexNotFound", `index not found with name [${target}]`);
      }
      return target;
    }
    if (isPlainObject(target)) {
      const found = collection.specs().find((s) => matchesKeyPattern(s, target));
      if (!found)
        throw commandError("IndexNotFound", `can't find index with key: ${formatDocument(target)}`);
      if (found.name === "_id_") throw commandError("InvalidOptions", "cannot drop _id index");
      return found.name;
    }
    throw commandError("TypeMismatch", "index must be a string, an object or an array of strings");
  });
}

function dropIndexes(ctx: CommandContext): Document {
  const name = collectionName(ctx);
  const { catalog } = ctx.server;
  const collection = catalog.get(ctx.db, name);
  if (!collection) throw commandError("NamespaceNotFound", `ns not found ${ctx.db}.${name}`);
  const nIndexesWas = collection.indexes.length;
  const targets = resolveTargets(collection, ctx.body.index);
  catalog.write(() => {
    for (const target of targets) collection.dropIndex(target);
  });
  return ctx.body.index === "*"
    ? { nIndexesWas, msg: "non-_id indexes dropped for collection", ok: 1 }
    : { nIndexesWas, ok: 1 };
}

export const indexCommands: Record<string, CommandDefinition> = {
  createIndexes: { handler: createIndexes },
  listIndexes: { handler: listIndexes },
  dropIndexes: { handler: dropIndexes },
  deleteIndexes: { handler: dropIndexes },
};
