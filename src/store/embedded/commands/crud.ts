import type { Document } from "bson";
import { toNumber } from "../bson-numbers.js";
import { isPlainObject, makePair, toView } from "../bson-values.js";
import type { Collection, StoredDoc } from "../collection.js";
import { CommandError, commandError } from "../errors.js";
import { createRenderer, matchDocuments } from "../query-exec.js";
import { parseSort } from "../sort.js";
import {
  applyUpdateSpec,
  buildUpsert,
  isReplacement,
  prepareInsert,
  sameInFields,
  touchedFields,
  type UpdateSpec,
} from "../write-docs.js";
import { MAX_WRITE_BATCH_SIZE } from "./admin.js";
import {
  type CommandContext,
  type CommandDefinition,
  collectionName,
  optionalBoolean,
  optionalDocument,
} from "./context.js";
import { checkHint } from "./hint.js";

/**
 * insert / update / delete / findAndModify. Each command is one SQLite transaction; per-item
 * failures become writeErrors (ordered batches stop at the first), as mongod reports them.
 */

function statements(ctx: CommandContext, field: string): Document[] {
  const items = ctx.body[field];
  if (!Array.isArray(items)) {
    throw commandError(
      "FailedToParse",
      `BSON field '${ctx.name}.${field}' is missing but a required field`,
    );
  }
  if (items.length === 0 || items.length > MAX_WRITE_BATCH_SIZE) {
    throw new CommandError(
      16,
      `Write batch sizes must be between 1 and ${MAX_WRITE_BATCH_SIZE}. Got ${items.length} operations.`,
    );
  }
  return items as Document[];
}

function asCommandError(error: unknown): CommandError {
  if (error instanceof CommandError) return error;
  throw error;
}

function withWriteErrors(reply: Document, writeErrors: Document[]): Document {
  return writeErrors.length ? { ...reply, writeErrors } : reply;
}

/**
 * The filter mingo needs to resolve the positional `$` operator. mingo re-tests the document
 * against it, so it is only passed when an update path really uses `$` (the document was
 * already selected by the planner, with $text, which mingo does not know).
 */
function positionalFilter(filter: Document, update: UpdateSpec): Document {
  if (Array.isArray(update)) return {};
  const positional = Object.values(update).some(
    (spec) => isPlainObject(spec) && Object.keys(spec).some((path) => /(^|\.)\$(\.|$)/.test(path)),
  );
  if (!positional) return {};
  const { $text: _text, ...rest } = toView(filter);
  return rest;
}

function insert(ctx: CommandContext): Document {
  const name = collectionName(ctx);
  const docs = statements(ctx, "documents");
  const ordered = optionalBoolean(ctx.body, "ordered") ?? true;
  const { catalog } = ctx.server;
  const writeErrors: Document[] = [];
  let n = 0;
  catalog.write(() => {
    const { collection } = catalog.getOrCreate(ctx.db, name);
    for (let i = 0; i < docs.length; i++) {
      try {
        collection.insert(makePair(prepareInsert(docs[i])));
        n++;
      } catch (error) {
        writeErrors.push(asCommandError(error).toWriteError(i));
        if (ordered) break;
      }
    }
  });
  return withWriteErrors({ n, ok: 1 }, writeErrors);
}

interface UpdateStatement {
  q: Document;
  u: UpdateSpec;
  upsert: boolean;
  multi: boolean;
  arrayFilters: Document[] | undefined;
  collation: Document | undefined;
  /** The command's `let` merged with the statement's constants (`c`). */
  variables: Document | undefined;
}

/** The fields mongod 7.0 accepts in an update or delete statement; others are refused. */
const UPDATE_STATEMENT_FIELDS = new Set([
  "q",
  "u",
  "c",
  "upsert",
  "multi",
  "arrayFilters",
  "hint",
  "collation",
  "upsertSupplied",
  "sampleId",
  "allowShardKeyUpdatesWithoutFullShardKeyInQuery",
]);
const DELETE_STATEMENT_FIELDS = new Set(["q", "limit", "hint", "collation", "sampleId"]);

/** mongod parses the whole command first: an unknown field fails the command, not one item. */
function checkStatementFields(
  items: Document[],
  command: string,
  field: string,
  allowed: Set<string>,
) {
  for (const raw of items) {
    if (!isPlainObject(raw)) continue;
    for (const key of Object.keys(raw)) {
      if (!allowed.has(key)) {
        throw new CommandError(
          40415,
          `BSON field '${command}.${field}.${key}' is an unknown field.`,
        );
      }
    }
  }
}

function commandVariables(ctx: CommandContext, constants?: unknown): Document | undefined {
  const variables = optionalDocument(ctx.body, "let");
  if (constants === undefined || constants === null) return variables;
  if (!isPlainObject(constants)) {
    throw commandError(
      "TypeMismatch",
      "BSON field 'update.updates.c' is the wrong type, expected type 'object'",
    );
  }
  return { ...variables, ...constants };
}

function parseUpdateStatement(raw: unknown, ctx: CommandContext): UpdateStatement {
  if (!isPlainObject(raw)) throw commandError("TypeMismatch", "update statement must be an object");
  const q = raw.q ?? {};
  if (!isPlainObject(q))
    throw commandError(
      "TypeMismatch",
      "BSON field 'update.updates.q' is the wrong type, expected type 'object'",
    );
  const u = raw.u;
  if (!isPlainObject(u) && !Array.isArray(u)) {
    throw commandError("FailedToParse", "Update argument must be either an object or an array");
  }
  const multi = optionalBoolean(raw, "multi") ?? false;
  if (multi && isReplacement(u as UpdateSpec)) {
    throw commandError(
      "FailedToParse",
      "multi update is not supported for replacement-style update",
    );
  }
  const arrayFilters = raw.arrayFilters;
  if (arrayFilters !== undefined && !Array.isArray(arrayFilters)) {
    throw commandError("TypeMismatch", "arrayFilters must be an array");
  }
  checkHint(ctx, raw.hint);
  return {
    q,
    u: u as UpdateSpec,
    upsert: optionalBoolean(raw, "upsert") ?? false,
    multi,
    arrayFilters: arrayFilters as Document[] | undefined,
    collation: optionalDocument(raw, "collation"),
    variables: commandVariables(ctx, raw.c),
  };
}

interface UpdateOutcome {
  matched: number;
  modified: number;
  upsertedId?: unknown;
  /** The document after the change (for findAndModify `new: true`). */
  after?: StoredDoc;
  before?: StoredDoc;
}

function updateDocument(
  ctx: CommandContext,
  collection: Collection,
  doc: StoredDoc,
  s: UpdateStatement,
) {
  const next = applyUpdateSpec(doc, s.u, {
    engine: ctx.server.engine,
    now: ctx.server.now,
    filter: positionalFilter(s.q, s.u),
    arrayFilters: s.arrayFilters,
    inserting: false,
    variables: s.variables,
  });
  // An operator update changes nothing outside its fields: only those are compared and re-indexed.
  const touched = touchedFields(s.u);
  if (sameInFields(next.typed, doc.typed, touched)) return { changed: false, stored: doc };
  return { changed: true, stored: collection.replace(doc, next, touched) };
}

function upsertDocument(ctx: CommandContext, name: string, s: UpdateStatement): StoredDoc {
  const doc = buildUpsert(s.q, s.u, {
    engine: ctx.server.engine,
    now: ctx.server.now,
    filter: {},
    arrayFilters: s.arrayFilters,
    variables: s.variables,
  });
  const { collection } = ctx.server.catalog.getOrCreate(ctx.db, name);
  return collection.insert(makePair(doc));
}

/** `progress` counts as it goes, so a multi-update failing halfway still reports its changes. */
function runUpdate(
  ctx: CommandContext,
  name: string,
  s: UpdateStatement,
  sort?: Document,
  progress: { matched: number; modified: number } = { matched: 0, modified: 0 },
): UpdateOutcome {
  const collection = ctx.server.catalog.get(ctx.db, name);
  const { docs } = matchDocuments(ctx.server.engine, collection, s.q, {
    sort: parseSort(sort),
    limit: s.multi ? undefined : 1,
    collation: s.collation,
    variables: s.variables,
  });
  if (docs.length === 0) {
    if (!s.upsert) return { matched: 0, modified: 0 };
    const inserted = upsertDocument(ctx, name, s);
    return { matched: 0, modified: 0, upsertedId: inserted.typed._id, after: inserted };
  }
  let modified = 0;
  let after: StoredDoc | undefined;
  for (const doc of docs) {
    const result = updateDocument(ctx, collection!, doc, s);
    progress.matched++;
    if (result.changed) {
      modified++;
      progress.modified++;
    }
    after = result.stored;
  }
  return { matched: docs.length, modified, after, before: docs[0] };
}

function update(ctx: CommandContext): Document {
  const name = collectionName(ctx);
  const items = statements(ctx, "updates");
  checkStatementFields(items, "update", "updates", UPDATE_STATEMENT_FIELDS);
  const ordered = optionalBoolean(ctx.body, "ordered") ?? true;
  const writeErrors: Document[] = [];
  const upserted: Document[] = [];
  const progress = { matched: 0, modified: 0 };
  ctx.server.catalog.write(() => {
    for (let i = 0; i < items.length; i++) {
      try {
        const s = parseUpdateStatement(items[i], ctx);
        const outcome = runUpdate(ctx, name, s, undefined, progress);
        if (outcome.upsertedId !== undefined) {
          upserted.push({ index: i, _id: outcome.upsertedId });
        }
      } catch (error) {
        writeErrors.push(asCommandError(error).toWriteError(i));
        if (ordered) break;
      }
    }
  });
  const reply: Document = {
    n: progress.matched + upserted.length,
    nModified: progress.modified,
    ...(upserted.length ? { upserted } : {}),
    ok: 1,
  };
  return withWriteErrors(reply, writeErrors);
}

function remove(ctx: CommandContext): Document {
  const name = collectionName(ctx);
  const items = statements(ctx, "deletes");
  checkStatementFields(items, "delete", "deletes", DELETE_STATEMENT_FIELDS);
  const ordered = optionalBoolean(ctx.body, "ordered") ?? true;
  const writeErrors: Document[] = [];
  let n = 0;
  const { catalog, engine } = ctx.server;
  catalog.write(() => {
    for (let i = 0; i < items.length; i++) {
      try {
        const raw = items[i];
        if (!isPlainObject(raw))
          throw commandError("TypeMismatch", "delete statement must be an object");
        const limit = toNumber(raw.limit ?? 0);
        if (limit !== 0 && limit !== 1) {
          throw commandError(
            "FailedToParse",
            `The limit field in delete objects must be 0 or 1. Got ${limit}`,
          );
        }
        const q = raw.q ?? {};
        if (!isPlainObject(q))
          throw commandError(
            "TypeMismatch",
            "BSON field 'delete.deletes.q' is the wrong type, expected type 'object'",
          );
        checkHint(ctx, raw.hint);
        const collection = catalog.get(ctx.db, name);
        const { docs } = matchDocuments(engine, collection, q, {
          limit: limit === 1 ? 1 : undefined,
          collation: optionalDocument(raw, "collation"),
          variables: optionalDocument(ctx.body, "let"),
        });
        for (const doc of docs) collection!.remove(doc);
        n += docs.length;
      } catch (error) {
        writeErrors.push(asCommandError(error).toWriteError(i));
        if (ordered) break;
      }
    }
  });
  return withWriteErrors({ n, ok: 1 }, writeErrors);
}

function findAndModify(ctx: CommandContext): Document {
  const name = collectionName(ctx);
  const { body } = ctx;
  const query = optionalDocument(body, "query") ?? {};
  const sort = optionalDocument(body, "sort");
  const fields = optionalDocument(body, "fields");
  const removeFlag = optionalBoolean(body, "remove") ?? false;
  const returnNew = optionalBoolean(body, "new") ?? false;
  const upsert = optionalBoolean(body, "upsert") ?? false;
  const u = body.update as UpdateSpec | undefined;
  if (removeFlag && u !== undefined)
    throw commandError("FailedToParse", "Cannot specify both an update and remove=true");
  if (!removeFlag && u === undefined)
    throw commandError("FailedToParse", "Either an update or remove=true must be specified");
  if (removeFlag && upsert)
    throw commandError("FailedToParse", "Cannot specify both upsert=true and remove=true ");
  if (removeFlag && returnNew) {
    throw commandError(
      "FailedToParse",
      "Cannot specify both new=true and remove=true; 'remove' always returns the deleted document",
    );
  }
  if (u !== undefined && !isPlainObject(u) && !Array.isArray(u)) {
    throw commandError("FailedToParse", "Update argument must be either an object or an array");
  }
  checkHint(ctx, body.hint);
  const { catalog, engine } = ctx.server;
  return catalog.write(() => {
    const collection = catalog.get(ctx.db, name);
    if (removeFlag) {
      const { docs } = matchDocuments(engine, collection, query, {
        sort: parseSort(sort),
        limit: 1,
        collation: optionalDocument(body, "collation"),
        variables: optionalDocument(body, "let"),
      });
      const doc = docs[0];
      if (!doc) return { lastErrorObject: { n: 0 }, value: null, ok: 1 };
      collection!.remove(doc);
      const render = createRenderer(engine, fields, query, undefined);
      return { lastErrorObject: { n: 1 }, value: render(doc), ok: 1 };
    }
    const statement: UpdateStatement = {
      q: query,
      u: u!,
      upsert,
      multi: false,
      arrayFilters: body.arrayFilters as Document[] | undefined,
      collation: optionalDocument(body, "collation"),
      variables: optionalDocument(body, "let"),
    };
    const outcome = runUpdate(ctx, name, statement, sort);
    const render = createRenderer(engine, fields, query, undefined);
    if (outcome.upsertedId !== undefined) {
      return {
        lastErrorObject: { n: 1, updatedExisting: false, upserted: outcome.upsertedId },
        value: returnNew && outcome.after ? render(outcome.after) : null,
        ok: 1,
      };
    }
    if (outcome.matched === 0) {
      return { lastErrorObject: { n: 0, updatedExisting: false }, value: null, ok: 1 };
    }
    const shown = returnNew ? outcome.after : outcome.before;
    return {
      lastErrorObject: { n: 1, updatedExisting: true },
      value: shown ? render(shown) : null,
      ok: 1,
    };
  });
}

export const crudCommands: Record<string, CommandDefinition> = {
  insert: { handler: insert },
  update: { handler: update },
  delete: { handler: remove },
  findAndModify: { handler: findAndModify },
  findandmodify: { handler: findAndModify },
};
