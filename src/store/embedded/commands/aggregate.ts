import type { Document } from "bson";
import { keyOf } from "../bson-key.js";
import { toNumber } from "../bson-numbers.js";
import { isPlainObject, makePair, restoreTypes } from "../bson-values.js";
import { parseCollation } from "../collation.js";
import type { StoredDoc } from "../collection.js";
import { CommandError, commandError } from "../errors.js";
import { parseMerge, runMerge } from "../merge-stage.js";
import { streamedFields } from "../pipeline-fields.js";
import { matchDocuments, streamDocuments } from "../query-exec.js";
import { parseSort } from "../sort.js";
import { prepareInsert } from "../write-docs.js";
import {
  batchSizeOf,
  type CommandContext,
  type CommandDefinition,
  cursorReply,
  optionalDocument,
} from "./context.js";
import { explainCommands } from "./explain.js";
import { checkHint } from "./hint.js";

/**
 * aggregate (cursor form). Leading $match/$sort/$limit stages go through the planner (so they
 * use indexes and `$text`); the rest of the pipeline runs in mingo. `$out` is executed here.
 */

/** Where a `$text` score lives while the pipeline runs; removed from the output. */
const SCORE_FIELD = "__loopgate_textScore";

const REPLICA_SET_ONLY = "$changeStream";
const UNSUPPORTED_STAGES = new Set([
  "$collStats",
  "$indexStats",
  "$currentOp",
  "$listSessions",
  "$listLocalSessions",
  "$planCacheStats",
  "$search",
  "$searchMeta",
  "$vectorSearch",
  "$geoNear",
]);

function stageName(stage: unknown): string {
  if (!isPlainObject(stage)) {
    throw commandError("TypeMismatch", "Each element of the 'pipeline' array must be an object");
  }
  const keys = Object.keys(stage);
  if (keys.length !== 1) {
    throw new CommandError(
      40323,
      "A pipeline stage specification object must contain exactly one field.",
    );
  }
  return keys[0]!;
}

/** Replaces `{ $meta: "textScore" }` by a reference to SCORE_FIELD, throughout the pipeline. */
function rewriteTextScore(value: unknown, inSort = false): unknown {
  if (Array.isArray(value)) return value.map((v) => rewriteTextScore(v));
  if (!isPlainObject(value)) return value;
  if (value.$meta !== undefined && Object.keys(value).length === 1) {
    if (value.$meta !== "textScore")
      throw commandError("BadValue", `unsupported $meta: ${String(value.$meta)}`);
    return `$${SCORE_FIELD}`;
  }
  const out: Document = {};
  for (const [k, v] of Object.entries(value)) {
    if (inSort && isPlainObject(v) && v.$meta === "textScore") out[SCORE_FIELD] = -1;
    else out[k] = rewriteTextScore(v, k === "$sort");
  }
  return out;
}

function stripScore(doc: Document): Document {
  if (!(SCORE_FIELD in doc)) return doc;
  const { [SCORE_FIELD]: _score, ...rest } = doc;
  return rest;
}

function outTarget(ctx: CommandContext, spec: unknown): [string, string] {
  if (typeof spec === "string") return [ctx.db, spec];
  if (isPlainObject(spec) && typeof spec.coll === "string") {
    return [typeof spec.db === "string" ? spec.db : ctx.db, spec.coll];
  }
  throw commandError("FailedToParse", "$out stage requires a string or object argument");
}

function aggregate(ctx: CommandContext): Document {
  const { body, server } = ctx;
  const target = body.aggregate;
  const pipeline = body.pipeline;
  if (!Array.isArray(pipeline)) {
    throw commandError("TypeMismatch", "'pipeline' option must be specified as an array");
  }
  const names = pipeline.map(stageName);
  if (names.includes(REPLICA_SET_ONLY)) {
    throw new CommandError(40573, "The $changeStream stage is only supported on replica sets");
  }
  if (body.explain === true) {
    // The legacy form of `{ explain: { aggregate } }`.
    const { explain: _flag, ...inner } = body;
    return explainCommands.explain!.handler({
      ...ctx,
      body: { explain: inner, $db: ctx.db },
      name: "explain",
    });
  }
  const cursorOptions = optionalDocument(body, "cursor");
  if (!cursorOptions) {
    throw commandError(
      "FailedToParse",
      "The 'cursor' option is required, except for aggregate with the explain argument",
    );
  }
  for (const name of names) {
    if (UNSUPPORTED_STAGES.has(name)) {
      throw commandError("CommandNotSupported", `${name} is not supported by the embedded store`);
    }
  }
  const outIndex = names.findIndex((n) => n === "$out" || n === "$merge");
  if (outIndex >= 0 && outIndex !== names.length - 1) {
    throw new CommandError(40601, `${names[outIndex]} can only be the final stage in the pipeline`);
  }
  const collectionLevel = typeof target === "string";
  if (!collectionLevel && names[0] !== "$documents") {
    throw commandError(
      "InvalidNamespace",
      `{aggregate: 1} is not valid for '${names[0] ?? "$match"}'; a collection is required.`,
    );
  }
  if (collectionLevel && (target.length === 0 || target.includes("$"))) {
    throw commandError("InvalidNamespace", `Invalid namespace specified '${ctx.db}.${target}'`);
  }
  checkHint(ctx, body.hint);

  const { catalog, engine } = server;
  const collection = collectionLevel ? catalog.get(ctx.db, target) : undefined;
  let stages = pipeline as Document[];
  let inputs: StoredDoc[] = [];
  let scores: Map<string, number> | undefined;
  const streamed = collectionLevel ? streamingPlan(names, stages) : undefined;
  if (streamed) {
    // Reduced by $group (or alike): documents flow from SQLite through the pipeline one at a
    // time, and results are new documents, so no type restoring by _id is needed.
    const input = streamDocuments(engine, collection, streamed.filter, {
      collation: optionalDocument(body, "collation"),
      variables: optionalDocument(body, "let"),
      fields: streamedFields(streamed.filter, streamed.rest),
    });
    const views = (function* () {
      for (const doc of input) yield doc.view;
    })();
    const output = engine.aggregate(views, streamed.rest, {
      resolveCollection: (name) =>
        [...(catalog.get(ctx.db, name)?.docs.values() ?? [])].map((d) => d.view),
      variables: optionalDocument(body, "let"),
      collation: parseCollation(optionalDocument(body, "collation"))
        ? optionalDocument(body, "collation")
        : undefined,
    });
    return finish(ctx, output, outIndex >= 0, cursorOptions);
  }
  if (collectionLevel) {
    // Leading $match, then $sort, then $limit: answered by the planner.
    let i = 0;
    const filter = names[0] === "$match" ? (stages[i++]!.$match as Document) : undefined;
    if (filter !== undefined && !isPlainObject(filter))
      throw commandError("BadValue", "the match filter must be an expression in an object");
    const sortSpec = names[i] === "$sort" ? (stages[i++]!.$sort as Document) : undefined;
    const limit = sortSpec && names[i] === "$limit" ? toNumber(stages[i++]!.$limit) : undefined;
    const matched = matchDocuments(engine, collection, filter, {
      sort: parseSort(sortSpec),
      limit,
      collation: optionalDocument(body, "collation"),
      variables: optionalDocument(body, "let"),
    });
    inputs = matched.docs;
    scores = matched.scores;
    stages = stages.slice(i);
  }
  const outStage = outIndex >= 0 ? stages[stages.length - 1] : undefined;
  if (outStage) stages = stages.slice(0, -1);
  if (scores) stages = rewriteTextScore(stages) as Document[];

  const needsRestore = inputs.some((d) => d.typed !== d.view);
  const views = scores
    ? inputs.map((d) => ({ ...d.view, [SCORE_FIELD]: scores.get(d.key) ?? 0 }))
    : inputs.map((d) => d.view);
  const results = (
    stages.length
      ? engine.aggregate(views, stages, {
          resolveCollection: (name) =>
            [...(catalog.get(ctx.db, name)?.docs.values() ?? [])].map((d) => d.view),
          variables: optionalDocument(body, "let"),
          collation: parseCollation(optionalDocument(body, "collation"))
            ? optionalDocument(body, "collation")
            : undefined,
        })
      : views
  ).map(stripScore);
  let output: Document[] = results;
  if (needsRestore) {
    // int64/Decimal128 values travel as numbers through mingo; restore them by _id.
    const byId = new Map(
      inputs.filter((d) => d.typed !== d.view).map((d) => [keyOf(d.view._id), d]),
    );
    output = results.map((doc) => {
      const source = doc._id === undefined ? undefined : byId.get(keyOf(doc._id));
      return source ? (restoreTypes(doc, source.typed, false) as Document) : doc;
    });
  } else if (!stages.length) {
    output = inputs.map((d) => d.typed);
  }

  if (outStage) output = [...output];
  return finish(ctx, output, outStage !== undefined, cursorOptions);
}

/** Writes $out/$merge results, or opens the reply cursor. */
function finish(
  ctx: CommandContext,
  results: Document[],
  writes: boolean,
  cursorOptions: Document,
): Document {
  const { catalog, engine, cursors } = ctx.server;
  const pipeline = ctx.body.pipeline as Document[];
  const outStage = writes ? pipeline[pipeline.length - 1] : undefined;
  let output = results;
  const target = ctx.body.aggregate;
  const collectionLevel = typeof target === "string";
  if (outStage?.$merge !== undefined) {
    runMerge(catalog, engine, parseMerge(outStage.$merge, ctx.db), output, ctx.server.now);
    output = [];
  } else if (outStage) {
    const [db, coll] = outTarget(ctx, outStage.$out);
    catalog.write(() => {
      const existing = catalog.get(db, coll);
      const targetCollection = existing ?? catalog.create(db, coll, {});
      if (existing) targetCollection.clear();
      for (const doc of output) targetCollection.insert(makePair(prepareInsert(doc)));
    });
    output = [];
  }
  const ns = collectionLevel ? `${ctx.db}.${target}` : `${ctx.db}.$cmd.aggregate`;
  const { id, batch } = cursors.open(ns, output, (d) => d, {
    batchSize: batchSizeOf(cursorOptions.batchSize),
  });
  return cursorReply(ns, id, batch, true);
}

/** Stages after which documents are new (grouped), so the input need not be held or restored. */
const REDUCING_STAGES = new Set(["$group", "$count", "$bucket", "$bucketAuto", "$sortByCount"]);
/** Stages that look at one document at a time, safe before a reducing stage in a stream. */
const PER_DOCUMENT_STAGES = new Set(["$match", "$project", "$addFields", "$set", "$unset"]);

/** A pipeline that can stream its input: optional leading $match, per-document stages, then a reducing stage. */
function streamingPlan(
  names: string[],
  stages: Document[],
): { filter: Document | undefined; rest: Document[] } | undefined {
  const reduceAt = names.findIndex((n) => REDUCING_STAGES.has(n));
  if (reduceAt < 0) return undefined;
  if (!names.slice(0, reduceAt).every((n) => PER_DOCUMENT_STAGES.has(n))) return undefined;
  if (names.some((n) => n === "$out" || n === "$merge")) return undefined;
  const filter = names[0] === "$match" ? (stages[0]!.$match as Document) : undefined;
  if (filter !== undefined && (!isPlainObject(filter) || hasText(filter))) return undefined;
  return { filter, rest: filter !== undefined ? stages.slice(1) : stages };
}

function hasText(filter: Document): boolean {
  return JSON.stringify(Object.keys(filter)).includes("$text") || "$and" in filter;
}

export const aggregateCommands: Record<string, CommandDefinition> = {
  aggregate: { handler: aggregate },
};
