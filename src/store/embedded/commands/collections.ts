import { createHash } from "node:crypto";
import { type Document, UUID } from "bson";
import { toNumber } from "../bson-numbers.js";
import { isPlainObject } from "../bson-values.js";
import { parseCollation } from "../collation.js";
import { CommandError, commandError } from "../errors.js";
import { matchesKeyPattern } from "../index-spec.js";
import {
  batchSizeOf,
  type CommandContext,
  type CommandDefinition,
  collectionName,
  cursorReply,
  optionalDocument,
} from "./context.js";

const UNSUPPORTED_CREATE_OPTIONS = [
  "viewOn",
  "pipeline",
  "timeseries",
  "capped",
  "clusteredIndex",
  // Document validation is refused rather than stored and never enforced.
  "validator",
  "validationLevel",
  "validationAction",
];

/** Command fields every command may carry (drivers add them); not options of the command. */
const GENERIC_FIELDS = new Set([
  "lsid",
  "txnNumber",
  "writeConcern",
  "readConcern",
  "comment",
  "maxTimeMS",
  "apiVersion",
  "apiStrict",
  "apiDeprecationErrors",
]);

/** collMod options mongod knows but the embedded store does not implement. */
const UNSUPPORTED_COLLMOD_OPTIONS = new Set([
  "validator",
  "validationLevel",
  "validationAction",
  "viewOn",
  "pipeline",
  "expireAfterSeconds",
  "changeStreamPreAndPostImages",
  "timeseries",
  "cappedSize",
  "cappedMax",
  "recordIdsReplicated",
  "timeseriesBucketsMayHaveMixedSchemaData",
]);

function create(ctx: CommandContext): Document {
  const name = collectionName(ctx);
  for (const option of UNSUPPORTED_CREATE_OPTIONS) {
    if (ctx.body[option] !== undefined && ctx.body[option] !== false) {
      throw commandError(
        "CommandNotSupported",
        `the embedded store does not support '${option}' collections`,
      );
    }
  }
  if (ctx.body.collation !== undefined && parseCollation(ctx.body.collation) !== undefined) {
    throw commandError(
      "CommandNotSupported",
      "the embedded store does not support a default collation for collections; pass a collation per operation instead",
    );
  }
  const options: Document = {};
  for (const [k, v] of Object.entries(ctx.body)) {
    if (
      k === "create" ||
      k.startsWith("$") ||
      [
        "lsid",
        "writeConcern",
        "comment",
        "apiVersion",
        "apiStrict",
        "apiDeprecationErrors",
      ].includes(k)
    )
      continue;
    options[k] = v;
  }
  ctx.server.catalog.write(() => ctx.server.catalog.create(ctx.db, name, options));
  return { ok: 1 };
}

function drop(ctx: CommandContext): Document {
  const name = collectionName(ctx);
  const count = ctx.server.catalog.write(() => ctx.server.catalog.drop(ctx.db, name));
  // mongod 7.0 answers ok for a collection that does not exist.
  if (count === undefined) return { ok: 1 };
  return { nIndexesWas: count, ns: `${ctx.db}.${name}`, ok: 1 };
}

function dropDatabase(ctx: CommandContext): Document {
  ctx.server.catalog.write(() => ctx.server.catalog.dropDatabase(ctx.db));
  return { dropped: ctx.db, ok: 1 };
}

/** A stable per-collection UUID, derived so it survives restarts without extra storage. */
function collectionUuid(ctx: CommandContext, name: string): UUID {
  const bytes = createHash("sha256").update(`${ctx.server.dbPath}\0${ctx.db}\0${name}`).digest();
  const b = bytes.subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return new UUID(b);
}

function listCollections(ctx: CommandContext): Document {
  const { catalog, engine, cursors } = ctx.server;
  const filter = optionalDocument(ctx.body, "filter");
  const nameOnly = ctx.body.nameOnly === true;
  let entries: Document[] = catalog
    .collectionNames(ctx.db)
    .sort()
    .map((name) => ({
      name,
      type: "collection",
      options: catalog.collectionOptions(ctx.db, name) ?? {},
      info: { readOnly: false, uuid: collectionUuid(ctx, name) },
      idIndex: { v: 2, key: { _id: 1 }, name: "_id_" },
    }));
  if (filter && Object.keys(filter).length > 0) {
    const test = engine.compileFilter(filter);
    entries = entries.filter((e) => test(e));
  }
  if (nameOnly) entries = entries.map((e) => ({ name: e.name, type: e.type }));
  const ns = `${ctx.db}.$cmd.listCollections`;
  const cursorOptions = optionalDocument(ctx.body, "cursor");
  const { id, batch } = cursors.open(ns, entries, (e) => e, {
    batchSize: batchSizeOf(cursorOptions?.batchSize),
  });
  return cursorReply(ns, id, batch, true);
}

function splitNamespace(value: unknown, field: string): [string, string] {
  if (typeof value !== "string") {
    throw commandError("TypeMismatch", `BSON field 'renameCollection.${field}' must be a string`);
  }
  const dot = value.indexOf(".");
  if (dot <= 0 || dot === value.length - 1) {
    throw commandError("InvalidNamespace", `Invalid namespace specified '${value}'`);
  }
  return [value.slice(0, dot), value.slice(dot + 1)];
}

function renameCollection(ctx: CommandContext): Document {
  const [fromDb, from] = splitNamespace(ctx.body.renameCollection, "renameCollection");
  const [toDb, to] = splitNamespace(ctx.body.to, "to");
  const { catalog } = ctx.server;
  if (fromDb === toDb && from === to) {
    throw commandError("IllegalOperation", "Can't rename a collection to itself");
  }
  catalog.write(() => {
    if (!catalog.has(fromDb, from)) {
      throw commandError("NamespaceNotFound", `Source collection ${fromDb}.${from} does not exist`);
    }
    if (catalog.has(toDb, to)) {
      if (ctx.body.dropTarget !== true)
        throw commandError("NamespaceExists", "target namespace exists");
      catalog.drop(toDb, to);
    }
    catalog.rename(fromDb, from, toDb, to);
  });
  return { ok: 1 };
}

function collStats(ctx: CommandContext): Document {
  const name = collectionName(ctx);
  const scale = Math.max(1, toNumber(ctx.body.scale) ?? 1);
  const collection = ctx.server.catalog.get(ctx.db, name);
  const count = collection?.docs.size ?? 0;
  const size = collection?.dataSize ?? 0;
  const indexSizes: Document = {};
  let totalIndexSize = 0;
  for (const ix of collection?.indexes ?? []) {
    const bytes = count * 16;
    indexSizes[ix.spec.name] = bytes / scale;
    totalIndexSize += bytes;
  }
  return {
    ns: `${ctx.db}.${name}`,
    size: size / scale,
    count,
    avgObjSize: count ? Math.floor(size / count) : 0,
    storageSize: size / scale,
    freeStorageSize: 0,
    capped: false,
    nindexes: collection?.indexes.length ?? 0,
    indexDetails: {},
    indexBuilds: [],
    totalIndexSize: totalIndexSize / scale,
    totalSize: (size + totalIndexSize) / scale,
    indexSizes,
    scaleFactor: scale,
    ok: 1,
  };
}

function collMod(ctx: CommandContext): Document {
  const name = collectionName(ctx);
  const { catalog } = ctx.server;
  for (const field of Object.keys(ctx.body)) {
    if (
      field === "collMod" ||
      field === "index" ||
      field.startsWith("$") ||
      GENERIC_FIELDS.has(field)
    )
      continue;
    if (UNSUPPORTED_COLLMOD_OPTIONS.has(field)) {
      throw commandError(
        "CommandNotSupported",
        `collMod '${field}' is not supported by the embedded store`,
      );
    }
    throw new CommandError(40415, `BSON field 'collMod.${field}' is an unknown field.`);
  }
  const collection = catalog.get(ctx.db, name);
  if (!collection) throw commandError("NamespaceNotFound", `ns does not exist: ${ctx.db}.${name}`);
  const index = optionalDocument(ctx.body, "index");
  if (!index) return { ok: 1 };
  const target = collection.indexes.find((ix) =>
    typeof index.name === "string"
      ? ix.spec.name === index.name
      : isPlainObject(index.keyPattern) && matchesKeyPattern(ix.spec, index.keyPattern),
  );
  if (!target)
    throw commandError(
      "IndexNotFound",
      `cannot find index ${JSON.stringify(index.name ?? index.keyPattern)} for ns ${ctx.db}.${name}`,
    );
  if (index.expireAfterSeconds === undefined) return { ok: 1 };
  if (target.spec.expireAfterSeconds === undefined) {
    throw new CommandError(72, "no expireAfterSeconds field to update");
  }
  const seconds = toNumber(index.expireAfterSeconds) ?? Number.NaN;
  const previous = catalog.write(() => collection.setExpireAfterSeconds(target.spec.name, seconds));
  return { expireAfterSeconds_old: previous, expireAfterSeconds_new: seconds, ok: 1 };
}

export const collectionCommands: Record<string, CommandDefinition> = {
  create: { handler: create },
  drop: { handler: drop },
  dropDatabase: { handler: dropDatabase },
  listCollections: { handler: listCollections },
  renameCollection: { handler: renameCollection, adminOnly: true },
  collStats: { handler: collStats },
  collMod: { handler: collMod },
};
