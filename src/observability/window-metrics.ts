import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Clock } from "../clock.js";
import type { Collections } from "../store/mongo.js";
import type { ModelLabeler } from "./model-labels.js";
import { type MetricWindow, metricNames, metricWindows } from "./thresholds.js";

/**
 * The seed's table as sliding-window gauges, computed from MongoDB by a refresh loop, never on a
 * scrape: a scrape reads the values the last refresh set, so it never waits on the database, and a
 * refresh that fails leaves the last values in place and counts the failure.
 *
 * Cost is bounded by rollups the loop keeps in memory: counts per model label and 5-minute bucket
 * (of `createdAt`) over the last 7 days — at most 2,016 buckets × the configured models. The first
 * refresh builds them with one grouped aggregation per collection over 7 days; every later one
 * re-aggregates only the recent span (the last 10 minutes: the open bucket, and late arrivals such
 * as feedback on the last minutes' interactions) and keeps the closed buckets. Writes dated before the
 * recent span (backfills with an old `createdAt`, status changes of older feedback) are counted
 * at the next full rebuild (`METRICS_REBUILD_MINUTES`).
 */
export const BUCKET_MS = 5 * 60_000;
/** Re-aggregated on every refresh: late writes within it are counted at once. Short, because on
 * the embedded store an aggregation runs on the gateway's own event loop. */
const RECENT_SPAN_MS = 10 * 60_000;
const windowMs: Record<MetricWindow, number> = {
  "1h": 3_600_000,
  "24h": 86_400_000,
  "7d": 7 * 86_400_000,
};
const HORIZON_MS = windowMs["7d"];

/** Counts of one model label in one bucket. */
interface Counts {
  interactions: number;
  /** Interactions with at least one feedback item (their digest's count). */
  collected: number;
  /** Binary and rating feedback: the denominator of the positive and negative ratios. */
  judgements: number;
  positive: number;
  negative: number;
  corrections: number;
  safetyFlags: number;
  knowledgeGaps: number;
  preferencePairs: number;
}
const emptyCounts = (): Counts => ({
  interactions: 0,
  collected: 0,
  judgements: 0,
  positive: 0,
  negative: 0,
  corrections: 0,
  safetyFlags: 0,
  knowledgeGaps: 0,
  preferencePairs: 0,
});
type InteractionFields = "interactions" | "collected";
type FeedbackFields = Exclude<keyof Counts, InteractionFields>;

/** When the models were last trained: pairs before it are no longer "new". */
export interface TrainingMarks {
  /** Per model label; null when no training is recorded (then every pair counts). */
  lastTrainedAt(model: string): Promise<Date | null>;
}
export const noTrainingRecorded: TrainingMarks = { lastTrainedAt: async () => null };

export interface WindowMetricsDeps {
  readonly registry: Registry;
  readonly collections: Pick<Collections, "interactions" | "feedback">;
  readonly clock: Clock;
  readonly modelLabel: ModelLabeler;
  /** Full rebuild of the 7-day rollups at least this often (also catches backdated writes). */
  readonly rebuildIntervalMs: number;
  readonly training?: TrainingMarks;
}

export interface WindowMetrics {
  /** Recomputes every window gauge; throws (after counting the error) when the database failed. */
  refresh(): Promise<void>;
  /** Sets the retraining figures (the retraining runs call it; until then the series are absent). */
  setImprovement(
    model: string,
    values: { ratio?: number; timeToImprovementSeconds?: number },
  ): void;
}

const bucketOf = (time: number) => time - (time % BUCKET_MS);

/** `{ $sum: { $cond: [condition, 1, 0] } }` */
const countIf = (condition: unknown) => ({ $sum: { $cond: [condition, 1, 0] } });
const isJudgement = { $in: ["$kind", ["binary", "rating"]] };

export function createWindowMetrics(deps: WindowMetricsDeps): WindowMetrics {
  const { registry, collections, clock, modelLabel } = deps;
  const training = deps.training ?? noTrainingRecorded;
  const gauge = (name: string, help: string, labelNames: readonly string[]) =>
    new Gauge({ name, help, labelNames, registers: [registry] });
  const windowed = ["window", "model"] as const;
  const ratios = {
    positive: gauge(
      metricNames.positiveFeedbackRatio,
      "Positive share of binary and rating feedback in the window (absent while there is none).",
      windowed,
    ),
    correction: gauge(
      metricNames.correctionRatio,
      "Corrections per interaction in the window (absent without interactions).",
      windowed,
    ),
    safety: gauge(
      metricNames.safetyFlagRatio,
      "Safety flags per interaction in the window (absent without interactions).",
      windowed,
    ),
    collection: gauge(
      metricNames.feedbackCollectionRatio,
      "Share of the window's interactions that received feedback (absent without interactions).",
      windowed,
    ),
    negative: gauge(
      metricNames.negativeFeedbackRatio,
      "Negative share of binary and rating feedback in the window (absent while there is none).",
      windowed,
    ),
  };
  const interactionsGauge = gauge(
    metricNames.windowInteractions,
    "Interactions created in the window.",
    windowed,
  );
  const judgementsGauge = gauge(
    metricNames.windowJudgements,
    "Binary and rating feedback items created in the window.",
    windowed,
  );
  const gaps7d = gauge(
    metricNames.knowledgeGaps7d,
    "Feedback with failure category knowledge_gap created in the last 7 days.",
    ["model"],
  );
  const pairsSinceTraining = gauge(
    metricNames.preferencePairsSinceTraining,
    "Preference pairs (decided comparisons and corrections) created since the model's last training.",
    ["model"],
  );
  const timeToImprovement = gauge(
    metricNames.timeToImprovementSeconds,
    "Seconds from a retraining trigger to an improved model in production (set once a retraining run reports it).",
    ["model"],
  );
  const improvement = gauge(
    metricNames.modelImprovementRatio,
    "Relative evaluation change of the last retrained model over its predecessor (set once a retraining run reports it).",
    ["model"],
  );
  const errors = new Counter({
    name: metricNames.windowRefreshErrors,
    help: "Refreshes of the window gauges that failed (the gauges keep their last values).",
    registers: [registry],
  });
  const duration = new Histogram({
    name: metricNames.windowRefreshDuration,
    help: "Duration of refreshes of the window gauges, by kind (full: 7-day rebuild; recent: the last minutes).",
    labelNames: ["kind"] as const,
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60],
    registers: [registry],
  });
  errors.inc(0);

  /** bucket start → model label → counts */
  let buckets = new Map<number, Map<string, Counts>>();
  let builtAt = Number.NEGATIVE_INFINITY;
  /** Pairs created since training and before `pairsEdge`, per label (folded from closed buckets). */
  let pairsBase = new Map<string, number>();
  let pairsEdge = 0;
  let trainingMarks = new Map<string, number>();

  const slot = (target: Map<number, Map<string, Counts>>, bucket: number, label: string) => {
    let byModel = target.get(bucket);
    if (!byModel) {
      byModel = new Map();
      target.set(bucket, byModel);
    }
    let counts = byModel.get(label);
    if (!counts) {
      counts = emptyCounts();
      byModel.set(label, counts);
    }
    return counts;
  };

  /** Bucket start in the database: ms since the epoch, floored to the bucket size. */
  const bucketExpr = {
    $subtract: [
      { $subtract: ["$createdAt", new Date(0)] },
      { $mod: [{ $subtract: ["$createdAt", new Date(0)] }, BUCKET_MS] },
    ],
  };

  /** Aggregates [from, to) of both collections into `target` (bucket → label → counts). */
  async function aggregate(
    target: Map<number, Map<string, Counts>>,
    from: Date,
    to: Date,
  ): Promise<void> {
    const range = { createdAt: { $gte: from, $lt: to } };
    const [interactions, feedback] = await Promise.all([
      collections.interactions
        .aggregate<{
          _id: { b: number; id: string | null; v: string | null };
          interactions: number;
          collected: number;
        }>([
          { $match: range },
          {
            $group: {
              _id: { b: bucketExpr, id: "$model.id", v: "$model.version" },
              interactions: { $sum: 1 },
              collected: countIf({ $gt: ["$feedbackSummary.count", 0] }),
            },
          },
        ])
        .toArray(),
      collections.feedback
        .aggregate<
          { _id: { b: number; id: string | null; v: string | null } } & Record<
            FeedbackFields,
            number
          >
        >([
          // Superseded opinions are replaced by the rater's newer one: only active feedback counts.
          { $match: { ...range, status: "active" } },
          {
            $group: {
              _id: { b: bucketExpr, id: "$model.id", v: "$model.version" },
              judgements: countIf(isJudgement),
              positive: countIf({ $and: [isJudgement, { $eq: ["$sentiment", "positive"] }] }),
              negative: countIf({ $and: [isJudgement, { $eq: ["$sentiment", "negative"] }] }),
              corrections: countIf({ $eq: ["$kind", "correction"] }),
              safetyFlags: countIf({
                $and: [{ $eq: ["$kind", "flag"] }, { $eq: ["$flag.category", "safety"] }],
              }),
              knowledgeGaps: countIf({ $eq: ["$category", "knowledge_gap"] }),
              preferencePairs: countIf({
                $or: [
                  { $eq: ["$kind", "correction"] },
                  {
                    $and: [
                      { $eq: ["$kind", "comparison"] },
                      { $ne: ["$comparison.preferred", "tie"] },
                    ],
                  },
                ],
              }),
            },
          },
        ])
        .toArray(),
    ]);
    const labelOf = (id: { id: string | null; v: string | null }) =>
      modelLabel(
        id.id === null || id.id === undefined ? null : { id: id.id, version: id.v ?? undefined },
      );
    for (const row of interactions) {
      const counts = slot(target, Number(row._id.b), labelOf(row._id));
      counts.interactions += row.interactions;
      counts.collected += row.collected;
    }
    for (const row of feedback) {
      const counts = slot(target, Number(row._id.b), labelOf(row._id));
      for (const field of [
        "judgements",
        "positive",
        "negative",
        "corrections",
        "safetyFlags",
        "knowledgeGaps",
        "preferencePairs",
      ] as const) {
        counts[field] += row[field];
      }
    }
  }

  /** Pairs per label created in [since(label), before): one query per label with a training mark. */
  async function pairsBefore(before: Date): Promise<Map<string, number>> {
    const marks = new Map<string, number>();
    for (const label of modelLabel.values) {
      const at = await training.lastTrainedAt(label);
      if (at) marks.set(label, at.getTime());
    }
    trainingMarks = marks;
    const earliest = marks.size === modelLabel.values.length ? Math.min(...marks.values()) : 0;
    const rows = await collections.feedback
      .aggregate<{ _id: { id: string | null; v: string | null; t: number }; n: number }>([
        {
          $match: {
            kind: { $in: ["comparison", "correction"] },
            createdAt: { $gte: new Date(earliest), $lt: before },
            status: "active",
            "comparison.preferred": { $ne: "tie" },
          },
        },
        // Grouped by bucket too, so each label's own training mark can be applied.
        {
          $group: { _id: { id: "$model.id", v: "$model.version", t: bucketExpr }, n: { $sum: 1 } },
        },
      ])
      .toArray();
    const base = new Map<string, number>();
    for (const row of rows) {
      const label = modelLabel(
        row._id.id === null || row._id.id === undefined
          ? null
          : { id: row._id.id, version: row._id.v ?? undefined },
      );
      if (Number(row._id.t) < (marks.get(label) ?? 0)) continue;
      base.set(label, (base.get(label) ?? 0) + row.n);
    }
    return base;
  }

  async function rebuild(now: number): Promise<void> {
    const end = bucketOf(now) + BUCKET_MS;
    const fresh = new Map<number, Map<string, Counts>>();
    const recentStart = bucketOf(now - RECENT_SPAN_MS);
    await aggregate(fresh, new Date(end - HORIZON_MS - BUCKET_MS), new Date(end));
    const base = await pairsBefore(new Date(recentStart));
    buckets = fresh;
    pairsBase = base;
    pairsEdge = recentStart;
    builtAt = now;
  }

  async function refreshRecent(now: number): Promise<void> {
    const recentStart = bucketOf(now - RECENT_SPAN_MS);
    const end = bucketOf(now) + BUCKET_MS;
    const fresh = new Map<number, Map<string, Counts>>();
    await aggregate(fresh, new Date(Math.min(recentStart, pairsEdge)), new Date(end));
    // Buckets that left the recent span since the last refresh are closed: fold their pairs.
    for (const [bucket, byModel] of fresh) {
      if (bucket >= recentStart) continue;
      for (const [label, counts] of byModel) {
        if (bucket < (trainingMarks.get(label) ?? 0)) continue;
        pairsBase.set(label, (pairsBase.get(label) ?? 0) + counts.preferencePairs);
      }
    }
    for (const [bucket, byModel] of fresh) buckets.set(bucket, byModel);
    // Buckets of the span that now hold nothing (e.g. erased data) must not keep old counts.
    for (const bucket of buckets.keys()) {
      if (bucket >= Math.min(recentStart, pairsEdge) && !fresh.has(bucket)) buckets.delete(bucket);
    }
    pairsEdge = recentStart;
  }

  function publish(now: number): void {
    const labels = modelLabel.values;
    const totals = new Map<MetricWindow, Map<string, Counts>>();
    for (const window of metricWindows) {
      const byLabel = new Map(labels.map((label) => [label, emptyCounts()]));
      totals.set(window, byLabel);
    }
    const recentPairs = new Map<string, number>();
    for (const [bucket, byModel] of buckets) {
      if (bucket < now - HORIZON_MS - BUCKET_MS) {
        buckets.delete(bucket);
        continue;
      }
      for (const window of metricWindows) {
        // A bucket belongs to the window when it overlaps it (windows are 5-minute granular).
        if (bucket + BUCKET_MS <= now - windowMs[window]) continue;
        const byLabel = totals.get(window)!;
        for (const [label, counts] of byModel) {
          const sum = byLabel.get(label)!;
          for (const key of Object.keys(counts) as Array<keyof Counts>) sum[key] += counts[key];
        }
      }
      if (bucket >= pairsEdge) {
        for (const [label, counts] of byModel) {
          if (bucket < (trainingMarks.get(label) ?? 0)) continue;
          recentPairs.set(label, (recentPairs.get(label) ?? 0) + counts.preferencePairs);
        }
      }
    }
    // Reset and set in one synchronous step: a scrape never sees a half-updated set.
    for (const g of [...Object.values(ratios), interactionsGauge, judgementsGauge, gaps7d])
      g.reset();
    pairsSinceTraining.reset();
    const ratio = (g: Gauge, labels: Record<string, string>, part: number, whole: number) => {
      if (whole > 0) g.set(labels, part / whole);
    };
    for (const [window, byLabel] of totals) {
      for (const [model, c] of byLabel) {
        const labelSet = { window, model };
        interactionsGauge.set(labelSet, c.interactions);
        judgementsGauge.set(labelSet, c.judgements);
        ratio(ratios.positive, labelSet, c.positive, c.judgements);
        ratio(ratios.negative, labelSet, c.negative, c.judgements);
        ratio(ratios.correction, labelSet, c.corrections, c.interactions);
        ratio(ratios.safety, labelSet, c.safetyFlags, c.interactions);
        ratio(ratios.collection, labelSet, c.collected, c.interactions);
        if (window === "7d") gaps7d.set({ model }, c.knowledgeGaps);
      }
    }
    for (const model of labels) {
      pairsSinceTraining.set(
        { model },
        (pairsBase.get(model) ?? 0) + (recentPairs.get(model) ?? 0),
      );
    }
  }

  return {
    async refresh() {
      const now = clock.now().getTime();
      const full = now - builtAt >= deps.rebuildIntervalMs || now < builtAt;
      const stop = duration.startTimer({ kind: full ? "full" : "recent" });
      try {
        if (full) await rebuild(now);
        else await refreshRecent(now);
        publish(now);
        stop();
      } catch (error) {
        errors.inc();
        throw error;
      }
    },
    setImprovement(model, values) {
      if (values.ratio !== undefined) improvement.set({ model }, values.ratio);
      if (values.timeToImprovementSeconds !== undefined)
        timeToImprovement.set({ model }, values.timeToImprovementSeconds);
    },
  };
}
