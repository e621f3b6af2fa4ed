import type { Document } from "bson";
import { keyOf } from "../bson-key.js";
import { compareValues } from "../bson-order.js";
import { parseCollation } from "../collation.js";
import { CommandError, commandError } from "../errors.js";
import { pathValues } from "../index-keys.js";
import { filterReads } from "../pipeline-fields.js";
import { topLevelInclusion } from "../projection.js";
import { createRenderer, matchDocuments } from "../query-exec.js";
import { parseSort, type SortKey } from "../sort.js";
import {
  batchSizeOf,
  type CommandContext,
  type CommandDefinition,
  collectionName,
  cursorIdOf,
  cursorReply,
  optionalBoolean,
  optionalDocument,
  optionalNumber,
} from "./context.js";
import { checkHint } from "./hint.js";

function nonNegative(field: string, value: number | undefined): number | undefined {
  if (value !== undefined && value < 0) {
    throw new CommandError(
      51024,
      `BSON field '${field}' value must be >= 0, actual value '${value}'`,
    );
  }
  return value;
}

/**
 * Without a projection, or with one that only includes top-level fields, documents go out as
 * stored (or as the stored elements kept): only the fields the filter and the sort read are
 * decoded (undefined: decode everything, e.g. for `$where` or a text score).
 */
function rawFields(
  filter: Document | undefined,
  projection: Document | undefined,
  sort: readonly SortKey[],
): Set<string> | undefined {
  if (projection && Object.keys(projection).length > 0 && !topLevelInclusion(projection)) {
    return undefined;
  }
  if (sort.some((key) => key.textScore)) return undefined;
  const fields = filterReads(filter);
  if (!fields) return undefined;
  fields.add("_id");
  for (const key of sort) fields.add(key.path.split(".", 1)[0]!);
  return fields;
}

function find(ctx: CommandContext): Document {
  const name = collectionName(ctx);
  const { body } = ctx;
  const filter = optionalDocument(body, "filter");
  const projection = optionalDocument(body, "projection");
  const sort = parseSort(optionalDocument(body, "sort"));
  const skip = nonNegative("skip", optionalNumber(body, "skip"));
  let limit = optionalNumber(body, "limit");
  let singleBatch = optionalBoolean(body, "singleBatch") ?? false;
  if (limit !== undefined && limit < 0) {
    // Legacy negative limit: return at most |limit| documents in one batch.
    limit = -limit;
    singleBatch = true;
  }
  if (optionalBoolean(body, "tailable")) {
    throw commandError(
      "BadValue",
      `error processing query: ns=${ctx.db}.${name} tailable cursor requested on non capped collection`,
    );
  }
  checkHint(ctx, body.hint);
  const { catalog, engine, cursors } = ctx.server;
  const collection = catalog.get(ctx.db, name);
  const { docs, scores } = matchDocuments(engine, collection, filter, {
    sort,
    skip,
    limit: limit || undefined,
    collation: optionalDocument(body, "collation"),
    variables: optionalDocument(body, "let"),
    fields: rawFields(filter, projection, sort),
  });
  const render = createRenderer(engine, projection, filter, scores);
  let batchSize = batchSizeOf(body.batchSize);
  if (limit && (batchSize === undefined || batchSize > limit)) batchSize = limit;
  const ns = `${ctx.db}.${name}`;
  const { id, batch } = cursors.open(ns, docs, render, {
    batchSize,
    singleBatch,
    noTimeout: optionalBoolean(body, "noCursorTimeout") ?? false,
  });
  return cursorReply(ns, id, batch, true);
}

function count(ctx: CommandContext): Document {
  const name = collectionName(ctx);
  const { body } = ctx;
  const query = optionalDocument(body, "query");
  const skip = nonNegative("skip", optionalNumber(body, "skip"));
  const limit = optionalNumber(body, "limit");
  checkHint(ctx, body.hint);
  const collection = ctx.server.catalog.get(ctx.db, name);
  if (!collection) return { n: 0, ok: 1 };
  if (!query || Object.keys(query).length === 0) {
    // estimatedDocumentCount: no need to touch documents.
    let n = Math.max(0, collection.docs.size - (skip ?? 0));
    if (limit) n = Math.min(n, Math.abs(limit));
    return { n, ok: 1 };
  }
  const { docs } = matchDocuments(ctx.server.engine, collection, query, {
    skip,
    limit: limit ? Math.abs(limit) : undefined,
    collation: optionalDocument(body, "collation"),
  });
  return { n: docs.length, ok: 1 };
}

function distinct(ctx: CommandContext): Document {
  const name = collectionName(ctx);
  const { body } = ctx;
  const key = body.key;
  if (typeof key !== "string") {
    throw commandError("TypeMismatch", "BSON field 'distinct.key' is missing but a required field");
  }
  if (key.length === 0)
    throw commandError("BadValue", "FieldPath cannot be constructed with empty string");
  const query = optionalDocument(body, "query");
  const collation = optionalDocument(body, "collation");
  const strcmp = parseCollation(collation);
  const collection = ctx.server.catalog.get(ctx.db, name);
  const { docs } = matchDocuments(ctx.server.engine, collection, query, { collation });
  const seen = new Map<string, unknown>();
  for (const doc of docs) {
    // Typed form, so int64/Decimal128 values come back with their type.
    for (const value of pathValues(doc.typed, key).values) {
      if (typeof value === "symbol") continue;
      const k = keyOf(value);
      if (!seen.has(k)) seen.set(k, value);
    }
  }
  const sorted = [...seen.values()].sort((a, b) => compareValues(a, b, strcmp));
  // Under a collation, values it considers equal are one distinct value (the first seen).
  const values = strcmp
    ? sorted.filter((v, i) => i === 0 || compareValues(sorted[i - 1], v, strcmp) !== 0)
    : sorted;
  return { values, ok: 1 };
}

function getMore(ctx: CommandContext): Document {
  const id = cursorIdOf(ctx.body.getMore);
  if (id === undefined) {
    throw commandError(
      "TypeMismatch",
      "BSON field 'getMore.getMore' is the wrong type, expected type 'long'",
    );
  }
  const collection = ctx.body.collection;
  if (typeof collection !== "string") {
    throw commandError(
      "TypeMismatch",
      "BSON field 'getMore.collection' is missing but a required field",
    );
  }
  const ns = `${ctx.db}.${collection}`;
  const { cursors } = ctx.server;
  const owner = cursors.nsOf(id);
  if (owner === undefined) throw commandError("CursorNotFound", `cursor id ${id} not found`);
  if (owner !== ns) {
    throw commandError(
      "Unauthorized",
      `Requested getMore on namespace '${ns}', but cursor belongs to a different namespace ${owner}`,
    );
  }
  const { id: next, batch } = cursors.getMore(id, ns, batchSizeOf(ctx.body.batchSize));
  return cursorReply(ns, next, batch, false);
}

function killCursors(ctx: CommandContext): Document {
  collectionName(ctx);
  const ids = ctx.body.cursors;
  if (!Array.isArray(ids)) {
    throw commandError(
      "FailedToParse",
      "BSON field 'killCursors.cursors' is missing but a required field",
    );
  }
  const cursorsKilled: bigint[] = [];
  const cursorsNotFound: bigint[] = [];
  for (const raw of ids) {
    const id = cursorIdOf(raw);
    if (id === undefined) throw commandError("TypeMismatch", "cursor ids must be int64");
    if (ctx.server.cursors.kill(id)) cursorsKilled.push(id);
    else cursorsNotFound.push(id);
  }
  return { cursorsKilled, cursorsNotFound, cursorsAlive: [], cursorsUnknown: [], ok: 1 };
}

export const queryCommands: Record<string, CommandDefinition> = {
  find: { handler: find },
  count: { handler: count },
  distinct: { handler: distinct },
  getMore: { handler: getMore },
  killCursors: { handler: killCursors },
};
