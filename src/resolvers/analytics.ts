import {
  FeedbackStatsType,
  StatsGroupByEnum,
  TimeBucketType,
  TimeIntervalEnum,
  VersionComparisonType,
} from "../schema/analytics.js";
import { builder } from "../schema/builder.js";

import { FeedbackFilterInput } from "../schema/feedback.js";
import { toFeedbackFilter } from "./feedback.js";

builder.queryFields((t) => ({
  feedbackStats: t.field({
    type: FeedbackStatsType,
    authScopes: { read: true },
    description:
      "Aggregates over any feedback filter: counts per kind, positive-feedback rate, average rating, correction, safety-flag and collection rates, optionally grouped.",
    args: {
      filter: t.arg({
        type: FeedbackFilterInput,
        description: "Which feedback (and interactions) to count.",
      }),
      groupBy: t.arg({
        type: StatsGroupByEnum,
        defaultValue: "none",
        description: "How to split the rows.",
      }),
    },
    resolve: (_root, args, context) =>
      context.services.analytics.stats(toFeedbackFilter(args.filter), args.groupBy ?? "none"),
  }),
  feedbackTimeSeries: t.field({
    type: [TimeBucketType],
    authScopes: { read: true },
    description:
      "The same metrics per hour, day or week (UTC). With both ends of filter.createdAt given, empty buckets are included.",
    args: {
      filter: t.arg({
        type: FeedbackFilterInput,
        description: "Which feedback (and interactions) to count.",
      }),
      interval: t.arg({
        type: TimeIntervalEnum,
        defaultValue: "day",
        description: "Bucket width.",
      }),
    },
    resolve: (_root, args, context) =>
      context.services.analytics.timeSeries(toFeedbackFilter(args.filter), args.interval ?? "day"),
  }),
  compareModelVersions: t.field({
    type: VersionComparisonType,
    authScopes: { read: true },
    description:
      "Compares two versions of a model: their metrics, the difference in positive-feedback rate and whether it is statistically significant.",
    args: {
      modelId: t.arg.string({
        required: true,
        description: "The model whose versions are compared.",
      }),
      baselineVersion: t.arg.string({ required: true, description: "The version in production." }),
      candidateVersion: t.arg.string({
        required: true,
        description: "The version being evaluated.",
      }),
      filter: t.arg({
        type: FeedbackFilterInput,
        description: "Further conditions (time range, source, …).",
      }),
      confidenceLevel: t.arg.float({
        defaultValue: 0.95,
        description: "Confidence level of the test.",
      }),
    },
    resolve: (_root, args, context) =>
      context.services.analytics.compareVersions({
        modelId: args.modelId,
        baselineVersion: args.baselineVersion,
        candidateVersion: args.candidateVersion,
        filter: toFeedbackFilter(args.filter),
        confidenceLevel: args.confidenceLevel ?? null,
      }),
  }),
}));
