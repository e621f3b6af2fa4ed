import type { Document } from "bson";
import { Aggregator } from "mingo/aggregator";
import { Context, evalExpr, ProcessingMode } from "mingo/core";
import { Lazy } from "mingo/lazy";
import * as accumulatorOperators from "mingo/operators/accumulator";
import * as expressionOperators from "mingo/operators/expression";
import * as pipelineOperators from "mingo/operators/pipeline";
import * as projectionOperators from "mingo/operators/projection";
import * as queryOperators from "mingo/operators/query";
import * as updateOperators from "mingo/operators/update";
import * as windowOperators from "mingo/operators/window";
import { Query } from "mingo/query";
import type { Options } from "mingo/types";
import { update as mingoUpdate } from "mingo/updater";
import { cloneDeep, MingoError } from "mingo/util";
import { expressionOverrides, pipelineOverrides } from "./agg-operators.js";
import { isPlainObject } from "./bson-tags.js";
import { CommandError, commandError } from "./errors.js";
import { queryOperators as bsonQueryOperators, elemMatchProjection } from "./query-operators.js";

/**
 * The one place that talks to mingo: filters, projections, update operators and aggregation
 * all run through mingo with a Context that loads every operator, except `$sort`, which is
 * replaced by one following MongoDB's cross-type BSON order (see bson-order.ts).
 * Every call works on view-form documents (see bson-values.ts).
 */

type Pipeline = Document[];

export interface FilterOptions {
  /** The command's `let` variables, for `$expr`. */
  readonly variables?: Document | undefined;
  /** A validated, non-simple collation document (collation.ts). */
  readonly collation?: Document | undefined;
}

export interface QueryEngine {
  compileFilter(filter: Document, options?: FilterOptions): (view: Document) => boolean;
  /** `filter` serves the positional projection operator (`"arr.$": 1`). */
  compileProjection(projection: Document, filter: Document): (view: Document) => Document;
  /** Applies update operators or an update pipeline to a copy of `view`; never mutates it. */
  applyUpdate(view: Document, update: Document | Pipeline, options: UpdateOptions): Document;
  aggregate(input: Iterable<Document>, pipeline: Pipeline, options: AggregateOptions): Document[];
  /** Evaluates an aggregation expression against one view-form document. */
  evaluate(expr: unknown, view: Document): unknown;
}

export interface UpdateOptions {
  readonly arrayFilters?: Document[];
  /** The filter that selected the document; resolves the positional `$` operator. */
  readonly filter: Document;
  /** The command's `let` variables, for update pipelines. */
  readonly variables?: Document | undefined;
}

export interface AggregateOptions {
  /** Documents of another collection of the same database, for $lookup/$unionWith/$graphLookup. */
  readonly resolveCollection: (name: string) => Document[];
  readonly variables?: Document;
  readonly collation?: Document;
}

function rethrow(error: unknown): never {
  throw toCommandError(error);
}

/** mingo's messages for the mistakes mongod reports with specific codes and wording. */
const MINGO_ERRORS: [RegExp, (m: RegExpMatchArray) => CommandError][] = [
  [/^unknown query operator (\S+)/, (m) => commandError("BadValue", `unknown operator: ${m[1]}`)],
  [
    /^unknown top level operator: (\S+)/,
    (m) => commandError("BadValue", `unknown top level operator: ${m[1]}`),
  ],
  [
    /^unregistered pipeline operator (\$\w+)/,
    (m) => new CommandError(40324, `Unrecognized pipeline stage name: '${m[1]}'`),
  ],
  [
    /^accumulator '(\$\w+)' is not registered/,
    (m) => commandError("InvalidPipelineOperator", `Unrecognized expression '${m[1]}'`),
  ],
  [
    /^Unknown update operator: '(\$\w+)'/,
    (m) =>
      commandError(
        "FailedToParse",
        `Unknown modifier: ${m[1]}. Expected a valid update modifier or pipeline-style update specified as an array`,
      ),
  ],
  [
    /^Unknown pipeline operator: '(\$\w+)'/,
    (m) => commandError("InvalidOptions", `${m[1]} is not allowed to be used within an update`),
  ],
  [
    /updating the path '([^']+)' would create a conflict at '([^']+)'/i,
    (m) =>
      commandError(
        "ConflictingUpdateOperators",
        `Updating the path '${m[1]}' would create a conflict at '${m[2]}'`,
      ),
  ],
  [
    /immutable field '_id'/,
    () =>
      commandError(
        "ImmutableField",
        "Performing an update on the path '_id' would modify the immutable field '_id'",
      ),
  ],
  [/non-numeric argument/, (m) => commandError("TypeMismatch", m.input ?? "")],
];

/** Maps mingo's exceptions onto the codes mongod uses for the same mistakes. */
export function toCommandError(error: unknown): CommandError {
  if (error instanceof CommandError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof MingoError) {
    for (const [pattern, build] of MINGO_ERRORS) {
      const m = message.match(pattern);
      if (m) return build(m);
    }
  }
  return commandError("BadValue", message);
}

/** The stages mongod allows in an update pipeline. */
const UPDATE_PIPELINE_STAGES = new Set([
  "$addFields",
  "$set",
  "$project",
  "$unset",
  "$replaceRoot",
  "$replaceWith",
]);

/** Stages that never modify their input documents, so no defensive copy is needed. */
const READ_ONLY_STAGES = new Set([
  "$match",
  "$group",
  "$sort",
  "$limit",
  "$skip",
  "$count",
  "$sortByCount",
  "$bucket",
]);

const isReadOnlyStage = (stage: Document): boolean =>
  READ_ONLY_STAGES.has(Object.keys(stage)[0] ?? "");

type UpdateOperator = (
  expr: unknown,
  arrayFilters: Document[],
  options: PreparedOptions,
) => (doc: Document) => string[];

/** mingo's options object after it has prepared them (its ComputeOptions, not exported). */
interface PreparedOptions extends Options {
  readonly constructor: { init(options: PreparedOptions): PreparedOptions };
  update(locals: Record<string, unknown>): PreparedOptions;
}

const CAPTURE = "$__loopgatePreparedOptions";

/**
 * mingo copies every operator table of a plain options object on each Query and update
 * (Context.from + addOps: a fifth of a point write's time in the profile), but reuses prepared
 * options as they are. It prepares them only on the way to an operator, so the prepared form is
 * taken from inside one: an expression operator that exists only for this one evaluation.
 */
function prepareOptions(context: Context, options: Partial<Options>): PreparedOptions {
  let prepared: PreparedOptions | undefined;
  let capturing = true;
  const capture = Context.init({
    expression: {
      [CAPTURE]: (_obj: unknown, _expr: unknown, options: PreparedOptions) => {
        if (!capturing) {
          throw commandError("InvalidPipelineOperator", `Unrecognized expression '${CAPTURE}'`);
        }
        prepared = options;
        return null;
      },
    } as unknown as typeof expressionOperators,
  });
  evalExpr({}, { [CAPTURE]: 1 }, {
    ...options,
    context: Context.from(context, capture),
  } as Options);
  capturing = false;
  if (!prepared) throw new Error("mingo did not prepare its options");
  // The evaluation left its document as `$$ROOT`; an unset root makes every use bind its own.
  return prepared.constructor.init(prepared).update({ root: undefined });
}
const UPDATE_OPERATORS = updateOperators as unknown as Readonly<
  Record<string, UpdateOperator | undefined>
>;

/**
 * An operator update without positional paths or array filters whose paths do not overlap: the
 * operators can run one by one. Overlapping paths, unknown operators and the rest go through
 * mingo's updater, which reports them as mongod does.
 */
function isPlainUpdate(update: Document, arrayFilters: Document[] | undefined): boolean {
  if (arrayFilters && arrayFilters.length > 0) return false;
  const paths: string[] = [];
  for (const [op, expr] of Object.entries(update)) {
    if (!UPDATE_OPERATORS[op] || !isPlainObject(expr)) return false;
    for (const path of Object.keys(expr)) {
      if (path.includes("$")) return false;
      paths.push(path);
    }
    if (op === "$rename") {
      for (const to of Object.values(expr)) {
        if (typeof to !== "string") return false;
        paths.push(to);
      }
    }
  }
  for (let i = 0; i < paths.length; i++) {
    for (let j = i + 1; j < paths.length; j++) {
      const [a, b] = [paths[i]!, paths[j]!];
      if (a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`)) return false;
    }
  }
  return true;
}

export function createQueryEngine(): QueryEngine {
  const context = Context.init({
    accumulator: accumulatorOperators,
    expression: { ...expressionOperators, ...expressionOverrides } as typeof expressionOperators,
    pipeline: { ...pipelineOperators, ...pipelineOverrides } as typeof pipelineOperators,
    projection: {
      ...projectionOperators,
      $elemMatch: elemMatchProjection,
    } as typeof projectionOperators,
    query: { ...queryOperators, ...bsonQueryOperators } as typeof queryOperators,
    window: windowOperators,
  });
  const baseOptions = { context, useStrictMode: true, idKey: "_id" };
  const baseCompute = prepareOptions(context, { useStrictMode: true, idKey: "_id" });
  const updateCompute = baseCompute.constructor
    .init(baseCompute)
    .update({ updateConfig: { cloneMode: "deep" } });

  /** `let` values are expressions, evaluated once before the command runs (as mongod does). */
  const evaluateVariables = (variables: Document): Document => {
    const out: Document = {};
    for (const [name, expr] of Object.entries(variables)) {
      out[name] = evalExpr({}, expr, { ...baseOptions, variables: out } as Options);
    }
    return out;
  };

  const withFilterOptions = (options: FilterOptions | undefined) =>
    options?.variables || options?.collation
      ? {
          ...baseOptions,
          ...(options.variables ? { variables: evaluateVariables(options.variables) } : {}),
          ...(options.collation ? { collation: options.collation as Options["collation"] } : {}),
        }
      : baseOptions;

  const compileFilter = (filter: Document, options?: FilterOptions) => {
    try {
      const query = new Query(
        filter,
        options?.variables || options?.collation ? withFilterOptions(options) : baseCompute,
      );
      return (view: Document) => {
        try {
          return query.test(view);
        } catch (error) {
          return rethrow(error);
        }
      };
    } catch (error) {
      return rethrow(error);
    }
  };

  return {
    compileFilter,
    compileProjection(projection, filter) {
      try {
        // $project may delete nested fields of its input in place, and stored documents are
        // shared, so it always works on a copy.
        if (Object.keys(projection).some((k) => k.endsWith(".$"))) {
          // Only a Query carries the filter that the positional projection operator needs.
          const query = new Query(filter, baseCompute);
          return (view) => {
            try {
              return (query.find([cloneDeep(view)], projection).all()[0] as Document) ?? {};
            } catch (error) {
              return rethrow(error);
            }
          };
        }
        return (view) => {
          try {
            const out = pipelineOperators
              .$project(Lazy([cloneDeep(view)]), projection, baseCompute)
              .collect() as Document[];
            return out[0] ?? {};
          } catch (error) {
            return rethrow(error);
          }
        };
      } catch (error) {
        return rethrow(error);
      }
    },
    applyUpdate(view, update, { arrayFilters, filter, variables }) {
      try {
        if (Array.isArray(update)) {
          // An update pipeline is an aggregation over the one document (as in mongod), limited
          // to the stages that reshape a document.
          for (const stage of update) {
            const name = Object.keys(stage)[0] ?? "";
            if (!UPDATE_PIPELINE_STAGES.has(name)) {
              throw commandError(
                "InvalidOptions",
                `${name} is not allowed to be used within an update`,
              );
            }
          }
          const out = new Aggregator(update, {
            ...withFilterOptions({ variables }),
            processingMode: ProcessingMode.CLONE_INPUT,
          }).run([view]) as Document[];
          const result = out[0];
          if (!isPlainObject(result))
            throw commandError("BadValue", "the update pipeline produced no document");
          // A result without `_id` keeps the document's own, first (mongod does the same).
          if (result._id === undefined && view._id !== undefined) {
            return { _id: view._id, ...result };
          }
          return result;
        }
        const doc = cloneDeep(view) as Document;
        if (isPlainUpdate(update, arrayFilters)) {
          // The operators themselves, as mingo's updater applies them (in the document's order),
          // without its per-call setup; anything else goes through the updater below.
          for (const [op, expr] of Object.entries(update)) {
            UPDATE_OPERATORS[op]!(expr, [], updateCompute)(doc);
          }
          return doc;
        }
        mingoUpdate(doc, update, arrayFilters ?? [], filter, {
          cloneMode: "deep",
          queryOptions: baseOptions,
        });
        return doc;
      } catch (error) {
        return rethrow(error);
      }
    },
    evaluate(expr, view) {
      try {
        return evalExpr(view, expr, baseCompute);
      } catch (error) {
        return rethrow(error);
      }
    },
    aggregate(input, pipeline, { resolveCollection, variables, collation }) {
      try {
        const aggregator = new Aggregator(pipeline, {
          ...baseOptions,
          // Some stages modify nested objects of their input in place; inputs are stored documents.
          processingMode: pipeline.every(isReadOnlyStage)
            ? ProcessingMode.CLONE_OFF
            : ProcessingMode.CLONE_INPUT,
          collectionResolver: (name: string) => resolveCollection(name).map((d) => cloneDeep(d)),
          ...(variables ? { variables: evaluateVariables(variables) } : {}),
          ...(collation ? { collation: collation as Options["collation"] } : {}),
        });
        return aggregator.run(input) as Document[];
      } catch (error) {
        return rethrow(error);
      }
    },
  };
}
