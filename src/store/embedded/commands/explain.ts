import type { Document } from "bson";
import { toNumber } from "../bson-numbers.js";
import { isPlainObject } from "../bson-tags.js";
import { commandError } from "../errors.js";
import { type MatchStats, matchDocuments } from "../query-exec.js";
import { parseSort } from "../sort.js";
import { SERVER_VERSION } from "./admin.js";
import type { CommandContext, CommandDefinition } from "./context.js";

/**
 * explain: how the planner would answer a find/count/distinct/aggregate/update/delete/
 * findAndModify, in mongod's shape (COLLSCAN, or FETCH over IXSCAN, plus SORT and LIMIT stages),
 * so tools and tests can check that a query is served by an index. Nothing is written.
 */

interface Shape {
  collection: string;
  filter: Document | undefined;
  sort: Document | undefined;
  skip: number | undefined;
  limit: number | undefined;
  /** Aggregation stages left after the ones the planner answers. */
  rest: Document[] | undefined;
}

function doc(value: unknown): Document | undefined {
  return isPlainObject(value) ? value : undefined;
}

function num(value: unknown): number | undefined {
  const n = toNumber(value);
  return n === undefined || n === 0 ? undefined : Math.abs(n);
}

function shapeOf(inner: Document): Shape {
  const name = Object.keys(inner)[0] ?? "";
  const collection = inner[name];
  if (typeof collection !== "string") {
    throw commandError("InvalidNamespace", `explain of '${name}' needs a collection name`);
  }
  const base = { collection, sort: undefined, skip: undefined, limit: undefined, rest: undefined };
  switch (name) {
    case "find":
      return {
        ...base,
        filter: doc(inner.filter),
        sort: doc(inner.sort),
        skip: num(inner.skip),
        limit: num(inner.limit),
      };
    case "count":
      return { ...base, filter: doc(inner.query), skip: num(inner.skip), limit: num(inner.limit) };
    case "distinct":
      return { ...base, filter: doc(inner.query) };
    case "findAndModify":
    case "findandmodify":
      return { ...base, filter: doc(inner.query), sort: doc(inner.sort), limit: 1 };
    case "update":
    case "delete": {
      const statements = inner[name === "update" ? "updates" : "deletes"];
      const first = Array.isArray(statements) ? doc(statements[0]) : undefined;
      return { ...base, filter: doc(first?.q) };
    }
    case "aggregate": {
      const pipeline: Document[] = Array.isArray(inner.pipeline) ? inner.pipeline : [];
      let i = 0;
      const filter = pipeline[i]?.$match !== undefined ? doc(pipeline[i++]!.$match) : undefined;
      const sort = pipeline[i]?.$sort !== undefined ? doc(pipeline[i++]!.$sort) : undefined;
      const limit =
        sort && pipeline[i]?.$limit !== undefined ? num(pipeline[i++]!.$limit) : undefined;
      return { ...base, filter, sort, limit, rest: pipeline.slice(i) };
    }
    default:
      throw commandError(
        "CommandNotSupported",
        `explain of '${name}' is not supported by the embedded store`,
      );
  }
}

function winningPlan(
  shape: Shape,
  stats: MatchStats,
  keyPattern: Document | undefined,
  multikey: boolean,
) {
  let plan: Document;
  if (stats.index === undefined) {
    plan = { stage: "COLLSCAN", filter: shape.filter ?? {}, direction: "forward" };
  } else if (stats.index === "TEXT") {
    plan = { stage: "TEXT_MATCH", inputStage: { stage: "TEXT_OR", indexName: "text" } };
  } else {
    plan = {
      stage: "FETCH",
      filter: shape.filter ?? {},
      inputStage: {
        stage: "IXSCAN",
        keyPattern,
        indexName: stats.index,
        isMultiKey: multikey,
        direction: "forward",
      },
    };
  }
  if (shape.sort && Object.keys(shape.sort).length && !stats.sortedByIndex) {
    plan = { stage: "SORT", sortPattern: shape.sort, inputStage: plan };
  }
  if (shape.skip) plan = { stage: "SKIP", skipAmount: shape.skip, inputStage: plan };
  if (shape.limit) plan = { stage: "LIMIT", limitAmount: shape.limit, inputStage: plan };
  return plan;
}

function explain(ctx: CommandContext): Document {
  const inner = doc(ctx.body.explain);
  if (!inner) throw commandError("TypeMismatch", "explain command requires a nested object");
  const verbosity =
    typeof ctx.body.verbosity === "string" ? ctx.body.verbosity : "allPlansExecution";
  const shape = shapeOf(inner);
  const { catalog, engine } = ctx.server;
  const collection = catalog.get(ctx.db, shape.collection);
  const started = performance.now();
  const { docs, stats } = matchDocuments(engine, collection, shape.filter, {
    sort: parseSort(shape.sort),
    skip: shape.skip,
    limit: shape.limit,
  });
  const ix = stats.index ? collection?.findIndex(stats.index) : undefined;
  const plan = winningPlan(shape, stats, ix?.spec.key, ix?.multikey ?? false);
  const queryPlanner = {
    namespace: `${ctx.db}.${shape.collection}`,
    parsedQuery: shape.filter ?? {},
    winningPlan: plan,
    rejectedPlans: [],
  };
  const executionStats =
    verbosity === "queryPlanner"
      ? undefined
      : {
          executionSuccess: true,
          nReturned: docs.length,
          executionTimeMillis: Math.round(performance.now() - started),
          totalKeysExamined: stats.index && stats.index !== "TEXT" ? stats.docsExamined : 0,
          totalDocsExamined: stats.docsExamined,
          executionStages: plan,
        };
  const planner = { queryPlanner, ...(executionStats ? { executionStats } : {}) };
  const serverInfo = { host: ctx.server.host, port: ctx.server.port, version: SERVER_VERSION };
  const body =
    shape.rest && shape.rest.length > 0
      ? { stages: [{ $cursor: planner }, ...shape.rest] }
      : planner;
  return { explainVersion: "1", ...body, command: inner, serverInfo, ok: 1 };
}

export const explainCommands: Record<string, CommandDefinition> = {
  explain: { handler: explain },
};
