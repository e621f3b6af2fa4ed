import type { ObjectId } from "mongodb";
import type { ConflictReason, FeedbackDoc } from "../store/documents.js";

export interface Disagreement {
  readonly reasons: ConflictReason[];
  readonly feedbackIds: ObjectId[];
  readonly raterCount: number;
  readonly positive: number;
  readonly negative: number;
}

/** Ratings from different raters more than this far apart (share of the scale) disagree: on 1–5,
 * 3 and 5 are an ordinary difference of taste, 1 and 4 are not. */
export const RATING_SPREAD_THRESHOLD = 0.5;

type Judged = Pick<FeedbackDoc, "_id" | "kind" | "key" | "sentiment" | "raterKey" | "rating">;

const raterOf = (feedback: Judged) => feedback.raterKey ?? `feedback:${feedback._id.toHexString()}`;

/**
 * The seed's "same query, different ratings": different raters judging one answer in opposite
 * directions, or rating it far apart on one key. Implicit signals and comparisons are left out:
 * they are not judgements of the answer by a rater.
 */
export function detectDisagreement(active: readonly Judged[]): Disagreement | null {
  const judged = active.filter(
    (feedback) => feedback.kind !== "implicit" && feedback.kind !== "comparison",
  );
  const reasons: ConflictReason[] = [];
  const involved = new Map<string, Judged>();

  const positives = judged.filter((feedback) => feedback.sentiment === "positive");
  const negatives = judged.filter((feedback) => feedback.sentiment === "negative");
  const positiveRaters = new Set(positives.map(raterOf));
  const negativeRaters = new Set(negatives.map(raterOf));
  const opposed = [...positiveRaters].some((rater) =>
    [...negativeRaters].some((other) => other !== rater),
  );
  if (opposed) {
    reasons.push("sentiment_disagreement");
    for (const feedback of [...positives, ...negatives])
      involved.set(feedback._id.toHexString(), feedback);
  }

  const ratingsByKey = new Map<string, Judged[]>();
  for (const feedback of judged) {
    if (feedback.kind !== "rating" || !feedback.rating) continue;
    ratingsByKey.set(feedback.key, [...(ratingsByKey.get(feedback.key) ?? []), feedback]);
  }
  for (const ratings of ratingsByKey.values()) {
    if (new Set(ratings.map(raterOf)).size < 2) continue;
    const values = ratings.map((feedback) => feedback.rating?.normalized ?? 0);
    if (Math.max(...values) - Math.min(...values) > RATING_SPREAD_THRESHOLD) {
      if (!reasons.includes("rating_spread")) reasons.push("rating_spread");
      for (const feedback of ratings) involved.set(feedback._id.toHexString(), feedback);
    }
  }

  if (reasons.length === 0) return null;
  const members = [...involved.values()];
  return {
    reasons,
    feedbackIds: members.map((feedback) => feedback._id),
    raterCount: new Set(members.map(raterOf)).size,
    positive: members.filter((feedback) => feedback.sentiment === "positive").length,
    negative: members.filter((feedback) => feedback.sentiment === "negative").length,
  };
}
