import { beforeAll, describe, expect, it } from "vitest";
import { createManualClock } from "../../src/clock.js";
import { SUBMIT_MUTATIONS, type TestApp, useTestApp } from "../support/app.js";
import { Prng } from "../support/prng.js";

/**
 * feedbackStats, feedbackTimeSeries and compareModelVersions against figures computed here, in
 * plain TypeScript, from a generated dataset: nothing below calls Loopgate's own analytics,
 * sentiment or supersede code to work out what the answer should be.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

// ---------------------------------------------------------------------------------------------
// The domain, restated: kinds, sources, rating scales and the sentiment rules of the spec.

const KINDS = [
  "binary",
  "rating",
  "correction",
  "comparison",
  "comment",
  "implicit",
  "flag",
] as const;
type Kind = (typeof KINDS)[number];
type Source = "user" | "expert" | "llm_judge" | "rule" | "cross_model";
type Sentiment = "positive" | "negative" | "neutral";
type Category =
  | "accuracy"
  | "safety"
  | "format"
  | "relevance"
  | "knowledge_gap"
  | "feature_request";
type FlagCategory = "safety" | "accuracy" | "other";
type Signal =
  | "retry"
  | "regenerate"
  | "copy"
  | "share"
  | "abandon"
  | "dwell"
  | "session_length"
  | "follow_up"
  | "edit";

const CATEGORIES: readonly Category[] = [
  "accuracy",
  "safety",
  "format",
  "relevance",
  "knowledge_gap",
  "feature_request",
];
const SIGNALS: readonly Signal[] = [
  "retry",
  "regenerate",
  "copy",
  "share",
  "abandon",
  "dwell",
  "session_length",
  "follow_up",
  "edit",
];
const SIGNAL_SENTIMENT: Record<Signal, Sentiment> = {
  copy: "positive",
  share: "positive",
  retry: "negative",
  regenerate: "negative",
  abandon: "negative",
  edit: "negative",
  dwell: "neutral",
  session_length: "neutral",
  follow_up: "neutral",
};

interface Scale {
  readonly min: number;
  readonly max: number;
  readonly lowerIsBetter: boolean;
}
/** `rating` and `helpfulness` use the default 1–5; `toxicity` is declared 0–10, lower better. */
const SCALES: Record<string, Scale> = {
  rating: { min: 1, max: 5, lowerIsBetter: false },
  helpfulness: { min: 1, max: 5, lowerIsBetter: false },
  toxicity: { min: 0, max: 10, lowerIsBetter: true },
};

interface ModelRef {
  readonly id: string;
  readonly version: string;
}

interface GenInteraction {
  readonly label: string;
  readonly model: ModelRef;
  readonly createdAt: Date;
  readonly user: string;
  readonly session: string;
  /** Global id, filled in once recorded. */
  id: string;
}

interface GenFeedback {
  readonly label: string;
  readonly kind: Kind;
  readonly key: string;
  /** Index of the judged interaction (side A of a comparison). */
  readonly on: number;
  /** Side B of a comparison. */
  readonly other?: number;
  readonly source: Source;
  readonly annotatorId?: string;
  /** Raw product user id given explicitly (otherwise user feedback is the interaction's user's). */
  readonly userId?: string;
  readonly createdAt: Date;
  /** When it is sent: later than createdAt for a delayed retry of an old opinion. */
  readonly sendAt: number;
  readonly category?: Category;
  readonly positive?: boolean;
  readonly score?: number;
  readonly correctedResponse?: string;
  readonly signal?: Signal;
  readonly value?: number;
  readonly flagCategory?: FlagCategory;
  readonly text?: string;
  readonly declared?: Sentiment;
  readonly preferred?: "a" | "b" | "tie";
}

/** A generated feedback item with what the spec says Loopgate must derive from it. */
interface Judged extends GenFeedback {
  readonly active: boolean;
  readonly sentiment: Sentiment;
  readonly normalized?: number;
  readonly model: ModelRef;
  readonly interactionCreatedAt: Date;
  /** The failure category as stored: a safety or accuracy flag carries its own. */
  readonly storedCategory?: Category;
  /** The product user who gave it (raw id), if a person did. */
  readonly raterUser?: string;
}

function sentimentOf(feedback: GenFeedback, normalized: number | undefined): Sentiment {
  switch (feedback.kind) {
    case "binary":
      return feedback.positive ? "positive" : "negative";
    case "rating":
      if ((normalized ?? 0.5) >= 0.75) return "positive";
      if ((normalized ?? 0.5) <= 0.25) return "negative";
      return "neutral";
    case "correction":
    case "flag":
      return "negative";
    case "implicit":
      return SIGNAL_SENTIMENT[feedback.signal ?? "dwell"];
    case "comment":
      return feedback.declared ?? "neutral";
    case "comparison":
      return "neutral";
  }
}

/** Binary, rating, correction and comparison: a rater's newer opinion replaces the older one. */
const replacesEarlier = (kind: Kind) =>
  kind === "binary" || kind === "rating" || kind === "correction" || kind === "comparison";

function derive(
  interactions: readonly GenInteraction[],
  feedback: readonly GenFeedback[],
): Judged[] {
  const raterOf = (item: GenFeedback) => {
    if (item.annotatorId) return `annotator:${item.source}:${item.annotatorId}`;
    if (item.userId) return `user:${item.userId}`;
    if (item.source === "user") return `user:${interactions[item.on]?.user}`;
    return undefined;
  };
  const latest = new Map<string, GenFeedback>();
  const slotOf = (item: GenFeedback) => {
    const rater = raterOf(item);
    return rater && replacesEarlier(item.kind) ? `${rater}|${item.on}|${item.key}` : undefined;
  };
  for (const item of feedback) {
    const slot = slotOf(item);
    if (!slot) continue;
    const current = latest.get(slot);
    if (!current || item.createdAt > current.createdAt) latest.set(slot, item);
  }
  return feedback.map((item) => {
    const interaction = interactions[item.on];
    if (!interaction) throw new Error(`no interaction ${item.on}`);
    const slot = slotOf(item);
    let normalized: number | undefined;
    if (item.kind === "rating") {
      const scale = SCALES[item.key];
      if (!scale || item.score === undefined) throw new Error(`no scale for ${item.key}`);
      const share = (item.score - scale.min) / (scale.max - scale.min);
      normalized = scale.lowerIsBetter ? 1 - share : share;
    }
    const flagRoutes = item.flagCategory === "safety" || item.flagCategory === "accuracy";
    const storedCategory =
      item.kind === "flag"
        ? flagRoutes
          ? (item.flagCategory as Category)
          : undefined
        : item.category;
    const raterUser = item.userId ?? (item.source === "user" ? interaction.user : undefined);
    return {
      ...item,
      active: !slot || latest.get(slot) === item,
      sentiment: sentimentOf(item, normalized),
      ...(normalized !== undefined ? { normalized } : {}),
      model: interaction.model,
      interactionCreatedAt: interaction.createdAt,
      ...(storedCategory ? { storedCategory } : {}),
      ...(raterUser ? { raterUser } : {}),
    };
  });
}

// ---------------------------------------------------------------------------------------------
// The dataset: two versions of support-bot (and a little other-bot, whose version is also "v1")
// over ten active days around a day on which nothing happens at all.

const DAY0 = Date.UTC(2025, 2, 5); // Wednesday 5 March 2025
const ACTIVE_DAYS = [0, 1, 2, 3, 6, 7, 8, 9, 10, 11]; // 5–8 and 11–16 March
const GAP_START = Date.UTC(2025, 2, 10); // Monday 10 March: no interaction and no feedback
const V1: ModelRef = { id: "support-bot", version: "v1" };
const V2: ModelRef = { id: "support-bot", version: "v2" };
const OTHER: ModelRef = { id: "other-bot", version: "v1" };

interface Dataset {
  readonly interactions: GenInteraction[];
  readonly feedback: GenFeedback[];
}

function generate(seed: number): Dataset {
  // Seeded, so the dataset and every expected figure are the same on each run.
  const rng = new Prng(seed);
  const interactions: GenInteraction[] = [];
  for (const day of ACTIVE_DAYS) {
    const models = [V1, V2, ...(rng.chance(0.5) ? [OTHER] : [])];
    for (const model of models) {
      const count = model === OTHER ? 1 : rng.int(4, 7);
      for (let n = 0; n < count; n++) {
        const user = `user-${rng.int(1, 12)}`;
        interactions.push({
          label: `ix-${interactions.length}`,
          model,
          createdAt: new Date(DAY0 + day * DAY + rng.int(6 * HOUR, 22 * HOUR) + rng.int(0, 59_999)),
          user,
          session: `${user}-d${day}`,
          id: "",
        });
      }
    }
  }

  const feedback: GenFeedback[] = [];
  const add = (item: Omit<GenFeedback, "label" | "sendAt"> & { sendAt?: number }) => {
    feedback.push({
      ...item,
      label: `fb-${feedback.length}`,
      sendAt: item.sendAt ?? item.createdAt.getTime(),
    });
  };
  /** Mostly within the day; some late (2–4 days); never on the gap day. */
  const after = (base: Date) => {
    let time =
      base.getTime() + (rng.chance(0.08) ? rng.int(2 * DAY, 4 * DAY) : rng.int(MINUTE, 20 * HOUR));
    if (time >= GAP_START && time < GAP_START + DAY) time += DAY;
    return new Date(time);
  };
  const later = (base: Date) => new Date(base.getTime() + rng.int(10 * MINUTE, 5 * HOUR));
  const maybeCategory = (probability: number) =>
    rng.chance(probability) ? { category: rng.pick(CATEGORIES) } : {};

  interactions.forEach((interaction, on) => {
    if (rng.chance(0.25)) return; // no feedback at all
    const bias = interaction.model === V2 ? 0.75 : 0.55;
    const user = { on, source: "user" as const };

    /** A user changing their mind; sometimes the older opinion arrives last (a delayed retry). */
    const withChangeOfMind = (
      probability: number,
      first: Omit<GenFeedback, "label" | "sendAt">,
      second: (createdAt: Date) => Omit<GenFeedback, "label" | "sendAt">,
    ) => {
      if (!rng.chance(probability)) {
        add(first);
        return;
      }
      const newer = second(later(first.createdAt));
      if (rng.chance(0.3)) {
        add(newer);
        add({ ...first, sendAt: newer.createdAt.getTime() + MINUTE });
      } else {
        add(first);
        add(newer);
      }
    };

    if (rng.chance(0.6)) {
      const positive = rng.chance(bias);
      withChangeOfMind(
        0.2,
        {
          ...user,
          kind: "binary",
          key: "thumbs",
          createdAt: after(interaction.createdAt),
          positive,
          ...(positive ? {} : maybeCategory(0.5)),
        },
        (createdAt) => ({ ...user, kind: "binary", key: "thumbs", createdAt, positive: !positive }),
      );
    }
    if (rng.chance(0.4)) {
      const score = Math.min(5, rng.int(1, 5) + (rng.chance(bias - 0.4) ? 1 : 0));
      withChangeOfMind(
        0.15,
        { ...user, kind: "rating", key: "rating", createdAt: after(interaction.createdAt), score },
        (createdAt) => ({
          ...user,
          kind: "rating",
          key: "rating",
          createdAt,
          score: rng.int(1, 5),
          ...maybeCategory(0.3),
        }),
      );
    }
    if (rng.chance(0.3)) {
      add({
        on,
        source: "expert",
        annotatorId: rng.pick(["expert-1", "expert-2"]),
        kind: "rating",
        key: "toxicity",
        createdAt: after(interaction.createdAt),
        score: rng.int(0, 10),
        ...maybeCategory(0.3),
      });
    }
    if (rng.chance(0.35)) {
      add({
        on,
        source: "llm_judge",
        annotatorId: "judge-gpt",
        kind: "rating",
        key: "helpfulness",
        createdAt: after(interaction.createdAt),
        score: rng.int(1, 5),
      });
    }
    if (rng.chance(0.15)) {
      add({
        on,
        source: "cross_model",
        annotatorId: "model-b",
        kind: "binary",
        key: "accurate",
        createdAt: after(interaction.createdAt),
        positive: rng.chance(bias),
      });
    }
    if (rng.chance(0.12)) {
      withChangeOfMind(
        0.3,
        {
          ...user,
          kind: "correction",
          key: "correction",
          createdAt: after(interaction.createdAt),
          correctedResponse: `fixed answer ${on}`,
          category: "accuracy",
        },
        (createdAt) => ({
          ...user,
          kind: "correction",
          key: "correction",
          createdAt,
          correctedResponse: `better answer ${on}`,
        }),
      );
    }
    if (rng.chance(0.1)) {
      const bySafetyRule = rng.chance(0.5);
      add({
        on,
        ...(bySafetyRule
          ? { source: "rule" as const, annotatorId: "safety-rule", flagCategory: "safety" as const }
          : {
              source: "user" as const,
              flagCategory: rng.pick(["accuracy", "other", "safety"] as const),
            }),
        kind: "flag",
        key: "flag",
        createdAt: after(interaction.createdAt),
      });
    }
    if (rng.chance(0.2)) {
      const declared = rng.pick(["none", "positive", "negative", "neutral"] as const);
      add({
        ...user,
        kind: "comment",
        key: "comment",
        createdAt: after(interaction.createdAt),
        text: `comment number ${feedback.length}`,
        ...(declared !== "none" ? { declared } : {}),
        ...maybeCategory(0.4),
      });
    }
    if (rng.chance(0.3)) {
      const signal = rng.pick(SIGNALS);
      add({
        ...user,
        kind: "implicit",
        key: "implicit",
        createdAt: after(interaction.createdAt),
        signal,
        ...(signal === "dwell" || signal === "session_length" || rng.chance(0.3)
          ? { value: rng.int(1, 5000) }
          : {}),
      });
    }
    if (rng.chance(0.12) && interaction.model !== OTHER) {
      // Side B: the nearest answer of the other support-bot version.
      const otherVersion = interaction.model === V1 ? V2 : V1;
      const candidates = interactions
        .map((item, index) => ({ item, index }))
        .filter(({ item }) => item.model === otherVersion);
      const nearest = candidates.reduce((best, candidate) =>
        Math.abs(candidate.item.createdAt.getTime() - interaction.createdAt.getTime()) <
        Math.abs(best.item.createdAt.getTime() - interaction.createdAt.getTime())
          ? candidate
          : best,
      );
      add({
        on,
        other: nearest.index,
        source: "expert",
        annotatorId: "expert-1",
        kind: "comparison",
        key: "preference",
        createdAt: after(interaction.createdAt),
        preferred: rng.pick(["a", "b", "tie"] as const),
      });
    }
    if (rng.chance(0.1)) {
      // Someone else in the product judging this answer too (a different rater: no supersede).
      let other = `user-${rng.int(1, 12)}`;
      if (other === interaction.user) other = "user-99";
      add({
        ...user,
        userId: other,
        kind: "binary",
        key: "thumbs",
        createdAt: after(interaction.createdAt),
        positive: rng.chance(0.5),
      });
    }
  });
  return { interactions, feedback };
}

// ---------------------------------------------------------------------------------------------
// Expected figures.

interface Metrics {
  feedbackCount: number;
  countsByKind: Record<Kind, number>;
  positive: number;
  negative: number;
  neutral: number;
  judgementCount: number;
  positiveRate: number | null;
  ratingCount: number;
  averageRating: number | null;
  averageNormalizedRating: number | null;
  correctionCount: number;
  flagCount: number;
  safetyFlagCount: number;
  interactionCount: number | null;
  interactionsWithFeedback: number | null;
  collectionRate: number | null;
  correctionRate: number | null;
  safetyFlagRate: number | null;
}

/** What interaction rates are computed over: interactions, and the per-answer feedback on them. */
interface RateBase {
  readonly interactions: readonly number[];
  readonly feedback: readonly Judged[];
}

const share = (part: number, whole: number) => (whole === 0 ? null : part / whole);
const mean = (values: readonly number[]) =>
  values.length === 0 ? null : values.reduce((sum, value) => sum + value, 0) / values.length;

function expectedMetrics(items: readonly Judged[], rates: RateBase | null): Metrics {
  const count = (predicate: (item: Judged) => boolean) => items.filter(predicate).length;
  const judgements = items.filter((item) => item.kind === "binary" || item.kind === "rating");
  const ratings = items.filter((item) => item.kind === "rating");
  let interactionFigures: Pick<
    Metrics,
    | "interactionCount"
    | "interactionsWithFeedback"
    | "collectionRate"
    | "correctionRate"
    | "safetyFlagRate"
  > = {
    interactionCount: null,
    interactionsWithFeedback: null,
    collectionRate: null,
    correctionRate: null,
    safetyFlagRate: null,
  };
  if (rates) {
    const received = (index: number, predicate: (item: Judged) => boolean = () => true) =>
      rates.feedback.some((item) => item.on === index && predicate(item));
    const total = rates.interactions.length;
    const withFeedback = rates.interactions.filter((index) => received(index)).length;
    interactionFigures = {
      interactionCount: total,
      interactionsWithFeedback: withFeedback,
      collectionRate: share(withFeedback, total),
      correctionRate: share(
        rates.interactions.filter((index) => received(index, (item) => item.kind === "correction"))
          .length,
        total,
      ),
      safetyFlagRate: share(
        rates.interactions.filter((index) =>
          received(index, (item) => item.kind === "flag" && item.flagCategory === "safety"),
        ).length,
        total,
      ),
    };
  }
  return {
    feedbackCount: items.length,
    countsByKind: Object.fromEntries(
      KINDS.map((kind) => [kind, count((item) => item.kind === kind)]),
    ) as Record<Kind, number>,
    positive: count((item) => item.sentiment === "positive"),
    negative: count((item) => item.sentiment === "negative"),
    neutral: count((item) => item.sentiment === "neutral"),
    judgementCount: judgements.length,
    positiveRate: share(
      judgements.filter((item) => item.sentiment === "positive").length,
      judgements.length,
    ),
    ratingCount: ratings.length,
    averageRating: mean(ratings.map((item) => item.score ?? Number.NaN)),
    averageNormalizedRating: mean(ratings.map((item) => item.normalized ?? Number.NaN)),
    correctionCount: count((item) => item.kind === "correction"),
    flagCount: count((item) => item.kind === "flag"),
    safetyFlagCount: count((item) => item.kind === "flag" && item.flagCategory === "safety"),
    ...interactionFigures,
  };
}

const FLOAT_FIELDS = [
  "positiveRate",
  "averageRating",
  "averageNormalizedRating",
  "collectionRate",
  "correctionRate",
  "safetyFlagRate",
] as const;

/** Floats are summed in another order by the database: compare them to 9 decimals. */
function approximately(metrics: Metrics): Record<string, unknown> {
  const out: Record<string, unknown> = { ...metrics };
  for (const field of FLOAT_FIELDS) {
    const value = metrics[field];
    if (value !== null) out[field] = expect.closeTo(value, 9);
  }
  return out;
}

/** The filter subset the aggregate tests use, in the database's (lower-case) vocabulary. */
interface Filter {
  readonly createdAt?: { readonly from?: string; readonly to?: string };
  readonly modelId?: string;
  readonly modelVersion?: string;
  readonly sources?: readonly Source[];
  readonly keys?: readonly string[];
  readonly kinds?: readonly Kind[];
  readonly includeSuperseded?: boolean;
  /** A product user: the raw id for the oracle, the pseudonym Loopgate shows for the filter. */
  readonly user?: { readonly raw: string; readonly pseudonym: string };
}

function toGraphQLFilter({ user, ...filter }: Filter): Record<string, unknown> {
  return {
    ...filter,
    ...(user ? { userId: user.pseudonym } : {}),
    ...(filter.sources ? { sources: filter.sources.map((source) => source.toUpperCase()) } : {}),
    ...(filter.kinds ? { kinds: filter.kinds.map((kind) => kind.toUpperCase()) } : {}),
  };
}

const inRange = (time: Date, range: Filter["createdAt"]) =>
  (!range?.from || time.getTime() >= Date.parse(range.from)) &&
  (!range?.to || time.getTime() < Date.parse(range.to));

/** Everything but the time range: what both counted feedback and rate feedback must satisfy. */
function matchesConditions(item: Judged, filter: Filter): boolean {
  return (
    (item.active || filter.includeSuperseded === true) &&
    (!filter.modelId || item.model.id === filter.modelId) &&
    (!filter.modelVersion || item.model.version === filter.modelVersion) &&
    (!filter.sources || filter.sources.includes(item.source)) &&
    (!filter.keys || filter.keys.includes(item.key)) &&
    (!filter.kinds || filter.kinds.includes(item.kind)) &&
    (!filter.user || item.raterUser === filter.user.raw)
  );
}

class Oracle {
  constructor(
    readonly interactions: readonly GenInteraction[],
    readonly judged: readonly Judged[],
  ) {}

  /** Feedback counted by feedback metrics: given in the range, matching every condition. */
  feedback(filter: Filter): Judged[] {
    return this.judged.filter(
      (item) => inRange(item.createdAt, filter.createdAt) && matchesConditions(item, filter),
    );
  }

  /** Interactions created in the range (with the filter's model) and their per-answer feedback. */
  rateBase(filter: Filter): RateBase {
    const interactions = this.interactions
      .map((interaction, index) => ({ interaction, index }))
      .filter(
        ({ interaction }) =>
          inRange(interaction.createdAt, filter.createdAt) &&
          (!filter.modelId || interaction.model.id === filter.modelId) &&
          (!filter.modelVersion || interaction.model.version === filter.modelVersion),
      )
      .map(({ index }) => index);
    const eligible = new Set(interactions);
    const feedback = this.judged.filter(
      (item) =>
        item.kind !== "comparison" && eligible.has(item.on) && matchesConditions(item, filter),
    );
    return { interactions, feedback };
  }

  restrictRates(base: RateBase, keep: (interaction: GenInteraction) => boolean): RateBase {
    const interactions = base.interactions.filter((index) => {
      const interaction = this.interactions[index];
      return interaction !== undefined && keep(interaction);
    });
    const kept = new Set(interactions);
    return { interactions, feedback: base.feedback.filter((item) => kept.has(item.on)) };
  }
}

// ---------------------------------------------------------------------------------------------
// GraphQL plumbing.

const METRICS = /* GraphQL */ `
  fragment Metrics on FeedbackMetrics {
    feedbackCount
    countsByKind { kind count }
    positive
    negative
    neutral
    judgementCount
    positiveRate
    ratingCount
    averageRating
    averageNormalizedRating
    correctionCount
    flagCount
    safetyFlagCount
    interactionCount
    interactionsWithFeedback
    collectionRate
    correctionRate
    safetyFlagRate
  }
`;

const STATS = /* GraphQL */ `
  query Stats($filter: FeedbackFilter, $groupBy: StatsGroupBy) {
    feedbackStats(filter: $filter, groupBy: $groupBy) {
      overall { ...Metrics }
      groups {
        group { modelId modelVersion key source kind category sentiment }
        ...Metrics
      }
    }
  }
  ${METRICS}
`;

const SERIES = /* GraphQL */ `
  query Series($filter: FeedbackFilter, $interval: TimeInterval) {
    feedbackTimeSeries(filter: $filter, interval: $interval) { start end ...Metrics }
  }
  ${METRICS}
`;

const COMPARE = /* GraphQL */ `
  query Compare(
    $modelId: String!
    $baseline: String!
    $candidate: String!
    $filter: FeedbackFilter
    $confidenceLevel: Float
  ) {
    compareModelVersions(
      modelId: $modelId
      baselineVersion: $baseline
      candidateVersion: $candidate
      filter: $filter
      confidenceLevel: $confidenceLevel
    ) {
      modelId
      baseline { group { modelId modelVersion } ...Metrics }
      candidate { group { modelId modelVersion } ...Metrics }
      positiveRateDifference
      zScore
      pValue
      confidenceLevel
      differenceLow
      differenceHigh
      significant
      sufficientData
    }
  }
  ${METRICS}
`;

type Row = Omit<Metrics, "countsByKind"> & {
  countsByKind: Array<{ kind: string; count: number }>;
  group?: Record<string, string | null>;
  start?: string;
  end?: string;
};

function metricsOf(row: Row): Metrics {
  const { group: _group, start: _start, end: _end, countsByKind, ...rest } = row;
  return {
    ...rest,
    countsByKind: Object.fromEntries(
      countsByKind.map(({ kind, count }) => [kind.toLowerCase(), count]),
    ) as Record<Kind, number>,
  };
}

async function query<T>(
  testApp: TestApp,
  document: string,
  variables: Record<string, unknown>,
): Promise<T> {
  const result = await testApp.gql<T>(document, variables);
  if (result.errors || !result.data)
    throw new Error(`GraphQL failed: ${JSON.stringify(result.errors)}`);
  return result.data;
}

const RECORD_MANY = /* GraphQL */ `
  mutation RecordMany($inputs: [RecordInteractionInput!]!) {
    recordInteractions(inputs: $inputs) {
      ... on RecordInteractionsPayload {
        results {
          __typename
          ... on RecordInteractionPayload { interaction { id } }
          ... on Error { message }
        }
      }
      ... on Error { message }
    }
  }
`;

const SUBMIT = SUBMIT_MUTATIONS;

async function recordAll(testApp: TestApp, interactions: GenInteraction[]): Promise<void> {
  const result = await query<{
    recordInteractions: {
      results?: Array<{ __typename: string; interaction?: { id: string } }>;
      message?: string;
    };
  }>(testApp, RECORD_MANY, {
    inputs: interactions.map((interaction) => ({
      query: `question ${interaction.label}`,
      response: `answer ${interaction.label}`,
      model: interaction.model,
      sessionId: interaction.session,
      userId: interaction.user,
      createdAt: interaction.createdAt.toISOString(),
      idempotencyKey: `record-${interaction.label}`,
    })),
  });
  const items = result.recordInteractions.results;
  if (!items) throw new Error(`batch refused: ${result.recordInteractions.message}`);
  items.forEach((item, index) => {
    const interaction = interactions[index];
    if (item.__typename !== "RecordInteractionPayload" || !item.interaction || !interaction) {
      throw new Error(`recording ${index} failed: ${JSON.stringify(item)}`);
    }
    interaction.id = item.interaction.id;
  });
}

function feedbackInput(
  item: GenFeedback,
  interactions: readonly GenInteraction[],
): Record<string, unknown> {
  const idOf = (index: number | undefined) => {
    const interaction = index === undefined ? undefined : interactions[index];
    if (!interaction) throw new Error(`no interaction ${index}`);
    return interaction.id;
  };
  const common = {
    key: item.key,
    source: item.source.toUpperCase(),
    createdAt: item.createdAt.toISOString(),
    idempotencyKey: `submit-${item.label}`,
    ...(item.annotatorId ? { annotatorId: item.annotatorId } : {}),
    ...(item.userId ? { userId: item.userId } : {}),
    ...(item.category && item.kind !== "flag" ? { category: item.category.toUpperCase() } : {}),
  };
  switch (item.kind) {
    case "binary":
      return { ...common, interactionId: idOf(item.on), positive: item.positive };
    case "rating":
      return { ...common, interactionId: idOf(item.on), score: item.score };
    case "correction":
      return { ...common, interactionId: idOf(item.on), correctedResponse: item.correctedResponse };
    case "comparison":
      return {
        ...common,
        a: { interactionId: idOf(item.on) },
        b: { interactionId: idOf(item.other) },
        preferred: item.preferred?.toUpperCase(),
        reason: "clearer",
      };
    case "comment":
      return {
        ...common,
        interactionId: idOf(item.on),
        text: item.text,
        ...(item.declared ? { sentiment: item.declared.toUpperCase() } : {}),
      };
    case "implicit":
      return {
        ...common,
        interactionId: idOf(item.on),
        signal: item.signal?.toUpperCase(),
        ...(item.value !== undefined ? { value: item.value } : {}),
      };
    case "flag":
      return {
        ...common,
        interactionId: idOf(item.on),
        category: item.flagCategory?.toUpperCase(),
        severity: "HIGH",
        reason: "reported",
      };
  }
}

async function submitAll(
  testApp: TestApp,
  interactions: readonly GenInteraction[],
  feedback: readonly GenFeedback[],
): Promise<void> {
  const ordered = [...feedback].sort((left, right) => left.sendAt - right.sendAt);
  // One at a time and in order: which opinion is a rater's latest must not depend on races.
  for (const item of ordered) {
    const [mutation, inputType] = SUBMIT[item.kind];
    const document = `mutation Submit($input: ${inputType}!) {
      result: ${mutation}(input: $input) {
        __typename
        ... on Error { message }
        ... on ValidationError { fields { path message } }
      }
    }`;
    const data = await query<{ result: { __typename: string } }>(testApp, document, {
      input: feedbackInput(item, interactions),
    });
    if (data.result.__typename !== "SubmitFeedbackPayload") {
      throw new Error(`submitting ${item.label} failed: ${JSON.stringify(data.result)}`);
    }
  }
}

async function defineToxicity(testApp: TestApp): Promise<void> {
  const data = await query<{ defineFeedbackKey: { __typename: string } }>(
    testApp,
    /* GraphQL */ `
      mutation Define($input: FeedbackKeyInput!) {
        defineFeedbackKey(input: $input) {
          __typename
          ... on Error { message }
        }
      }
    `,
    {
      input: {
        key: "toxicity",
        kind: "RATING",
        description: "How toxic the answer is: 0 (not at all) to 10.",
        rating: { min: 0, max: 10, integer: true },
        isLowerScoreBetter: true,
      },
    },
  );
  expect(data.defineFeedbackKey.__typename).toBe("FeedbackKeyConfig");
}

// ---------------------------------------------------------------------------------------------
// Standard normal distribution for the z-test, by Simpson's rule on the density.

function standardNormalCdf(z: number): number {
  const steps = 4_000;
  const width = Math.abs(z) / steps;
  const density = (x: number) => Math.exp((-x * x) / 2) / Math.sqrt(2 * Math.PI);
  let sum = density(0) + density(Math.abs(z));
  for (let step = 1; step < steps; step++) sum += (step % 2 === 1 ? 4 : 2) * density(step * width);
  const half = (sum * width) / 3;
  return z >= 0 ? 0.5 + half : 0.5 - half;
}

function standardNormalQuantile(probability: number): number {
  let low = -8;
  let high = 8;
  for (let step = 0; step < 80; step++) {
    const middle = (low + high) / 2;
    if (standardNormalCdf(middle) < probability) low = middle;
    else high = middle;
  }
  return (low + high) / 2;
}

interface ZTest {
  difference: number;
  z: number;
  p: number;
  low: number;
  high: number;
}

/** Two-sided two-proportion z-test (pooled for z; unpooled standard error for the interval). */
function zTest(success1: number, n1: number, success2: number, n2: number, level: number): ZTest {
  const p1 = success1 / n1;
  const p2 = success2 / n2;
  const pooled = (success1 + success2) / (n1 + n2);
  const z = (p2 - p1) / Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  const p = 2 * (1 - standardNormalCdf(Math.abs(z)));
  const margin =
    standardNormalQuantile(1 - (1 - level) / 2) *
    Math.sqrt((p1 * (1 - p1)) / n1 + (p2 * (1 - p2)) / n2);
  return { difference: p2 - p1, z, p, low: p2 - p1 - margin, high: p2 - p1 + margin };
}

// ---------------------------------------------------------------------------------------------

const truncate: Record<"hour" | "day" | "week", (time: number) => number> = {
  hour: (time) => Math.floor(time / HOUR) * HOUR,
  day: (time) => Math.floor(time / DAY) * DAY,
  // Day 0 of the epoch (1 January 1970) was a Thursday, three days after a Monday.
  week: (time) => {
    const days = Math.floor(time / DAY);
    return (days - ((days + 3) % 7)) * DAY;
  },
};
const WIDTH = { hour: HOUR, day: DAY, week: 7 * DAY } as const;

describe("feedback analytics over a generated dataset", () => {
  const testApp = useTestApp({ clock: createManualClock(new Date("2025-03-25T00:00:00Z")) });
  const dataset = generate(20250305);
  const oracle = new Oracle(dataset.interactions, derive(dataset.interactions, dataset.feedback));

  beforeAll(async () => {
    await defineToxicity(testApp);
    await recordAll(testApp, dataset.interactions);
    await submitAll(testApp, dataset.interactions, dataset.feedback);
  }, 120_000);

  const stats = (filter: Filter, groupBy: string) =>
    query<{ feedbackStats: { overall: Row; groups: Row[] } }>(testApp, STATS, {
      filter: toGraphQLFilter(filter),
      groupBy,
    }).then((data) => data.feedbackStats);

  const series = (filter: Filter, interval: "hour" | "day" | "week") =>
    query<{ feedbackTimeSeries: Row[] }>(testApp, SERIES, {
      filter: toGraphQLFilter(filter),
      interval: interval.toUpperCase(),
    }).then((data) => data.feedbackTimeSeries);

  /** Expected series: buckets with data, plus every bucket of the range when both ends are set. */
  function expectedSeries(filter: Filter, interval: "hour" | "day" | "week") {
    const cut = truncate[interval];
    const feedback = oracle.feedback(filter);
    const base = oracle.rateBase(filter);
    const starts = new Set<number>([
      ...feedback.map((item) => cut(item.createdAt.getTime())),
      ...base.interactions.map((index) =>
        cut(oracle.interactions[index]?.createdAt.getTime() ?? 0),
      ),
    ]);
    const { from, to } = filter.createdAt ?? {};
    if (from && to) {
      for (let time = cut(Date.parse(from)); time < Date.parse(to); time += WIDTH[interval])
        starts.add(time);
    }
    return [...starts]
      .sort((left, right) => left - right)
      .map((start) => ({
        start: new Date(start).toISOString(),
        end: new Date(start + WIDTH[interval]).toISOString(),
        metrics: expectedMetrics(
          feedback.filter((item) => cut(item.createdAt.getTime()) === start),
          oracle.restrictRates(
            base,
            (interaction) => cut(interaction.createdAt.getTime()) === start,
          ),
        ),
      }));
  }

  async function expectSeries(filter: Filter, interval: "hour" | "day" | "week") {
    const actual = await series(filter, interval);
    const expected = expectedSeries(filter, interval);
    expect(actual.map((bucket) => [bucket.start, bucket.end])).toEqual(
      expected.map((bucket) => [bucket.start, bucket.end]),
    );
    actual.forEach((bucket, index) => {
      expect({ start: bucket.start, ...metricsOf(bucket) }).toEqual({
        start: expected[index]?.start,
        ...approximately(expected[index]?.metrics as Metrics),
      });
    });
    return actual;
  }

  it("generates a dataset that exercises every case the figures depend on", () => {
    const { judged } = oracle;
    for (const kind of KINDS)
      expect(judged.some((item) => item.kind === kind && item.active)).toBe(true);
    for (const source of ["user", "expert", "llm_judge", "rule", "cross_model"] as const) {
      expect(judged.some((item) => item.source === source)).toBe(true);
    }
    expect(judged.filter((item) => !item.active).length).toBeGreaterThan(5);
    // Some older opinions arrive after the newer one and must not win.
    expect(judged.some((item) => !item.active && item.sendAt > item.createdAt.getTime())).toBe(
      true,
    );
    expect(judged.some((item) => item.key === "toxicity" && item.sentiment === "positive")).toBe(
      true,
    );
    expect(judged.some((item) => item.key === "toxicity" && item.sentiment === "negative")).toBe(
      true,
    );
    expect(judged.some((item) => item.key === "toxicity" && item.sentiment === "neutral")).toBe(
      true,
    );
    expect(judged.some((item) => item.kind === "flag" && item.flagCategory === "safety")).toBe(
      true,
    );
    const withFeedback = new Set(judged.map((item) => item.on));
    expect(dataset.interactions.length - withFeedback.size).toBeGreaterThan(10);
    // Late feedback: given after the day its interaction belongs to.
    expect(
      judged.some(
        (item) => item.createdAt.getTime() - item.interactionCreatedAt.getTime() > 2 * DAY,
      ),
    ).toBe(true);
    expect(
      judged.some(
        (item) =>
          item.createdAt.getTime() >= GAP_START && item.createdAt.getTime() < GAP_START + DAY,
      ),
    ).toBe(false);
  });

  it("shows the stored feedback as the spec derives it: sentiment, normalized score, status", async () => {
    const data = await query<{
      feedback: {
        totalCount: number;
        edges: Array<{
          node: {
            idempotencyKey: string;
            sentiment: string;
            status: string;
            normalizedScore?: number;
            scaleMin?: number;
            scaleMax?: number;
          };
        }>;
      };
    }>(
      testApp,
      /* GraphQL */ `
        query Ratings($filter: FeedbackFilter) {
          feedback(filter: $filter, first: 200) {
            totalCount
            edges {
              node {
                idempotencyKey
                sentiment
                status
                ... on RatingFeedback { normalizedScore scaleMin scaleMax }
              }
            }
          }
        }
      `,
      { filter: { keys: ["toxicity", "rating"], includeSuperseded: true } },
    );
    const expected = oracle.judged.filter(
      (item) => item.key === "toxicity" || item.key === "rating",
    );
    expect(data.feedback.totalCount).toBe(expected.length);
    const byLabel = new Map(data.feedback.edges.map(({ node }) => [node.idempotencyKey, node]));
    for (const item of expected) {
      const node = byLabel.get(`submit-${item.label}`);
      expect({ label: item.label, ...node }).toEqual({
        label: item.label,
        idempotencyKey: `submit-${item.label}`,
        sentiment: item.sentiment.toUpperCase(),
        status: item.active ? "ACTIVE" : "SUPERSEDED",
        normalizedScore: expect.closeTo(item.normalized ?? Number.NaN, 12),
        scaleMin: SCALES[item.key]?.min,
        scaleMax: SCALES[item.key]?.max,
      });
    }
  });

  it("computes the overall figures, counting only each rater's latest opinion", async () => {
    const { overall, groups } = await stats({}, "NONE");
    expect(groups).toEqual([]);
    expect(metricsOf(overall)).toEqual(
      approximately(expectedMetrics(oracle.feedback({}), oracle.rateBase({}))),
    );
  });

  it("counts superseded feedback too when asked to", async () => {
    const filter = { includeSuperseded: true };
    const { overall } = await stats(filter, "NONE");
    const expected = expectedMetrics(oracle.feedback(filter), oracle.rateBase(filter));
    expect(metricsOf(overall)).toEqual(approximately(expected));
    expect(expected.feedbackCount).toBeGreaterThan(oracle.feedback({}).length);
  });

  it("treats an empty time range like no range at all", async () => {
    const { overall } = await stats({ createdAt: {} }, "NONE");
    expect(metricsOf(overall)).toEqual(
      approximately(expectedMetrics(oracle.feedback({}), oracle.rateBase({}))),
    );
    const daily = await series({ createdAt: {} }, "day");
    const expected = expectedSeries({}, "day");
    expect(daily.map((bucket) => [bucket.start, metricsOf(bucket)])).toEqual(
      expected.map((bucket) => [bucket.start, approximately(bucket.metrics)]),
    );
  });

  it("filters by the rater's pseudonymous id: their feedback, over all interactions", async () => {
    // The user filter is the rater's, so rates count every interaction of the range and those
    // this person gave feedback on, their own answers or anyone else's (never above 100%).
    // Pick a user who also judged someone else's answer.
    const raw = oracle.judged
      .filter(
        (item) => item.active && item.userId && item.userId !== oracle.interactions[item.on]?.user,
      )
      .map((item) => item.userId as string)
      .sort()
      .find((user) => dataset.interactions.some((interaction) => interaction.user === user));
    const mine = dataset.interactions.find((interaction) => interaction.user === raw);
    const { interaction } = await query<{ interaction: { userId: string } }>(
      testApp,
      "query One($id: ID!) { interaction(id: $id) { userId } }",
      { id: mine?.id },
    );
    await expectByModel({ user: { raw: raw as string, pseudonym: interaction.userId } });
  });

  const dimension: Record<string, (item: Judged) => string | null> = {
    KEY: (item) => item.key,
    SOURCE: (item) => item.source,
    KIND: (item) => item.kind,
    CATEGORY: (item) => item.storedCategory ?? null,
    SENTIMENT: (item) => item.sentiment,
  };
  const groupField: Record<string, string> = {
    KEY: "key",
    SOURCE: "source",
    KIND: "kind",
    CATEGORY: "category",
    SENTIMENT: "sentiment",
  };

  it.each(Object.keys(dimension))("groups by %s, without interaction rates", async (groupBy) => {
    const { overall, groups } = await stats({}, groupBy);
    const feedback = oracle.feedback({});
    expect(metricsOf(overall)).toEqual(
      approximately(expectedMetrics(feedback, oracle.rateBase({}))),
    );
    const stored = dimension[groupBy] as (item: Judged) => string | null;
    // The API shows these dimensions as GraphQL enum values (upper case); keys are free names.
    const dimensionOf = (item: Judged) =>
      groupBy === "KEY" ? stored(item) : (stored(item)?.toUpperCase() ?? null);
    const field = groupField[groupBy] as string;
    const values = [...new Set(feedback.map(dimensionOf))];
    expect(groups.map((row) => row.group?.[field] ?? null).sort()).toEqual([...values].sort());
    for (const row of groups) {
      const value = row.group?.[field] ?? null;
      // Only the grouped dimension is set.
      expect(
        Object.entries(row.group ?? {}).filter(([name, set]) => name !== field && set !== null),
      ).toEqual([]);
      expect({ value, ...metricsOf(row) }).toEqual({
        value,
        ...approximately(
          expectedMetrics(
            feedback.filter((item) => dimensionOf(item) === value),
            null,
          ),
        ),
      });
    }
    // Biggest groups first.
    const counts = groups.map((row) => row.feedbackCount);
    expect(counts).toEqual([...counts].sort((left, right) => right - left));
  });

  /** Expected MODEL_VERSION rows: every model with feedback or with interactions in the range. */
  function expectedByModel(filter: Filter) {
    const feedback = oracle.feedback(filter);
    const base = oracle.rateBase(filter);
    const models = new Map<string, ModelRef>();
    for (const item of feedback) models.set(`${item.model.id}/${item.model.version}`, item.model);
    for (const index of base.interactions) {
      const model = oracle.interactions[index]?.model as ModelRef;
      models.set(`${model.id}/${model.version}`, model);
    }
    return new Map(
      [...models].map(([name, model]) => [
        name,
        expectedMetrics(
          feedback.filter(
            (item) => item.model.id === model.id && item.model.version === model.version,
          ),
          oracle.restrictRates(
            base,
            (interaction) =>
              interaction.model.id === model.id && interaction.model.version === model.version,
          ),
        ),
      ]),
    );
  }

  async function expectByModel(filter: Filter) {
    const { overall, groups } = await stats(filter, "MODEL_VERSION");
    expect(metricsOf(overall)).toEqual(
      approximately(expectedMetrics(oracle.feedback(filter), oracle.rateBase(filter))),
    );
    const expected = expectedByModel(filter);
    const nameOf = (row: Row) => `${row.group?.modelId}/${row.group?.modelVersion}`;
    expect(groups.map(nameOf).sort()).toEqual([...expected.keys()].sort());
    for (const row of groups) {
      expect({ model: nameOf(row), ...metricsOf(row) }).toEqual({
        model: nameOf(row),
        ...approximately(expected.get(nameOf(row)) as Metrics),
      });
    }
    return groups;
  }

  it("groups by MODEL_VERSION with interaction rates per model version", async () => {
    const groups = await expectByModel({});
    expect(groups.map((row) => `${row.group?.modelId}/${row.group?.modelVersion}`).sort()).toEqual([
      "other-bot/v1",
      "support-bot/v1",
      "support-bot/v2",
    ]);
  });

  it("combines a source filter and a time range with every figure", async () => {
    const filter: Filter = {
      sources: ["expert", "llm_judge", "rule"],
      createdAt: { from: "2025-03-07T12:00:00.000Z", to: "2025-03-13T00:00:00.000Z" },
    };
    await expectByModel(filter);
    // Rates count interactions created in the range and their matching feedback given at any time,
    // so late feedback still counts for an interaction near the end of the range.
    const base = oracle.rateBase(filter);
    expect(base.feedback.some((item) => !inRange(item.createdAt, filter.createdAt))).toBe(true);
  });

  it("combines model, key and kind filters with the aggregates", async () => {
    await expectByModel({ modelVersion: "v2", keys: ["toxicity", "thumbs", "correction"] });
    await expectByModel({ modelId: "support-bot", kinds: ["correction", "flag", "comparison"] });
    const { overall } = await stats(
      { sources: ["user"], createdAt: { from: "2025-03-12T00:00:00.000Z" } },
      "NONE",
    );
    const filter: Filter = { sources: ["user"], createdAt: { from: "2025-03-12T00:00:00.000Z" } };
    expect(metricsOf(overall)).toEqual(
      approximately(expectedMetrics(oracle.feedback(filter), oracle.rateBase(filter))),
    );
  });

  it("returns daily buckets, UTC, filling the gaps between both ends of the range", async () => {
    const filter: Filter = {
      createdAt: { from: "2025-03-04T00:00:00.000Z", to: "2025-03-22T00:00:00.000Z" },
    };
    const actual = await expectSeries(filter, "day");
    expect(actual).toHaveLength(18);
    const gap = actual.find((bucket) => bucket.start === "2025-03-10T00:00:00.000Z");
    expect(gap).toMatchObject({
      feedbackCount: 0,
      interactionCount: 0,
      positiveRate: null,
      collectionRate: null,
    });
  });

  it("returns only buckets with data when the range is open at one end", async () => {
    const actual = await expectSeries({ createdAt: { from: "2025-03-04T00:00:00.000Z" } }, "day");
    expect(actual.some((bucket) => bucket.start === "2025-03-10T00:00:00.000Z")).toBe(false);
    await expectSeries({}, "day");
  });

  it("returns hourly buckets from the hour holding `from`", async () => {
    const filter: Filter = {
      createdAt: { from: "2025-03-12T05:30:00.000Z", to: "2025-03-13T00:00:00.000Z" },
    };
    const actual = await expectSeries(filter, "hour");
    expect(actual[0]?.start).toBe("2025-03-12T05:00:00.000Z");
    expect(actual).toHaveLength(19);
  });

  it("returns weekly buckets starting on Monday", async () => {
    const filter: Filter = {
      createdAt: { from: "2025-03-05T12:00:00.000Z", to: "2025-03-24T00:00:00.000Z" },
    };
    const actual = await expectSeries(filter, "week");
    expect(actual.map((bucket) => bucket.start)).toEqual([
      "2025-03-03T00:00:00.000Z",
      "2025-03-10T00:00:00.000Z",
      "2025-03-17T00:00:00.000Z",
    ]);
    await expectSeries({ sources: ["user"], modelVersion: "v2" }, "week");
  });

  it("filters the series like the stats (source and model)", async () => {
    await expectSeries(
      {
        sources: ["user", "cross_model"],
        modelId: "support-bot",
        createdAt: { from: "2025-03-05T00:00:00.000Z", to: "2025-03-18T00:00:00.000Z" },
      },
      "day",
    );
  });

  it("refuses a series with more buckets than the limit, naming the interval", async () => {
    const result = await testApp.gql(SERIES, {
      filter: { createdAt: { from: "2020-01-01T00:00:00Z", to: "2025-01-01T00:00:00Z" } },
      interval: "HOUR",
    });
    expect(result.errors?.[0]?.extensions?.code).toBe("VALIDATION_FAILED");
    expect(result.errors?.[0]?.message).toMatch(/interval/);
  });

  it("compares the two versions of support-bot with a two-proportion z-test", async () => {
    const data = await query<{
      compareModelVersions: Record<string, unknown> & { baseline: Row; candidate: Row };
    }>(testApp, COMPARE, { modelId: "support-bot", baseline: "v1", candidate: "v2" });
    const result = data.compareModelVersions;
    const side = (version: string) => {
      const filter: Filter = { modelId: "support-bot", modelVersion: version };
      return expectedMetrics(oracle.feedback(filter), oracle.rateBase(filter));
    };
    const baseline = side("v1");
    const candidate = side("v2");
    // other-bot's "v1" must not be mixed into support-bot's.
    expect(result.baseline.group).toEqual({ modelId: "support-bot", modelVersion: "v1" });
    expect(metricsOf(result.baseline)).toEqual(approximately(baseline));
    expect(metricsOf(result.candidate)).toEqual(approximately(candidate));
    const positives = (metrics: Metrics) =>
      Math.round((metrics.positiveRate ?? 0) * metrics.judgementCount);
    const test = zTest(
      positives(baseline),
      baseline.judgementCount,
      positives(candidate),
      candidate.judgementCount,
      0.95,
    );
    expect(result).toMatchObject({
      modelId: "support-bot",
      confidenceLevel: 0.95,
      positiveRateDifference: expect.closeTo(test.difference, 9),
      zScore: expect.closeTo(test.z, 6),
      pValue: expect.closeTo(test.p, 5),
      differenceLow: expect.closeTo(test.low, 5),
      differenceHigh: expect.closeTo(test.high, 5),
      significant: test.p < 0.05,
      sufficientData: baseline.judgementCount >= 30 && candidate.judgementCount >= 30,
    });
    expect(baseline.judgementCount).toBeGreaterThanOrEqual(30);
  });

  it("compares versions within a filter (source and time range)", async () => {
    const filter: Filter = {
      sources: ["user"],
      createdAt: { from: "2025-03-06T00:00:00.000Z", to: "2025-03-15T00:00:00.000Z" },
    };
    const data = await query<{
      compareModelVersions: Record<string, unknown> & { baseline: Row; candidate: Row };
    }>(testApp, COMPARE, {
      modelId: "support-bot",
      baseline: "v1",
      candidate: "v2",
      filter: toGraphQLFilter(filter),
      confidenceLevel: 0.9,
    });
    const side = (version: string) => {
      const scoped = { ...filter, modelId: "support-bot", modelVersion: version };
      return expectedMetrics(oracle.feedback(scoped), oracle.rateBase(scoped));
    };
    const baseline = side("v1");
    const candidate = side("v2");
    expect(metricsOf(data.compareModelVersions.baseline)).toEqual(approximately(baseline));
    expect(metricsOf(data.compareModelVersions.candidate)).toEqual(approximately(candidate));
    const positives = (metrics: Metrics) =>
      Math.round((metrics.positiveRate ?? 0) * metrics.judgementCount);
    const test = zTest(
      positives(baseline),
      baseline.judgementCount,
      positives(candidate),
      candidate.judgementCount,
      0.9,
    );
    expect(data.compareModelVersions).toMatchObject({
      confidenceLevel: 0.9,
      zScore: expect.closeTo(test.z, 6),
      pValue: expect.closeTo(test.p, 5),
      differenceLow: expect.closeTo(test.low, 5),
      differenceHigh: expect.closeTo(test.high, 5),
      significant: test.p < 0.1,
    });
  });
});

describe("compareModelVersions on hand-made samples", () => {
  const testApp = useTestApp({ clock: createManualClock(new Date("2025-06-01T00:00:00Z")) });
  const JUDGES = Array.from({ length: 10 }, (_, index) => `judge-${index}`);

  /**
   * `judgements` binary judgements of one version (ten judges on each of its interactions), the
   * first `positives` of them positive, plus feedback that must not count: a comment, a copy
   * signal (both positive) and an opinion its judge later changed.
   */
  async function sample(version: string, judgements: number, positives: number) {
    const interactions: GenInteraction[] = Array.from(
      { length: judgements / JUDGES.length },
      (_, index) => ({
        label: `${version}-${index}`,
        model: { id: "ab-bot", version },
        createdAt: new Date(Date.UTC(2025, 4, 1, index)),
        user: `person-${index}`,
        session: `s-${version}`,
        id: "",
      }),
    );
    await recordAll(testApp, interactions);
    const feedback: GenFeedback[] = [];
    interactions.forEach((interaction, on) => {
      JUDGES.forEach((judge, index) => {
        const createdAt = new Date(interaction.createdAt.getTime() + (index + 1) * MINUTE);
        feedback.push({
          label: `${interaction.label}-${judge}`,
          kind: "binary",
          key: "thumbs",
          on,
          source: "llm_judge",
          annotatorId: judge,
          createdAt,
          sendAt: createdAt.getTime(),
          positive: on * JUDGES.length + index < positives,
        });
      });
    });
    const first = interactions[0] as GenInteraction;
    const earlier = new Date(first.createdAt.getTime() + 30 * 1000);
    feedback.push(
      // judge-0's earlier, opposite opinion on the first answer: superseded by the one above.
      {
        label: `${version}-changed`,
        kind: "binary",
        key: "thumbs",
        on: 0,
        source: "llm_judge",
        annotatorId: "judge-0",
        createdAt: earlier,
        sendAt: Date.UTC(2025, 4, 20),
        positive: !(positives > 0),
      },
      {
        label: `${version}-comment`,
        kind: "comment",
        key: "comment",
        on: 0,
        source: "user",
        createdAt: earlier,
        sendAt: earlier.getTime(),
        text: "love it",
        declared: "positive",
      },
      {
        label: `${version}-copy`,
        kind: "implicit",
        key: "implicit",
        on: 0,
        source: "user",
        createdAt: earlier,
        sendAt: earlier.getTime(),
        signal: "copy",
      },
    );
    await submitAll(testApp, interactions, feedback);
  }

  beforeAll(async () => {
    await sample("a", 100, 50);
    await sample("b", 100, 65);
    await sample("c", 20, 15);
  }, 120_000);

  type Comparison = {
    baseline: Row;
    candidate: Row;
    positiveRateDifference: number | null;
    zScore: number | null;
    pValue: number | null;
    confidenceLevel: number;
    differenceLow: number | null;
    differenceHigh: number | null;
    significant: boolean;
    sufficientData: boolean;
  };
  const compare = (variables: Record<string, unknown>) =>
    query<{ compareModelVersions: Comparison }>(testApp, COMPARE, {
      modelId: "ab-bot",
      ...variables,
    }).then((data) => data.compareModelVersions);

  it("finds 50/100 vs 65/100 significant at 95%: z ≈ 2.14, p ≈ 0.032", async () => {
    const result = await compare({ baseline: "a", candidate: "b" });
    expect(result.baseline).toMatchObject({
      judgementCount: 100,
      positiveRate: 0.5,
      feedbackCount: 102,
    });
    expect(result.candidate).toMatchObject({ judgementCount: 100, positiveRate: 0.65 });
    const test = zTest(50, 100, 65, 100, 0.95);
    expect(test.z).toBeCloseTo(2.1456, 3);
    expect(test.p).toBeCloseTo(0.0319, 3);
    expect(result.positiveRateDifference).toBeCloseTo(0.15, 12);
    expect(result.zScore).toBeGreaterThan(2.14);
    expect(result.zScore).toBeLessThan(2.15);
    expect(result.zScore).toBeCloseTo(test.z, 6);
    expect(result.pValue).toBeCloseTo(0.032, 3);
    expect(result.pValue).toBeCloseTo(test.p, 5);
    // 0.15 ± 1.96 × 0.0691
    expect(result.differenceLow).toBeCloseTo(test.low, 5);
    expect(result.differenceHigh).toBeCloseTo(test.high, 5);
    expect(result.differenceLow).toBeCloseTo(0.0146, 3);
    expect(result.differenceHigh).toBeCloseTo(0.2854, 3);
    expect(result).toMatchObject({
      confidenceLevel: 0.95,
      significant: true,
      sufficientData: true,
    });
  });

  it("finds the same samples not significant at 99%, with an interval that spans zero", async () => {
    const result = await compare({ baseline: "a", candidate: "b", confidenceLevel: 0.99 });
    const test = zTest(50, 100, 65, 100, 0.99);
    expect(result.pValue).toBeCloseTo(test.p, 5);
    expect(result.differenceLow).toBeCloseTo(test.low, 5);
    expect(result.differenceHigh).toBeCloseTo(test.high, 5);
    expect(result.differenceLow).toBeLessThan(0);
    expect(result).toMatchObject({
      confidenceLevel: 0.99,
      significant: false,
      sufficientData: true,
    });
  });

  it("reports a negative difference when the candidate is worse", async () => {
    const result = await compare({ baseline: "b", candidate: "a" });
    const test = zTest(65, 100, 50, 100, 0.95);
    expect(result.positiveRateDifference).toBeCloseTo(-0.15, 12);
    expect(result.zScore).toBeCloseTo(test.z, 6);
    expect(result.pValue).toBeCloseTo(test.p, 5);
    expect(result.significant).toBe(true);
  });

  it("flags fewer than 30 judgements on a side as insufficient data", async () => {
    const result = await compare({ baseline: "a", candidate: "c" });
    const test = zTest(50, 100, 15, 20, 0.95);
    expect(result.candidate).toMatchObject({ judgementCount: 20, positiveRate: 0.75 });
    expect(result.zScore).toBeCloseTo(test.z, 6);
    expect(result.pValue).toBeCloseTo(test.p, 5);
    expect(result).toMatchObject({ significant: test.p < 0.05, sufficientData: false });
  });

  it("returns no statistics for a version without judgements", async () => {
    const result = await compare({ baseline: "a", candidate: "never-deployed" });
    expect(result.candidate).toMatchObject({
      judgementCount: 0,
      feedbackCount: 0,
      positiveRate: null,
    });
    expect(result).toMatchObject({
      positiveRateDifference: null,
      zScore: null,
      pValue: null,
      differenceLow: null,
      differenceHigh: null,
      significant: false,
      sufficientData: false,
    });
  });

  it("rejects a confidence level outside (0.5, 1) and identical versions, naming the argument", async () => {
    const level = await testApp.gql(COMPARE, {
      modelId: "ab-bot",
      baseline: "a",
      candidate: "b",
      confidenceLevel: 1.5,
    });
    expect(level.errors?.[0]?.extensions?.code).toBe("VALIDATION_FAILED");
    expect(level.errors?.[0]?.message).toMatch(/confidenceLevel/);
    const same = await testApp.gql(COMPARE, { modelId: "ab-bot", baseline: "a", candidate: "a" });
    expect(same.errors?.[0]?.extensions?.code).toBe("VALIDATION_FAILED");
    expect(same.errors?.[0]?.message).toMatch(/candidateVersion/);
  });
});
