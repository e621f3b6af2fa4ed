import type { FeedbackDoc, FeedbackKind, ImplicitSignal, Sentiment } from "../store/documents.js";

/** Ratings at or above this share of the scale count as positive (4 and 5 of 1–5). */
export const POSITIVE_RATING_THRESHOLD = 0.75;
/** Ratings at or below this share count as negative (1 and 2 of 1–5); 3 of 5 is neutral. */
export const NEGATIVE_RATING_THRESHOLD = 0.25;

const implicitSentiment: Record<ImplicitSignal, Sentiment> = {
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

/** Where 0 is the worst and 1 the best rating, whichever way the key's scale runs. */
export function normalizeRating(
  score: number,
  min: number,
  max: number,
  lowerIsBetter: boolean,
): number {
  const share = (score - min) / (max - min);
  return lowerIsBetter ? 1 - share : share;
}

type SentimentInput = Pick<FeedbackDoc, "kind" | "binary" | "rating" | "implicit"> & {
  readonly declared?: Sentiment;
};

/** The polarity every aggregate and conflict check uses; one rule per kind. */
export function sentimentOf(feedback: SentimentInput): Sentiment {
  switch (feedback.kind) {
    case "binary":
      return feedback.binary?.positive ? "positive" : "negative";
    case "rating": {
      const normalized = feedback.rating?.normalized ?? 0.5;
      if (normalized >= POSITIVE_RATING_THRESHOLD) return "positive";
      if (normalized <= NEGATIVE_RATING_THRESHOLD) return "negative";
      return "neutral";
    }
    case "correction":
    case "flag":
      return "negative";
    case "implicit":
      return feedback.implicit ? implicitSentiment[feedback.implicit.signal] : "neutral";
    case "comment":
      return feedback.declared ?? "neutral";
    case "comparison":
      return "neutral";
  }
}

/**
 * Kinds where a rater's newer feedback replaces the older on the same interaction and key ("a
 * user changing their mind"). Comments, implicit signals and flags accumulate instead.
 */
export function supersedesEarlier(kind: FeedbackKind): boolean {
  return kind === "binary" || kind === "rating" || kind === "correction" || kind === "comparison";
}

/** Kinds counted by the positive-feedback rate: explicit judgements of one answer. */
export const judgementKinds: readonly FeedbackKind[] = ["binary", "rating"];
