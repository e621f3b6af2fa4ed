import type { GraphQLField, GraphQLInputObjectType, GraphQLObjectType } from "graphql";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { type FeedbackFilter, feedbackQuery } from "../../src/feedback/filter.js";
import {
  type IncidentFilter,
  incidentQuery,
  type RetrainingRequestFilter,
  retrainingRequestQuery,
} from "../../src/integrations/alerts/records.js";
import { type InteractionFilter, interactionQuery } from "../../src/interactions/filter.js";
import { buildSchema } from "../../src/resolvers/index.js";
import { connectStore } from "../../src/store/mongo.js";
import {
  collectionNames,
  type IndexDeclaration,
  indexDeclarations,
} from "../../src/store/schema.js";
import { recordInteraction, useTestApp } from "../support/app.js";
import { uniqueDbName } from "../support/mongo.js";

/**
 * Every filter the services build must be served by an index declared in src/store/schema.ts:
 * each field path a query can test must lead some index of its collection, or follow in one only
 * keys that the same query also tests (model.version after model.id). A filter added without an
 * index fails here.
 */

type CollectionName = keyof typeof indexDeclarations;

/**
 * The query as alternatives of conjunctions (its disjunctive normal form, paths only): each
 * alternative lists the paths that hold together. Operators on a field ($in, $gte, …) add no
 * paths; other top-level operators ($text, $expr, $where, …) appear as they are.
 */
function conjunctions(query: unknown): string[][] {
  if (query === null || typeof query !== "object") return [[]];
  let alternatives: string[][] = [[]];
  const and = (branches: string[][]) => {
    alternatives = alternatives.flatMap((left) => branches.map((right) => [...left, ...right]));
  };
  for (const [name, value] of Object.entries(query)) {
    if (name === "$and") {
      for (const clause of value as unknown[]) and(conjunctions(clause));
    } else if (name === "$or" || name === "$nor") {
      and((value as unknown[]).flatMap((clause) => conjunctions(clause)));
    } else {
      and([[name]]);
    }
  }
  return alternatives;
}

const fieldPaths = (query: unknown) => [...new Set(conjunctions(query).flat())];

/** Paths no declared index serves (`_id` is always indexed; `$text` needs a text index). */
function unindexed(collection: CollectionName, query: unknown): string[] {
  const declared: readonly IndexDeclaration[] = indexDeclarations[collection];
  const isText = (index: IndexDeclaration) => Object.values(index.key).includes("text");
  const served = (path: string, together: readonly string[]) => {
    if (path === "_id") return true;
    if (path === "$text") return declared.some(isText);
    // A text index does not serve equality or ranges on its fields.
    return declared.some((index) => {
      if (isText(index)) return false;
      const keys = Object.keys(index.key);
      const position = keys.indexOf(path);
      return position >= 0 && keys.slice(0, position).every((key) => together.includes(key));
    });
  };
  const missing = conjunctions(query).flatMap((together) =>
    together.filter((path) => !served(path, together)),
  );
  return [...new Set(missing)];
}

/** Every InteractionFilter field set. `Required` makes tsc fail when a field is added. */
const everyInteractionFilter: Required<InteractionFilter> = {
  createdAt: { from: new Date("2025-01-01T00:00:00Z"), to: new Date("2025-02-01T00:00:00Z") },
  modelId: "support-bot",
  modelVersion: "v1",
  sessionId: "session-1",
  userId: "u_0123456789abcdef0123456789abcdef",
  traceRunId: "run-1",
  hasCorrection: true,
  flagged: true,
  search: "password",
};

const everyFeedbackFilter: Required<FeedbackFilter> = {
  createdAt: { from: new Date("2025-01-01T00:00:00Z"), to: new Date("2025-02-01T00:00:00Z") },
  modelId: "support-bot",
  modelVersion: "v1",
  interactionId: "0123456789abcdef01234567",
  kinds: ["binary", "rating"],
  keys: ["thumbs"],
  sentiments: ["negative"],
  sources: ["user", "expert"],
  annotatorId: "expert-1",
  sessionId: "session-1",
  userId: "u_0123456789abcdef0123456789abcdef",
  ratingMin: 1,
  ratingMax: 3,
  categories: ["accuracy"],
  flagCategories: ["safety"],
  hasCorrection: false,
  flagged: false,
  search: "refund",
  includeSuperseded: false,
};

/** Each field alone, both values of each boolean, and all fields together. */
function variants<Filter extends object>(every: Filter): Array<Partial<Filter>> {
  const out: Array<Partial<Filter>> = [{}, every];
  for (const [name, value] of Object.entries(every)) {
    if (typeof value === "boolean") {
      out.push({ [name]: true } as Partial<Filter>, { [name]: false } as Partial<Filter>);
      out.push({ ...every, [name]: !value });
    } else {
      out.push({ [name]: value } as Partial<Filter>);
    }
  }
  return out;
}

const graphQLSchema = buildSchema();
const inputFields = (name: string) =>
  Object.keys((graphQLSchema.getType(name) as GraphQLInputObjectType).getFields()).sort();
const PAGE_ARGS = ["first", "after", "last", "before"];

describe("every filter field is served by a declared index (static)", () => {
  it("covers every field of the GraphQL filter inputs", () => {
    // A filter added to the API but not to the lists above would escape the checks below.
    expect(Object.keys(everyInteractionFilter).sort()).toEqual(inputFields("InteractionFilter"));
    expect(Object.keys(everyFeedbackFilter).sort()).toEqual(inputFields("FeedbackFilter"));
  });

  it("interactionQuery: every field path it can produce, with every filter set, is indexed", () => {
    const produced = new Set<string>();
    const offending: Array<{ filter: object; unindexed: string[] }> = [];
    for (const filter of variants(everyInteractionFilter)) {
      const query = interactionQuery(filter);
      for (const path of fieldPaths(query)) produced.add(path);
      const missing = unindexed("interactions", query);
      if (missing.length > 0) offending.push({ filter, unindexed: missing });
    }
    expect(offending).toEqual([]);
    // The check saw what it is meant to see.
    expect([...produced].sort()).toEqual([
      "$text",
      "createdAt",
      "feedbackSummary.flagged",
      "feedbackSummary.hasCorrection",
      "model.id",
      "model.version",
      "sessionId",
      "trace.runId",
      "userId",
    ]);
  });

  it("feedbackQuery: every field path it can produce, with every filter set, is indexed", () => {
    const produced = new Set<string>();
    const offending: Array<{ filter: object; unindexed: string[] }> = [];
    for (const filter of variants(everyFeedbackFilter)) {
      const query = feedbackQuery(filter);
      for (const path of fieldPaths(query)) produced.add(path);
      const missing = unindexed("feedback", query);
      if (missing.length > 0) offending.push({ filter, unindexed: missing });
    }
    expect(offending).toEqual([]);
    expect([...produced].sort()).toEqual([
      "annotatorId",
      "category",
      "createdAt",
      "flag.category",
      "interactionIds",
      "key",
      "kind",
      "model.id",
      "model.version",
      "rating.score",
      "sentiment",
      "sessionId",
      "source",
      "status",
      "userId",
    ]);
  });

  it("alert records: every listing filter of retraining requests and incidents is indexed", () => {
    const requests = variants<Required<RetrainingRequestFilter>>({
      state: "requested",
      action: "retrain",
      modelId: "support-bot",
    });
    for (const filter of requests) {
      expect(
        unindexed("retrainingRequests", retrainingRequestQuery(filter)),
        JSON.stringify(filter),
      ).toEqual([]);
    }
    for (const filter of variants<Required<IncidentFilter>>({ status: "firing", modelId: "a" })) {
      expect(unindexed("incidents", incidentQuery(filter)), JSON.stringify(filter)).toEqual([]);
    }
  });

  it("reports a path no index serves (the check can fail)", () => {
    const search = { $search: "y" };
    expect(unindexed("feedback", { comment: "x", kind: "flag", _id: 1, $text: search })).toEqual([
      "comment",
    ]);
    expect(unindexed("conflicts", { $text: search, status: "open" })).toEqual(["$text"]);
    // The second key of a compound index only counts when the query also tests the first.
    expect(unindexed("interactions", { "model.id": "a", "model.version": "b" })).toEqual([]);
    expect(
      unindexed("conflicts", { $or: [{ "model.id": "a" }, { detectedAt: 1, _id: 2 }] }),
    ).toEqual([]);
    expect(unindexed("feedback", { $or: [{ "model.id": "a" }, { "flag.severity": "b" }] })).toEqual(
      ["flag.severity"],
    );
  });
});

describe("the queries the listings and aggregates send", () => {
  const testApp = useTestApp();
  let interactionId = "";
  const cursors: Record<string, string> = {};

  beforeAll(async () => {
    const { id } = await recordInteraction(testApp, { idempotencyKey: "index-check-1" });
    interactionId = id;
    // A user's thumbs up against an expert's thumbs down: one conflict to page over.
    for (const input of [
      { positive: true },
      { positive: false, source: "EXPERT", annotatorId: "expert-1" },
    ]) {
      const result = await testApp.gql(
        "mutation($input: BinaryFeedbackInput!) { submitBinaryFeedback(input: $input) { __typename } }",
        { input: { interactionId: id, ...input } },
      );
      expect(result.data?.submitBinaryFeedback.__typename).toBe("SubmitFeedbackPayload");
    }
    // The conflict is opened after the answers (feedback/outbox.ts): let that finish first.
    await testApp.services.outbox.drain();
    const first = await testApp.gql(
      "{ interactions(first: 1) { pageInfo { endCursor } } feedback(first: 1) { pageInfo { endCursor } } conflicts(first: 1) { pageInfo { endCursor } } }",
    );
    cursors.interactions = first.data?.interactions.pageInfo.endCursor;
    cursors.feedback = first.data?.feedback.pageInfo.endCursor;
    cursors.conflicts = first.data?.conflicts.pageInfo.endCursor;
    expect(Object.values(cursors).every(Boolean)).toBe(true);
  });

  /** Runs an operation and returns the filters of the finds (and first $match stages) it sent. */
  async function sentFilters(
    document: string,
    variables: Record<string, unknown>,
  ): Promise<Array<{ collection: string; filter: unknown }>> {
    const start = testApp.commands.length;
    const result = await testApp.gql(document, variables);
    expect(result.errors).toBeUndefined();
    return testApp.commands.slice(start).flatMap((event) => {
      const command = event.command as Record<string, unknown>;
      if (event.commandName === "find") {
        return [{ collection: String(command.find), filter: command.filter ?? {} }];
      }
      if (event.commandName === "aggregate") {
        const [stage] = command.pipeline as Array<Record<string, unknown>>;
        return stage && "$match" in stage
          ? [{ collection: String(command.aggregate), filter: stage.$match }]
          : [];
      }
      return [];
    });
  }

  /** Every query sent is indexed, whatever its collection (API keys too); `collections` were hit. */
  function expectIndexed(
    sent: Array<{ collection: string; filter: unknown }>,
    collections: string[],
  ) {
    const hit = new Set(sent.map((query) => query.collection));
    for (const collection of collections) expect(hit).toContain(collection);
    for (const { collection, filter } of sent) {
      expect(Object.keys(indexDeclarations)).toContain(collection);
      expect({
        collection,
        filter,
        unindexed: unindexed(collection as CollectionName, filter),
      }).toEqual({ collection, filter, unindexed: [] });
    }
  }

  const graphQLInteractionFilter = {
    createdAt: { from: "2020-01-01T00:00:00Z", to: "2100-01-01T00:00:00Z" },
    modelId: "support-bot",
    modelVersion: "v1",
    sessionId: "session-1",
    userId: "u_0123456789abcdef0123456789abcdef",
    traceRunId: "run-1",
    hasCorrection: false,
    flagged: false,
    search: "password",
  };
  const graphQLFeedbackFilter = () => ({
    createdAt: { from: "2020-01-01T00:00:00Z", to: "2100-01-01T00:00:00Z" },
    modelId: "support-bot",
    modelVersion: "v1",
    interactionId,
    kinds: ["BINARY", "RATING"],
    keys: ["thumbs"],
    sentiments: ["NEGATIVE"],
    sources: ["USER", "EXPERT"],
    annotatorId: "expert-1",
    sessionId: "session-1",
    userId: "u_0123456789abcdef0123456789abcdef",
    ratingMin: 1,
    ratingMax: 3,
    categories: ["ACCURACY"],
    flagCategories: ["SAFETY"],
    hasCorrection: false,
    flagged: false,
    search: "password",
    includeSuperseded: false,
  });

  it("interactions: every filter set, paged both ways", async () => {
    expect(Object.keys(graphQLInteractionFilter).sort()).toEqual(inputFields("InteractionFilter"));
    for (const page of [
      { first: 5, after: cursors.interactions },
      { last: 5, before: cursors.interactions },
    ]) {
      const sent = await sentFilters(
        "query($filter: InteractionFilter, $first: Int, $after: String, $last: Int, $before: String) { interactions(filter: $filter, first: $first, after: $after, last: $last, before: $before) { totalCount edges { cursor } } }",
        { filter: graphQLInteractionFilter, ...page },
      );
      expectIndexed(sent, ["interactions"]);
    }
  });

  it("feedback: every filter set (search resolved to ids), paged both ways", async () => {
    expect(Object.keys(graphQLFeedbackFilter()).sort()).toEqual(inputFields("FeedbackFilter"));
    for (const page of [
      { first: 5, after: cursors.feedback },
      { last: 5, before: cursors.feedback },
    ]) {
      const sent = await sentFilters(
        "query($filter: FeedbackFilter, $first: Int, $after: String, $last: Int, $before: String) { feedback(filter: $filter, first: $first, after: $after, last: $last, before: $before) { totalCount edges { cursor } } }",
        { filter: graphQLFeedbackFilter(), ...page },
      );
      expectIndexed(sent, ["feedback", "interactions"]);
    }
  });

  it("conflicts: every argument set, paged both ways", async () => {
    const field = (graphQLSchema.getType("Query") as GraphQLObjectType).getFields()
      .conflicts as GraphQLField<unknown, unknown>;
    const filterArgs = field.args
      .map((arg) => arg.name)
      .filter((name) => !PAGE_ARGS.includes(name));
    expect(filterArgs.sort()).toEqual(["modelId", "status"]);
    for (const page of [
      { first: 5, after: cursors.conflicts },
      { last: 5, before: cursors.conflicts },
    ]) {
      for (const args of [
        {},
        { status: "OPEN" },
        { modelId: "support-bot" },
        { status: "RESOLVED", modelId: "support-bot" },
      ]) {
        const sent = await sentFilters(
          "query($status: ConflictStatus, $modelId: String, $first: Int, $after: String, $last: Int, $before: String) { conflicts(status: $status, modelId: $modelId, first: $first, after: $after, last: $last, before: $before) { totalCount edges { cursor } } }",
          { ...args, ...page },
        );
        expectIndexed(sent, ["conflicts"]);
      }
    }
  });

  it("aggregates: the $match of every stats and series pipeline, every filter set", async () => {
    const filter = graphQLFeedbackFilter();
    const sent = [
      ...(await sentFilters(
        "query($filter: FeedbackFilter) { feedbackStats(filter: $filter, groupBy: MODEL_VERSION) { overall { feedbackCount } } }",
        { filter },
      )),
      ...(await sentFilters(
        "query($filter: FeedbackFilter) { feedbackTimeSeries(filter: $filter, interval: WEEK) { start } }",
        {
          filter: {
            ...filter,
            createdAt: { from: "2025-01-01T00:00:00Z", to: "2025-02-01T00:00:00Z" },
          },
        },
      )),
    ];
    expectIndexed(sent, ["feedback", "interactions"]);
    expect(
      sent.some(({ filter: match }) => fieldPaths(match).includes("interactionCreatedAt")),
    ).toBe(true);
  });
});

describe("ensureIndexes", () => {
  it("creates every declared index, as declared, and is safe to run again", async () => {
    const store = await connectStore({ uri: inject("mongoUri"), dbName: uniqueDbName("indexes") });
    try {
      await store.ensureIndexes();
      await store.ensureIndexes();
      for (const name of collectionNames) {
        const declared = indexDeclarations[name];
        if (declared.length === 0) continue;
        const listed = await store.db.collection(name).listIndexes().toArray();
        expect(listed.map((index) => index.name).sort()).toEqual(
          ["_id_", ...declared.map((index) => index.name)].sort(),
        );
        for (const index of declared) {
          const found = listed.find((candidate) => candidate.name === index.name);
          const textFields = Object.entries(index.key)
            .filter(([, kind]) => kind === "text")
            .map(([field]) => field);
          if (textFields.length > 0) {
            // A text index is listed as { _fts, _ftsx } with its fields as weights.
            const weights = index.weights ?? {};
            expect({
              name: index.name,
              weights: found?.weights,
              language: found?.default_language,
            }).toEqual({
              name: index.name,
              weights: Object.fromEntries(textFields.map((field) => [field, weights[field] ?? 1])),
              language: index.default_language ?? "english",
            });
          } else {
            // Compared as entries: the order of a compound key is part of the index.
            expect({ name: index.name, key: Object.entries(found?.key ?? {}) }).toEqual({
              name: index.name,
              key: Object.entries(index.key),
            });
          }
          expect({
            name: index.name,
            unique: found?.unique ?? false,
            sparse: found?.sparse ?? false,
          }).toEqual({
            name: index.name,
            unique: index.unique ?? false,
            sparse: index.sparse ?? false,
          });
        }
      }
    } finally {
      await store.db.dropDatabase();
      await store.close();
    }
  });
});
