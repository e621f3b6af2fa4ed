import type { FeedbackDoc, FeedbackSummary } from "../store/documents.js";

export const emptySummary: FeedbackSummary = {
  count: 0,
  positive: 0,
  negative: 0,
  hasCorrection: false,
  flagged: false,
  safetyFlagged: false,
  revision: 0,
  corrections: 0,
  flags: 0,
  safetyFlags: 0,
  ratings: 0,
};

/** What one feedback contributes to its interaction's digest. */
export type Counted = Pick<FeedbackDoc, "kind" | "sentiment" | "flag">;

/** The digest's counters, each a number a write adds to or takes from with `$inc`. */
export const tallyFields = [
  "count",
  "positive",
  "negative",
  "corrections",
  "flags",
  "safetyFlags",
  "ratings",
] as const;
export type Tally = Record<(typeof tallyFields)[number], number>;

/** One feedback's contribution, times `sign` (+1 when it becomes active, -1 when it leaves). */
export function tallyOf(feedback: Counted, sign: 1 | -1): Tally {
  return {
    count: sign,
    positive: feedback.sentiment === "positive" ? sign : 0,
    negative: feedback.sentiment === "negative" ? sign : 0,
    corrections: feedback.kind === "correction" ? sign : 0,
    flags: feedback.kind === "flag" ? sign : 0,
    safetyFlags: feedback.flag?.category === "safety" ? sign : 0,
    ratings: feedback.kind === "rating" ? sign : 0,
  };
}

export function addTallies(a: Tally, b: Tally): Tally {
  const sum = { ...a };
  for (const field of tallyFields) sum[field] += b[field];
  return sum;
}

/** The tallies a stored digest holds (older digests lack the newer counters: read as 0). */
export function talliesOf(summary: FeedbackSummary): Tally {
  return {
    count: summary.count,
    positive: summary.positive,
    negative: summary.negative,
    corrections: summary.corrections ?? 0,
    flags: summary.flags ?? 0,
    safetyFlags: summary.safetyFlags ?? 0,
    ratings: summary.ratings ?? 0,
  };
}

/** True when the digest has the counters incremental writes rely on. */
export function hasTallies(summary: FeedbackSummary): boolean {
  return (
    summary.corrections !== undefined &&
    summary.flags !== undefined &&
    summary.safetyFlags !== undefined &&
    summary.ratings !== undefined
  );
}

/**
 * Whether the active feedback these tallies describe could hold a disagreement
 * (conflicts/detect.ts): opposite sentiments, or two ratings. False means no conflict can exist,
 * so the conflict check can be skipped; true means it has to look.
 */
export function mayDisagree(tally: Tally): boolean {
  return (tally.positive > 0 && tally.negative > 0) || tally.ratings >= 2;
}

/** The interaction's digest, from its active feedback. */
export function summarize(active: ReadonlyArray<Counted>, revision: number): FeedbackSummary {
  const tally = active.reduce<Tally>((sum, feedback) => addTallies(sum, tallyOf(feedback, 1)), {
    count: 0,
    positive: 0,
    negative: 0,
    corrections: 0,
    flags: 0,
    safetyFlags: 0,
    ratings: 0,
  });
  return summaryOf(tally, revision);
}

/** The digest of a tally. Same field order as emptySummary: `$inc` keeps a stored digest in it. */
export function summaryOf(tally: Tally, revision: number): FeedbackSummary {
  return {
    count: tally.count,
    positive: tally.positive,
    negative: tally.negative,
    hasCorrection: tally.corrections > 0,
    flagged: tally.flags > 0,
    safetyFlagged: tally.safetyFlags > 0,
    revision,
    corrections: tally.corrections,
    flags: tally.flags,
    safetyFlags: tally.safetyFlags,
    ratings: tally.ratings,
  };
}
