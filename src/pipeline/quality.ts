import type { FeedbackDoc, FeedbackSource, RaterTrustDoc } from "../store/documents.js";

/** How reliable each source is before anything is known about the rater. */
export const sourcePriors: Readonly<Record<FeedbackSource, number>> = {
  expert: 0.9,
  rule: 0.8,
  llm_judge: 0.7,
  cross_model: 0.6,
  user: 0.6,
};

/** Share of the distinct raters the majority needs for consensus. */
export const CONSENSUS_SHARE = 2 / 3;

/** Laplace-smoothed agreement: 0.5 for a rater nobody judged yet. */
export function trustOf(agreements: number, disagreements: number): number {
  return (agreements + 1) / (agreements + disagreements + 2);
}

/**
 * Quality scoring: 0.4 × the source's prior + 0.45 × the rater's trust (agreement with
 * consensus) + 0.15 × trust weighted by experience (how much of the rater's history was checked
 * against consensus). Raters who keep disagreeing with consensus sink towards 0.24 for users;
 * filtered feedback scores 0.
 */
export function qualityScore(
  feedback: Pick<FeedbackDoc, "source" | "raterKey">,
  trust: RaterTrustDoc | undefined,
  filtered: boolean,
): number {
  if (filtered) return 0;
  const judged = trust ? trust.agreements + trust.disagreements : 0;
  const rate = trust ? trust.trust : 0.5;
  const experience = judged / (judged + 10);
  const score = 0.4 * sourcePriors[feedback.source] + 0.45 * rate + 0.15 * experience * rate;
  return Math.round(Math.min(1, Math.max(0, score)) * 1_000) / 1_000;
}

export interface Vote {
  readonly rater: string;
  readonly subject: string;
  readonly agrees: boolean;
}

/**
 * Consensus per answer: among counted (active, unfiltered, original) positive or negative
 * feedback, one vote per rater (the newest), a majority of at least CONSENSUS_SHARE of at least
 * `minRaters` distinct raters. Each of those raters agrees or disagrees with it.
 */
export function consensusVotes(counted: readonly FeedbackDoc[], minRaters: number): Vote[] {
  const bySubject = new Map<string, Map<string, FeedbackDoc>>();
  for (const feedback of counted) {
    if (!feedback.raterKey || feedback.sentiment === "neutral") continue;
    const raters = bySubject.get(feedback.subject) ?? new Map<string, FeedbackDoc>();
    const previous = raters.get(feedback.raterKey);
    if (!previous || previous._id.toHexString() < feedback._id.toHexString()) {
      raters.set(feedback.raterKey, feedback);
    }
    bySubject.set(feedback.subject, raters);
  }
  const votes: Vote[] = [];
  for (const [subject, raters] of bySubject) {
    if (raters.size < minRaters) continue;
    const positive = [...raters.values()].filter((f) => f.sentiment === "positive").length;
    const negative = raters.size - positive;
    const majority = positive >= negative ? "positive" : "negative";
    if (Math.max(positive, negative) / raters.size < CONSENSUS_SHARE) continue;
    for (const [rater, feedback] of raters) {
      votes.push({ rater, subject, agrees: feedback.sentiment === majority });
    }
  }
  return votes;
}
