import type { FeedbackDoc, FeedbackSummary } from "../store/documents.js";

export const emptySummary: FeedbackSummary = {
  count: 0,
  positive: 0,
  negative: 0,
  hasCorrection: false,
  flagged: false,
  safetyFlagged: false,
  revision: 0,
};

/** The interaction's digest, from its active feedback. */
export function summarize(
  active: ReadonlyArray<Pick<FeedbackDoc, "kind" | "sentiment" | "flag">>,
  revision: number,
): FeedbackSummary {
  return {
    count: active.length,
    positive: active.filter((feedback) => feedback.sentiment === "positive").length,
    negative: active.filter((feedback) => feedback.sentiment === "negative").length,
    hasCorrection: active.some((feedback) => feedback.kind === "correction"),
    flagged: active.some((feedback) => feedback.kind === "flag"),
    safetyFlagged: active.some((feedback) => feedback.flag?.category === "safety"),
    revision,
  };
}
