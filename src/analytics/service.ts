import type { Document, Filter } from "mongodb";
import { ValidationError } from "../errors.js";
import {
  type CompiledFeedbackFilter,
  compileFeedbackFilter,
  type FeedbackFilter,
  resolveFeedbackMatch,
} from "../feedback/filter.js";
import { judgementKinds } from "../feedback/sentiment.js";
import { type FeedbackDoc, type FeedbackKind, feedbackKinds } from "../store/documents.js";
import type { Collections } from "../store/mongo.js";
import { type ProportionTest, twoProportionTest } from "./statistics.js";

export const statsGroupings = [
  "none",
  "model_version",
  "key",
  "source",
  "kind",
  "category",
  "sentiment",
] as const;
export type StatsGroupBy = (typeof statsGroupings)[number];

export const timeIntervals = ["hour", "day", "week"] as const;
export type TimeInterval = (typeof timeIntervals)[number];

export interface StatsGroup {
  readonly modelId?: string | null;
  readonly modelVersion?: string | null;
  readonly key?: string | null;
  readonly source?: string | null;
  readonly kind?: string | null;
  readonly category?: string | null;
  readonly sentiment?: string | null;
}

/**
 * One row of metrics. Feedback metrics count feedback created in the time range; the
 * interaction rates (collection, correction, safety flag) count interactions created in the
 * range and the feedback they received, so a rate never exceeds 100%. Interaction rates exist
 * only where an interaction belongs to the group (overall, per model version, per time bucket).
 */
export interface StatsBucket {
  readonly group: StatsGroup;
  readonly feedbackCount: number;
  readonly countsByKind: Readonly<Record<FeedbackKind, number>>;
  readonly positive: number;
  readonly negative: number;
  readonly neutral: number;
  /** Binary and rating feedback: the explicit judgements the positive rate is computed from. */
  readonly judgementCount: number;
  readonly judgementPositive: number;
  readonly positiveRate: number | null;
  readonly ratingCount: number;
  readonly averageRating: number | null;
  /** Average rating on a 0–1 scale (worst to best), comparable across keys with other scales. */
  readonly averageNormalizedRating: number | null;
  readonly correctionCount: number;
  readonly flagCount: number;
  readonly safetyFlagCount: number;
  readonly interactionCount: number | null;
  readonly interactionsWithFeedback: number | null;
  readonly collectionRate: number | null;
  readonly correctionRate: number | null;
  readonly safetyFlagRate: number | null;
}

export interface TimeBucket extends StatsBucket {
  readonly start: Date;
  readonly end: Date;
}

export interface VersionComparison extends ProportionTest {
  readonly modelId: string | null;
  readonly baseline: StatsBucket;
  readonly candidate: StatsBucket;
  readonly confidenceLevel: number;
  /** Each side has at least MIN_SAMPLE judgements; below that the test says little. */
  readonly sufficientData: boolean;
}

export interface AnalyticsService {
  stats(
    filter: FeedbackFilter,
    groupBy: StatsGroupBy,
  ): Promise<{ overall: StatsBucket; groups: StatsBucket[] }>;
  timeSeries(filter: FeedbackFilter, interval: TimeInterval): Promise<TimeBucket[]>;
  compareVersions(input: {
    modelId: string;
    baselineVersion: string;
    candidateVersion: string;
    filter?: FeedbackFilter;
    confidenceLevel?: number | null;
  }): Promise<VersionComparison>;
}

export const MIN_SAMPLE = 30;
/** Gap-filling a series stops here, so a year of hourly buckets cannot be requested by accident. */
export const MAX_TIME_BUCKETS = 2_000;

const intervalMs: Record<TimeInterval, number> = {
  hour: 3_600_000,
  day: 86_400_000,
  week: 7 * 86_400_000,
};

const groupFields: Record<Exclude<StatsGroupBy, "none">, Record<string, string>> = {
  model_version: { modelId: "$model.id", modelVersion: "$model.version" },
  key: { key: "$key" },
  source: { source: "$source" },
  kind: { kind: "$kind" },
  category: { category: "$category" },
  sentiment: { sentiment: "$sentiment" },
};

const countIf = (condition: Document) => ({ $sum: { $cond: [condition, 1, 0] } });
const isKind = (kind: FeedbackKind) => ({ $eq: ["$kind", kind] });
const isJudgement = { $in: ["$kind", [...judgementKinds]] };

/** Every feedback metric in one $group stage. */
function feedbackAccumulators(): Document {
  return {
    feedbackCount: { $sum: 1 },
    ...Object.fromEntries(feedbackKinds.map((kind) => [`kind_${kind}`, countIf(isKind(kind))])),
    positive: countIf({ $eq: ["$sentiment", "positive"] }),
    negative: countIf({ $eq: ["$sentiment", "negative"] }),
    neutral: countIf({ $eq: ["$sentiment", "neutral"] }),
    judgementCount: countIf(isJudgement),
    judgementPositive: countIf({ $and: [isJudgement, { $eq: ["$sentiment", "positive"] }] }),
    ratingCount: countIf(isKind("rating")),
    ratingSum: { $sum: { $cond: [isKind("rating"), "$rating.score", 0] } },
    normalizedSum: { $sum: { $cond: [isKind("rating"), "$rating.normalized", 0] } },
    safetyFlagCount: countIf({ $and: [isKind("flag"), { $eq: ["$flag.category", "safety"] }] }),
  };
}

const ratio = (part: number, whole: number | null | undefined) => (whole ? part / whole : null);

interface InteractionRates {
  interactionCount: number;
  interactionsWithFeedback: number;
  corrected: number;
  safetyFlagged: number;
}

function toBucket(
  group: StatsGroup,
  row: Document | undefined,
  rates: InteractionRates | null,
): StatsBucket {
  const value = (name: string) => (row?.[name] as number | undefined) ?? 0;
  const ratingCount = value("ratingCount");
  return {
    group,
    feedbackCount: value("feedbackCount"),
    countsByKind: Object.fromEntries(
      feedbackKinds.map((kind) => [kind, value(`kind_${kind}`)]),
    ) as Record<FeedbackKind, number>,
    positive: value("positive"),
    negative: value("negative"),
    neutral: value("neutral"),
    judgementCount: value("judgementCount"),
    judgementPositive: value("judgementPositive"),
    positiveRate: ratio(value("judgementPositive"), value("judgementCount")),
    ratingCount,
    averageRating: ratio(value("ratingSum"), ratingCount),
    averageNormalizedRating: ratio(value("normalizedSum"), ratingCount),
    correctionCount: value("kind_correction"),
    flagCount: value("kind_flag"),
    safetyFlagCount: value("safetyFlagCount"),
    interactionCount: rates?.interactionCount ?? null,
    interactionsWithFeedback: rates?.interactionsWithFeedback ?? null,
    collectionRate: rates ? ratio(rates.interactionsWithFeedback, rates.interactionCount) : null,
    correctionRate: rates ? ratio(rates.corrected, rates.interactionCount) : null,
    safetyFlagRate: rates ? ratio(rates.safetyFlagged, rates.interactionCount) : null,
  };
}

const groupKeyOf = (group: unknown) => JSON.stringify(group ?? null);

export function createAnalyticsService(deps: {
  collections: Pick<Collections, "feedback" | "interactions">;
}): AnalyticsService {
  const { collections } = deps;

  /**
   * Interaction-denominated rates: interactions created in the range, and which of them received
   * (matching, non-comparison) feedback at any time. `by` groups both sides the same way.
   */
  const interactionRates = async (
    compiled: CompiledFeedbackFilter,
    by: { interactions: Document | null; feedback: Document | null },
  ): Promise<Map<string, InteractionRates>> => {
    const [interactionRows, feedbackRows] = await Promise.all([
      collections.interactions
        .aggregate([
          { $match: compiled.rates.interactions },
          { $group: { _id: by.interactions, count: { $sum: 1 } } },
        ])
        .toArray(),
      collections.feedback
        .aggregate([
          { $match: compiled.rates.feedback },
          {
            $group: {
              _id: { interaction: "$interactionId", group: by.feedback },
              corrected: { $max: { $cond: [isKind("correction"), 1, 0] } },
              safety: { $max: { $cond: [{ $eq: ["$flag.category", "safety"] }, 1, 0] } },
            },
          },
          {
            $group: {
              _id: "$_id.group",
              withFeedback: { $sum: 1 },
              corrected: { $sum: "$corrected" },
              safety: { $sum: "$safety" },
            },
          },
        ])
        .toArray(),
    ]);
    const rates = new Map<string, InteractionRates>();
    const entry = (key: string) => {
      let found = rates.get(key);
      if (!found) {
        found = {
          interactionCount: 0,
          interactionsWithFeedback: 0,
          corrected: 0,
          safetyFlagged: 0,
        };
        rates.set(key, found);
      }
      return found;
    };
    for (const row of interactionRows)
      entry(groupKeyOf(row._id)).interactionCount = row.count as number;
    for (const row of feedbackRows) {
      const target = entry(groupKeyOf(row._id));
      target.interactionsWithFeedback = row.withFeedback as number;
      target.corrected = row.corrected as number;
      target.safetyFlagged = row.safety as number;
    }
    return rates;
  };

  const feedbackRows = (match: Filter<FeedbackDoc>, groupId: Document | null) =>
    collections.feedback
      .aggregate([{ $match: match }, { $group: { _id: groupId, ...feedbackAccumulators() } }])
      .toArray();

  /** Grouped metrics over a compiled filter; free text is resolved once for both row sets. */
  const statsOf = async (compiled: CompiledFeedbackFilter, groupBy: StatsGroupBy) => {
    const match = await resolveFeedbackMatch(collections, compiled);
    const fields = groupBy === "none" ? null : groupFields[groupBy];
    const wantsRates = groupBy === "none" || groupBy === "model_version";
    const modelGroup = { modelId: "$model.id", modelVersion: "$model.version" };
    const [overallRows, groupRows, overallRates, groupRates] = await Promise.all([
      feedbackRows(match, null),
      fields ? feedbackRows(match, fields) : Promise.resolve([]),
      interactionRates(compiled, { interactions: null, feedback: null }),
      groupBy === "model_version"
        ? interactionRates(compiled, { interactions: modelGroup, feedback: modelGroup })
        : Promise.resolve(new Map<string, InteractionRates>()),
    ]);
    const overall = toBucket(
      {},
      overallRows[0],
      overallRates.get(groupKeyOf(null)) ?? emptyRates(),
    );
    const keys = new Set<string>(groupRows.map((row) => groupKeyOf(row._id)));
    if (groupBy === "model_version") for (const key of groupRates.keys()) keys.add(key);
    const byKey = new Map(groupRows.map((row) => [groupKeyOf(row._id), row]));
    const groups = [...keys]
      .map((key) =>
        toBucket(
          (JSON.parse(key) as StatsGroup | null) ?? {},
          byKey.get(key),
          wantsRates ? (groupRates.get(key) ?? emptyRates()) : null,
        ),
      )
      .sort(
        (left, right) =>
          right.feedbackCount - left.feedbackCount ||
          groupKeyOf(left.group).localeCompare(groupKeyOf(right.group)),
      );
    return { overall, groups };
  };

  return {
    stats: (filter, groupBy) => statsOf(compileFeedbackFilter(filter), groupBy),

    async timeSeries(filter, interval) {
      const compiled = compileFeedbackFilter(filter);
      const truncate = (field: string) => ({
        $dateTrunc: {
          date: field,
          unit: interval,
          ...(interval === "week" ? { startOfWeek: "monday" } : {}),
        },
      });
      const [rows, rates] = await Promise.all([
        feedbackRows(await resolveFeedbackMatch(collections, compiled), truncate("$createdAt")),
        interactionRates(compiled, {
          interactions: truncate("$createdAt"),
          feedback: truncate("$interactionCreatedAt"),
        }),
      ]);
      const byTime = new Map<number, Document>(
        rows.map((row) => [(row._id as Date).getTime(), row]),
      );
      const ratesByTime = new Map<number, InteractionRates>();
      for (const [key, value] of rates) {
        const parsed = JSON.parse(key) as string | null;
        if (parsed) ratesByTime.set(new Date(parsed).getTime(), value);
      }
      const starts = new Set<number>([...byTime.keys(), ...ratesByTime.keys()]);
      // With both ends of the range given, empty buckets are filled in so charts have no holes.
      const from = compiled.filter.createdAt?.from;
      const to = compiled.filter.createdAt?.to;
      if (from && to) {
        const step = intervalMs[interval];
        const first = alignStart(from, interval);
        const count = Math.ceil((to.getTime() - first) / step);
        if (count > MAX_TIME_BUCKETS) {
          throw new ValidationError([
            {
              path: "interval",
              message: `the range spans ${count} ${interval}s; at most ${MAX_TIME_BUCKETS} buckets`,
            },
          ]);
        }
        for (let time = first; time < to.getTime(); time += step) starts.add(time);
      }
      // With an open range the buckets are only those holding data, but still bounded.
      if (starts.size > MAX_TIME_BUCKETS) {
        throw new ValidationError([
          {
            path: "interval",
            message: `the data spans ${starts.size} ${interval}s; at most ${MAX_TIME_BUCKETS} buckets (narrow filter.createdAt)`,
          },
        ]);
      }
      return [...starts]
        .sort((left, right) => left - right)
        .map((time) => ({
          ...toBucket({}, byTime.get(time), ratesByTime.get(time) ?? emptyRates()),
          start: new Date(time),
          end: new Date(time + intervalMs[interval]),
        }));
    },

    async compareVersions({
      modelId,
      baselineVersion,
      candidateVersion,
      filter = {},
      confidenceLevel,
    }) {
      const level = confidenceLevel ?? 0.95;
      if (!(level > 0.5 && level < 1)) {
        throw new ValidationError([
          { path: "confidenceLevel", message: "must be between 0.5 and 1 (e.g. 0.95)" },
        ]);
      }
      if (baselineVersion === candidateVersion) {
        throw new ValidationError([
          { path: "candidateVersion", message: "must differ from baselineVersion" },
        ]);
      }
      const scoped: FeedbackFilter = {
        ...filter,
        modelId,
        modelVersion: null,
      };
      const { groups } = await statsOf(compileFeedbackFilter(scoped), "model_version");
      const pick = (version: string) =>
        groups.find(
          (group) => group.group.modelVersion === version && group.group.modelId === modelId,
        ) ?? toBucket({ modelId, modelVersion: version }, undefined, emptyRates());
      const baseline = pick(baselineVersion);
      const candidate = pick(candidateVersion);
      const test = twoProportionTest(
        { successes: baseline.judgementPositive, trials: baseline.judgementCount },
        { successes: candidate.judgementPositive, trials: candidate.judgementCount },
        level,
      );
      return {
        modelId,
        baseline,
        candidate,
        confidenceLevel: level,
        ...test,
        sufficientData:
          baseline.judgementCount >= MIN_SAMPLE && candidate.judgementCount >= MIN_SAMPLE,
      };
    },
  };
}

function emptyRates(): InteractionRates {
  return { interactionCount: 0, interactionsWithFeedback: 0, corrected: 0, safetyFlagged: 0 };
}

/** Start of the UTC bucket holding `date`, as $dateTrunc computes it (weeks start on Monday). */
export function alignStart(date: Date, interval: TimeInterval): number {
  const start = new Date(date);
  start.setUTCMinutes(0, 0, 0);
  if (interval === "hour") return start.getTime();
  start.setUTCHours(0);
  if (interval === "day") return start.getTime();
  const daysSinceMonday = (start.getUTCDay() + 6) % 7;
  return start.getTime() - daysSinceMonday * intervalMs.day;
}
