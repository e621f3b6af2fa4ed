/**
 * The seed's "feedback loop creates bias" pitfall: monitor distribution shift, include diverse user
 * segments, audit regularly.
 *
 *   segments — volumes and rates per user segment (interaction fields chosen in the `audit` block),
 *              each field's values bounded (the largest `maxValues`, the rest as `other`)
 *   drift    — the distribution of a reference set (a dataset snapshot's feedback ids, or a
 *              reference window of feedback) against live traffic, per dimension (failure
 *              category, prompt length, topic, each segment field), as a Jensen–Shannon
 *              divergence in 0..1 with a threshold
 *   refresh  — the drift of the default windows, stored; the divergence gauges read the newest
 *              report at each scrape (observability/drift-metrics.ts)
 */
import { ObjectId } from "mongodb";
import type { Clock } from "../clock.js";
import { ValidationError } from "../errors.js";
import type { FeedbackDoc, FeedbackSource, InteractionDoc } from "../store/documents.js";
import type { DriftReportDoc } from "../store/judge-docs.js";
import type { Collections } from "../store/mongo.js";
import type { AuditConfig } from "./judges-config.js";

export const DRIFT_JOB = "audit.drift";
/** The value of a segment field or topic that an interaction does not carry. */
export const UNKNOWN = "unknown";
/** Where values beyond a field's `maxValues` are counted. */
export const OTHER = "other";
/** Reference feedback ids accepted at most (a larger snapshot is sampled by the caller). */
export const MAX_REFERENCE_IDS = 100_000;
/** Feedback sources that count as people's judgements in the audit (automated verdicts do not). */
export const HUMAN_SOURCES: readonly FeedbackSource[] = ["user", "expert"];

/** Prompt-length buckets, in characters of the query. */
export const promptLengthBuckets = [
  { label: "0-49", below: 50 },
  { label: "50-199", below: 200 },
  { label: "200-999", below: 1_000 },
  { label: "1000-4999", below: 5_000 },
  { label: "5000+", below: Number.POSITIVE_INFINITY },
] as const;

export function promptLengthBucket(text: string): string {
  const length = [...text].length;
  return promptLengthBuckets.find((bucket) => length < bucket.below)?.label ?? "5000+";
}

/**
 * Jensen–Shannon divergence of two count distributions, base 2, so it lies in 0..1 (0: the same
 * distribution, 1: no value in common). Null when either side has no data.
 */
export function jensenShannon(
  p: ReadonlyMap<string, number>,
  q: ReadonlyMap<string, number>,
): number | null {
  const total = (counts: ReadonlyMap<string, number>) => {
    let sum = 0;
    for (const count of counts.values()) sum += count;
    return sum;
  };
  const pTotal = total(p);
  const qTotal = total(q);
  if (pTotal <= 0 || qTotal <= 0) return null;
  let divergence = 0;
  for (const key of new Set([...p.keys(), ...q.keys()])) {
    const pi = (p.get(key) ?? 0) / pTotal;
    const qi = (q.get(key) ?? 0) / qTotal;
    const mi = (pi + qi) / 2;
    if (pi > 0) divergence += 0.5 * pi * Math.log2(pi / mi);
    if (qi > 0) divergence += 0.5 * qi * Math.log2(qi / mi);
  }
  // Rounding can leave a hair outside the bounds.
  return Math.min(1, Math.max(0, divergence));
}

/** The value at a dotted path (metadata.plan, model.id) as a label, or undefined. */
export function valueAt(document: unknown, path: string): string | undefined {
  let current: unknown = document;
  for (const part of path.split(".")) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  if (typeof current === "string") return current.trim() === "" ? undefined : current.slice(0, 100);
  if (typeof current === "number" || typeof current === "boolean") return String(current);
  return undefined;
}

/** Keeps the `limit` largest values of `counts` (ties by name) and folds the rest into `other`. */
export function boundValues(counts: ReadonlyMap<string, number>, limit: number): Set<string> {
  return new Set(
    [...counts.entries()]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, limit)
      .map(([value]) => value),
  );
}

export interface TimeWindow {
  readonly from: Date;
  readonly to: Date;
}

export interface SegmentFigures {
  readonly value: string;
  readonly interactions: number;
  /** This value's share of the window's interactions. */
  readonly interactionShare: number;
  /** People's feedback (users, experts) on this segment's interactions. */
  readonly feedback: number;
  readonly feedbackShare: number;
  /** feedbackShare / interactionShare: 1 is proportional, below 1 under-represented in feedback. */
  readonly representation: number | null;
  /** Positive share of the feedback that has a direction (binary, rating, …); null without any. */
  readonly positiveRate: number | null;
  /** Interactions with any feedback / interactions. */
  readonly collectionRate: number | null;
  /** Corrections / feedback. */
  readonly correctionShare: number | null;
  /** Flags / feedback. */
  readonly flagShare: number | null;
}

export interface SegmentAudit {
  readonly field: { readonly name: string; readonly path: string };
  readonly values: readonly SegmentFigures[];
}

export interface BiasAudit {
  readonly window: TimeWindow;
  readonly interactions: number;
  readonly feedback: number;
  /** True when a window held more than `maxFeedback` items and only the newest were read. */
  readonly truncated: boolean;
  readonly segments: readonly SegmentAudit[];
}

export type DriftDimension = "category" | "prompt_length" | "topic" | `segment:${string}`;

export interface DistributionShare {
  readonly value: string;
  readonly count: number;
  readonly share: number;
}

export interface DimensionDrift {
  readonly dimension: DriftDimension;
  /** Jensen–Shannon divergence, 0..1; null when one side has no data. */
  readonly divergence: number | null;
  readonly exceeded: boolean;
  readonly reference: readonly DistributionShare[];
  readonly live: readonly DistributionShare[];
}

export type DriftReference =
  | { readonly kind: "window"; readonly window: TimeWindow }
  | { readonly kind: "feedbackIds"; readonly ids: readonly ObjectId[]; readonly label?: string };

export interface DriftReport {
  readonly reference: {
    readonly kind: DriftReference["kind"];
    readonly window: TimeWindow | null;
    readonly label: string | null;
    readonly feedback: number;
  };
  readonly live: {
    readonly window: TimeWindow;
    readonly interactions: number;
    readonly feedback: number;
  };
  readonly threshold: number;
  readonly dimensions: readonly DimensionDrift[];
  /** Some dimension's divergence is above the threshold. */
  readonly exceeded: boolean;
  readonly computedAt: Date;
}

export interface AuditService {
  readonly config: AuditConfig;
  /** The dimensions drift is measured on (a closed set: the gauge's label values). */
  readonly dimensions: readonly DriftDimension[];
  biasAudit(options?: { fields?: readonly string[]; window?: TimeWindow }): Promise<BiasAudit>;
  drift(options?: { reference?: DriftReference; live?: TimeWindow }): Promise<DriftReport>;
  /** Drift of the default windows, stored for the gauges (the `audit.drift` job). */
  refresh(): Promise<DriftReport>;
  /** The newest stored report (from `refresh`), if any. */
  latest(): Promise<DriftReportDoc | null>;
  /** The default live window and reference window at the clock's now. */
  defaultWindows(): { live: TimeWindow; reference: TimeWindow };
}

type AuditFeedback = Pick<
  FeedbackDoc,
  "_id" | "interactionId" | "category" | "sentiment" | "kind" | "comparison"
> & { pipeline?: { category?: string | null; groupKey?: string } };
type AuditInteraction = Pick<InteractionDoc, "_id" | "query" | "metadata" | "settings" | "model">;

const IN_CHUNK = 1_000;

export function createAuditService(deps: {
  collections: Pick<Collections, "interactions" | "feedback" | "driftReports">;
  clock: Clock;
  config: AuditConfig;
}): AuditService {
  const { collections, clock, config } = deps;
  const dimensions: DriftDimension[] = [
    "category",
    "prompt_length",
    "topic",
    ...config.segments.map((segment) => `segment:${segment.name}` as const),
  ];
  // MongoDB refuses a projection naming both a path and its parent: keep the shortest.
  const paths = [...new Set([...config.segments.map((segment) => segment.path), config.topicPath])];
  const interactionProjection = {
    query: 1,
    ...Object.fromEntries(
      paths
        .filter((path) => !paths.some((other) => other !== path && path.startsWith(`${other}.`)))
        .map((path) => [path, 1]),
    ),
  };
  const feedbackProjection = {
    interactionId: 1,
    category: 1,
    sentiment: 1,
    kind: 1,
    "comparison.prompt": 1,
    "pipeline.category": 1,
    "pipeline.groupKey": 1,
  };

  const checkWindow = (window: TimeWindow, path: string) => {
    if (!(window.from < window.to)) {
      throw new ValidationError([{ path, message: "from must be before to" }]);
    }
  };

  const interactionsIn = async (window: TimeWindow) => {
    const found = (await collections.interactions
      .find(
        { createdAt: { $gte: window.from, $lt: window.to } },
        {
          sort: { createdAt: -1, _id: -1 },
          limit: config.maxFeedback + 1,
          projection: interactionProjection,
        },
      )
      .toArray()) as AuditInteraction[];
    return {
      items: found.slice(0, config.maxFeedback),
      truncated: found.length > config.maxFeedback,
    };
  };

  const feedbackIn = async (window: TimeWindow) => {
    const found = (await collections.feedback
      .find(
        {
          source: { $in: [...HUMAN_SOURCES] },
          createdAt: { $gte: window.from, $lt: window.to },
        },
        {
          sort: { createdAt: -1, _id: -1 },
          limit: config.maxFeedback + 1,
          projection: feedbackProjection,
        },
      )
      .toArray()) as AuditFeedback[];
    return {
      items: found.slice(0, config.maxFeedback),
      truncated: found.length > config.maxFeedback,
    };
  };

  /** Interactions by id, in chunks of 1,000 ids per query, merged into `known`. */
  const loadInteractions = async (ids: ObjectId[], known: Map<string, AuditInteraction>) => {
    const missing = [
      ...new Map(
        ids.filter((id) => !known.has(id.toHexString())).map((id) => [id.toHexString(), id]),
      ).values(),
    ];
    for (let start = 0; start < missing.length; start += IN_CHUNK) {
      const chunk = missing.slice(start, start + IN_CHUNK);
      const found = (await collections.interactions
        .find({ _id: { $in: chunk } }, { projection: interactionProjection })
        .toArray()) as AuditInteraction[];
      for (const interaction of found) known.set(interaction._id.toHexString(), interaction);
    }
    return known;
  };

  const fieldsFor = (names: readonly string[] | undefined) => {
    if (!names || names.length === 0) return config.segments;
    const unknown = names.filter(
      (name) => !config.segments.some((segment) => segment.name === name || segment.path === name),
    );
    if (unknown.length > 0) {
      throw new ValidationError([
        {
          path: "fields",
          message: `not configured segment fields: ${unknown.join(", ")} (configured in AUDIT_CONFIG: ${
            config.segments.map((segment) => segment.name).join(", ") || "none"
          })`,
        },
      ]);
    }
    return config.segments.filter(
      (segment) => names.includes(segment.name) || names.includes(segment.path),
    );
  };

  const defaultWindows = () => {
    const to = clock.now();
    const from = new Date(to.getTime() - config.liveWindowHours * 3_600_000);
    return {
      live: { from, to },
      reference: { from: new Date(from.getTime() - config.referenceDays * 86_400_000), to: from },
    };
  };

  const share = (counts: ReadonlyMap<string, number>): DistributionShare[] => {
    let total = 0;
    for (const count of counts.values()) total += count;
    return [...counts.entries()]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([value, count]) => ({ value, count, share: total === 0 ? 0 : count / total }));
  };

  const count = (counts: Map<string, number>, value: string) =>
    counts.set(value, (counts.get(value) ?? 0) + 1);

  /** Both sides bounded to the same values, so `other` means the same on each side. */
  const bounded = (reference: Map<string, number>, live: Map<string, number>) => {
    const combined = new Map(reference);
    for (const [value, n] of live) combined.set(value, (combined.get(value) ?? 0) + n);
    const kept = boundValues(combined, config.maxValues);
    const fold = (counts: Map<string, number>) => {
      const result = new Map<string, number>();
      for (const [value, n] of counts) {
        const label = kept.has(value) ? value : OTHER;
        result.set(label, (result.get(label) ?? 0) + n);
      }
      return result;
    };
    return [fold(reference), fold(live)] as const;
  };

  const categoryOf = (feedback: AuditFeedback) =>
    feedback.pipeline?.category ?? feedback.category ?? "none";
  const topicOf = (interaction: AuditInteraction) =>
    valueAt(interaction, config.topicPath) ?? UNKNOWN;

  const service: AuditService = {
    config,
    dimensions,
    defaultWindows,

    async biasAudit(options = {}) {
      const fields = fieldsFor(options.fields);
      const window = options.window ?? defaultWindows().live;
      checkWindow(window, "window");
      const [interactions, feedback] = await Promise.all([
        interactionsIn(window),
        feedbackIn(window),
      ]);
      const known = new Map(interactions.items.map((item) => [item._id.toHexString(), item]));
      await loadInteractions(
        feedback.items.flatMap((item) => (item.interactionId ? [item.interactionId] : [])),
        known,
      );
      const inWindow = new Set(interactions.items.map((item) => item._id.toHexString()));
      const segments = fields.map((field): SegmentAudit => {
        const segmentValue = (interaction: AuditInteraction | undefined) =>
          (interaction && valueAt(interaction, field.path)) ?? UNKNOWN;
        const volume = new Map<string, number>();
        for (const interaction of interactions.items) count(volume, segmentValue(interaction));
        for (const item of feedback.items)
          count(
            volume,
            segmentValue(
              item.interactionId ? known.get(item.interactionId.toHexString()) : undefined,
            ),
          );
        const kept = boundValues(volume, config.maxValues);
        const label = (interaction: AuditInteraction | undefined) => {
          const value = segmentValue(interaction);
          return kept.has(value) ? value : OTHER;
        };
        type Tally = {
          interactions: number;
          feedback: number;
          positive: number;
          negative: number;
          corrections: number;
          flags: number;
          collected: Set<string>;
        };
        const tallies = new Map<string, Tally>();
        const tallyOf = (value: string) => {
          let tally = tallies.get(value);
          if (!tally) {
            tally = {
              interactions: 0,
              feedback: 0,
              positive: 0,
              negative: 0,
              corrections: 0,
              flags: 0,
              collected: new Set(),
            };
            tallies.set(value, tally);
          }
          return tally;
        };
        for (const interaction of interactions.items) tallyOf(label(interaction)).interactions += 1;
        for (const item of feedback.items) {
          const interaction = item.interactionId
            ? known.get(item.interactionId.toHexString())
            : undefined;
          const tally = tallyOf(label(interaction));
          tally.feedback += 1;
          if (item.sentiment === "positive") tally.positive += 1;
          if (item.sentiment === "negative") tally.negative += 1;
          if (item.kind === "correction") tally.corrections += 1;
          if (item.kind === "flag") tally.flags += 1;
          const id = item.interactionId?.toHexString();
          if (id && inWindow.has(id)) tally.collected.add(id);
        }
        const totalInteractions = interactions.items.length;
        const totalFeedback = feedback.items.length;
        const ratio = (a: number, b: number) => (b === 0 ? null : a / b);
        const values = [...tallies.entries()]
          .sort(
            (a, b) =>
              b[1].interactions + b[1].feedback - (a[1].interactions + a[1].feedback) ||
              a[0].localeCompare(b[0]),
          )
          .map(([value, tally]): SegmentFigures => {
            const interactionShare =
              totalInteractions === 0 ? 0 : tally.interactions / totalInteractions;
            const feedbackShare = totalFeedback === 0 ? 0 : tally.feedback / totalFeedback;
            return {
              value,
              interactions: tally.interactions,
              interactionShare,
              feedback: tally.feedback,
              feedbackShare,
              representation:
                interactionShare === 0 || totalFeedback === 0
                  ? null
                  : feedbackShare / interactionShare,
              positiveRate: ratio(tally.positive, tally.positive + tally.negative),
              collectionRate: ratio(tally.collected.size, tally.interactions),
              correctionShare: ratio(tally.corrections, tally.feedback),
              flagShare: ratio(tally.flags, tally.feedback),
            };
          });
        return { field: { name: field.name, path: field.path }, values };
      });
      return {
        window,
        interactions: interactions.items.length,
        feedback: feedback.items.length,
        truncated: interactions.truncated || feedback.truncated,
        segments,
      };
    },

    async drift(options = {}) {
      const windows = defaultWindows();
      const live = options.live ?? windows.live;
      checkWindow(live, "live");
      const reference: DriftReference = options.reference ?? {
        kind: "window",
        window: windows.reference,
      };
      let referenceFeedback: AuditFeedback[];
      if (reference.kind === "window") {
        checkWindow(reference.window, "reference");
        referenceFeedback = (await feedbackIn(reference.window)).items;
      } else {
        if (reference.ids.length > MAX_REFERENCE_IDS) {
          throw new ValidationError([
            { path: "reference.feedbackIds", message: `at most ${MAX_REFERENCE_IDS} ids` },
          ]);
        }
        referenceFeedback = [];
        for (let start = 0; start < reference.ids.length; start += IN_CHUNK) {
          referenceFeedback.push(
            ...((await collections.feedback
              .find(
                { _id: { $in: reference.ids.slice(start, start + IN_CHUNK) } },
                { projection: feedbackProjection },
              )
              .toArray()) as AuditFeedback[]),
          );
        }
      }
      const [liveInteractions, liveFeedback] = await Promise.all([
        interactionsIn(live),
        feedbackIn(live),
      ]);
      const known = await loadInteractions(
        referenceFeedback.flatMap((item) => (item.interactionId ? [item.interactionId] : [])),
        new Map(),
      );
      const referenceInteractions = referenceFeedback.map((item) =>
        item.interactionId ? known.get(item.interactionId.toHexString()) : undefined,
      );

      const measure = (
        dimension: DriftDimension,
        referenceCounts: Map<string, number>,
        liveCounts: Map<string, number>,
      ): DimensionDrift => {
        const [ref, now] = bounded(referenceCounts, liveCounts);
        const divergence = jensenShannon(ref, now);
        return {
          dimension,
          divergence,
          exceeded: divergence !== null && divergence > config.threshold,
          reference: share(ref),
          live: share(now),
        };
      };
      const byInteraction = (
        segmentValue: (interaction: AuditInteraction) => string,
        // A reference feedback without an interaction (inline comparison) still has a prompt.
        fallback?: (feedback: AuditFeedback) => string | undefined,
      ) => {
        const referenceCounts = new Map<string, number>();
        referenceFeedback.forEach((item, index) => {
          const interaction = referenceInteractions[index];
          const value = interaction ? segmentValue(interaction) : fallback?.(item);
          if (value !== undefined) count(referenceCounts, value);
        });
        const liveCounts = new Map<string, number>();
        for (const interaction of liveInteractions.items)
          count(liveCounts, segmentValue(interaction));
        return [referenceCounts, liveCounts] as const;
      };

      const categoryReference = new Map<string, number>();
      for (const item of referenceFeedback) count(categoryReference, categoryOf(item));
      const categoryLive = new Map<string, number>();
      for (const item of liveFeedback.items) count(categoryLive, categoryOf(item));

      const results: DimensionDrift[] = [
        measure("category", categoryReference, categoryLive),
        measure(
          "prompt_length",
          ...byInteraction(
            (interaction) => promptLengthBucket(interaction.query ?? ""),
            (item) => (item.comparison ? promptLengthBucket(item.comparison.prompt) : undefined),
          ),
        ),
        measure("topic", ...byInteraction(topicOf)),
        ...config.segments.map((segment) =>
          measure(
            `segment:${segment.name}`,
            ...byInteraction((interaction) => valueAt(interaction, segment.path) ?? UNKNOWN),
          ),
        ),
      ];
      return {
        reference: {
          kind: reference.kind,
          window: reference.kind === "window" ? reference.window : null,
          label: reference.kind === "feedbackIds" ? (reference.label ?? null) : null,
          feedback: referenceFeedback.length,
        },
        live: {
          window: live,
          interactions: liveInteractions.items.length,
          feedback: liveFeedback.items.length,
        },
        threshold: config.threshold,
        dimensions: results,
        exceeded: results.some((result) => result.exceeded),
        computedAt: clock.now(),
      };
    },

    async refresh() {
      const report = await service.drift();
      await collections.driftReports.insertOne({
        _id: new ObjectId(),
        ...report,
        dimensions: report.dimensions.map((dimension) => ({
          ...dimension,
          reference: [...dimension.reference],
          live: [...dimension.live],
        })),
      });
      return report;
    },

    latest: () => collections.driftReports.findOne({}, { sort: { computedAt: -1 } }),
  };
  return service;
}
