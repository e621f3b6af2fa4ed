import type {
  StatsBucket,
  StatsGroup,
  TimeBucket,
  VersionComparison,
} from "../analytics/service.js";
import { statsGroupings, timeIntervals } from "../analytics/service.js";
import {
  type FailureCategory,
  type FeedbackKind,
  type FeedbackSource,
  feedbackKinds,
  type Sentiment,
} from "../store/documents.js";
import { builder } from "./builder.js";
import { enumOf } from "./common.js";
import {
  FailureCategoryEnum,
  FeedbackKindEnum,
  FeedbackSourceEnum,
  SentimentEnum,
} from "./feedback.js";

export const StatsGroupByEnum = enumOf(
  "StatsGroupBy",
  "How to split aggregates.",
  Object.fromEntries(
    statsGroupings.map((grouping) => [
      grouping,
      {
        none: "No split: only the overall row.",
        model_version: "Per model id and version (interaction rates included).",
        key: "Per feedback key.",
        source: "Per feedback source.",
        kind: "Per feedback kind.",
        category: "Per failure category (null for uncategorized).",
        sentiment: "Per derived sentiment.",
      }[grouping],
    ]),
  ) as Record<(typeof statsGroupings)[number], string>,
);

export const TimeIntervalEnum = enumOf(
  "TimeInterval",
  "Bucket width of a time series (UTC; weeks start on Monday).",
  Object.fromEntries(
    timeIntervals.map((interval) => [interval, `One bucket per ${interval}.`]),
  ) as Record<(typeof timeIntervals)[number], string>,
);

const KindCountType = builder
  .objectRef<{ kind: FeedbackKind; count: number }>("KindCount")
  .implement({
    description: "How many feedback items of one kind.",
    fields: (t) => ({
      kind: t.field({
        type: FeedbackKindEnum,
        description: "The kind.",
        resolve: (row) => row.kind,
      }),
      count: t.exposeInt("count", { description: "How many." }),
    }),
  });

const StatsGroupType = builder.objectRef<StatsGroup>("StatsGroup").implement({
  description: "The values that define a row of a grouped aggregate; unused dimensions are null.",
  fields: (t) => ({
    modelId: t.exposeString("modelId", {
      nullable: true,
      description: "Model id (MODEL_VERSION grouping).",
    }),
    modelVersion: t.exposeString("modelVersion", { nullable: true, description: "Model version." }),
    key: t.exposeString("key", { nullable: true, description: "Feedback key (KEY grouping)." }),
    source: t.field({
      type: FeedbackSourceEnum,
      nullable: true,
      description: "Feedback source (SOURCE grouping).",
      resolve: (group) => (group.source as FeedbackSource | undefined) ?? null,
    }),
    kind: t.field({
      type: FeedbackKindEnum,
      nullable: true,
      description: "Feedback kind (KIND grouping).",
      resolve: (group) => (group.kind as FeedbackKind | undefined) ?? null,
    }),
    category: t.field({
      type: FailureCategoryEnum,
      nullable: true,
      description: "Failure category (CATEGORY grouping; null for uncategorized feedback).",
      resolve: (group) => (group.category as FailureCategory | undefined) ?? null,
    }),
    sentiment: t.field({
      type: SentimentEnum,
      nullable: true,
      description: "Sentiment (SENTIMENT grouping).",
      resolve: (group) => (group.sentiment as Sentiment | undefined) ?? null,
    }),
  }),
});

export const StatsBucketInterface = builder.interfaceRef<StatsBucket>("FeedbackMetrics").implement({
  description:
    "Feedback metrics of one slice. Feedback counts use feedback given in the time range; the interaction rates (collection, correction, safety flag) use interactions created in the range and the per-answer feedback they received, and are null where a group has no interactions (key, source, kind, category, sentiment groupings).",
  fields: (t) => ({
    feedbackCount: t.exposeInt("feedbackCount", { description: "Active feedback items." }),
    countsByKind: t.field({
      type: [KindCountType],
      description: "Feedback items per kind.",
      resolve: (bucket) =>
        feedbackKinds.map((kind) => ({ kind, count: bucket.countsByKind[kind] })),
    }),
    positive: t.exposeInt("positive", {
      description: "Items with positive sentiment (all kinds).",
    }),
    negative: t.exposeInt("negative", {
      description: "Items with negative sentiment (all kinds).",
    }),
    neutral: t.exposeInt("neutral", { description: "Items with neutral sentiment (all kinds)." }),
    judgementCount: t.exposeInt("judgementCount", {
      description: "Binary and rating feedback: the explicit judgements behind positiveRate.",
    }),
    positiveRate: t.exposeFloat("positiveRate", {
      nullable: true,
      description: "Share of judgements that are positive (seed target > 80%, alert below 70%).",
    }),
    ratingCount: t.exposeInt("ratingCount", { description: "Ratings." }),
    averageRating: t.exposeFloat("averageRating", {
      nullable: true,
      description:
        "Mean score of the ratings, on their own scales (group by KEY when keys differ).",
    }),
    averageNormalizedRating: t.exposeFloat("averageNormalizedRating", {
      nullable: true,
      description: "Mean rating on a 0 (worst) … 1 (best) scale, comparable across keys.",
    }),
    correctionCount: t.exposeInt("correctionCount", { description: "Corrections." }),
    flagCount: t.exposeInt("flagCount", { description: "Flags of any category." }),
    safetyFlagCount: t.exposeInt("safetyFlagCount", { description: "Safety flags." }),
    interactionCount: t.exposeInt("interactionCount", {
      nullable: true,
      description: "Interactions created in the range.",
    }),
    interactionsWithFeedback: t.exposeInt("interactionsWithFeedback", {
      nullable: true,
      description: "Of those, how many received matching per-answer feedback.",
    }),
    collectionRate: t.exposeFloat("collectionRate", {
      nullable: true,
      description:
        "interactionsWithFeedback / interactionCount (seed target > 15%, alert below 5%).",
    }),
    correctionRate: t.exposeFloat("correctionRate", {
      nullable: true,
      description:
        "Share of interactions that were corrected (seed target < 10%, alert above 20%).",
    }),
    safetyFlagRate: t.exposeFloat("safetyFlagRate", {
      nullable: true,
      description:
        "Share of interactions flagged for safety (seed target < 0.1%, alert above 0.5%).",
    }),
  }),
});

export const StatsRowType = builder.objectRef<StatsBucket>("StatsRow").implement({
  description: "Metrics of one group.",
  interfaces: [StatsBucketInterface],
  isTypeOf: (value) =>
    typeof value === "object" && value !== null && "group" in value && !("start" in value),
  fields: (t) => ({
    group: t.field({
      type: StatsGroupType,
      description: "What this row is about.",
      resolve: (row) => row.group,
    }),
  }),
});

export const FeedbackStatsType = builder
  .objectRef<{ overall: StatsBucket; groups: StatsBucket[] }>("FeedbackStats")
  .implement({
    description: "Aggregates over a filter: one overall row and, when grouped, one row per group.",
    fields: (t) => ({
      overall: t.field({
        type: StatsRowType,
        description: "All matching feedback together.",
        resolve: (stats) => stats.overall,
      }),
      groups: t.field({
        type: [StatsRowType],
        description: "One row per group, largest first; empty without groupBy.",
        resolve: (stats) => stats.groups,
      }),
    }),
  });

export const TimeBucketType = builder.objectRef<TimeBucket>("TimeBucket").implement({
  description: "Metrics of one time bucket.",
  interfaces: [StatsBucketInterface],
  isTypeOf: (value) => typeof value === "object" && value !== null && "start" in value,
  fields: (t) => ({
    start: t.expose("start", { type: "DateTime", description: "Bucket start (inclusive, UTC)." }),
    end: t.expose("end", { type: "DateTime", description: "Bucket end (exclusive, UTC)." }),
  }),
});

export const VersionComparisonType = builder
  .objectRef<VersionComparison>("ModelVersionComparison")
  .implement({
    description:
      "Two model versions side by side, with a two-sided two-proportion z-test on their positive-feedback rates.",
    fields: (t) => ({
      modelId: t.exposeString("modelId", {
        nullable: true,
        description: "The model compared, if one was named.",
      }),
      baseline: t.field({
        type: StatsRowType,
        description: "Metrics of the baseline version.",
        resolve: (c) => c.baseline,
      }),
      candidate: t.field({
        type: StatsRowType,
        description: "Metrics of the candidate version.",
        resolve: (c) => c.candidate,
      }),
      positiveRateDifference: t.exposeFloat("positiveRateDifference", {
        nullable: true,
        description: "Candidate minus baseline positive rate (0.05 = five points better).",
      }),
      zScore: t.exposeFloat("zScore", {
        nullable: true,
        description: "The test statistic (pooled standard error).",
      }),
      pValue: t.exposeFloat("pValue", { nullable: true, description: "Two-sided p-value." }),
      confidenceLevel: t.exposeFloat("confidenceLevel", {
        description: "Confidence level used (default 0.95).",
      }),
      differenceLow: t.exposeFloat("differenceLow", {
        nullable: true,
        description: "Lower bound of the confidence interval for the difference.",
      }),
      differenceHigh: t.exposeFloat("differenceHigh", {
        nullable: true,
        description: "Upper bound of the confidence interval for the difference.",
      }),
      significant: t.exposeBoolean("significant", { description: "pValue < 1 − confidenceLevel." }),
      sufficientData: t.exposeBoolean("sufficientData", {
        description:
          "Both versions have at least 30 judgements; below that, treat the test with caution.",
      }),
    }),
  });
