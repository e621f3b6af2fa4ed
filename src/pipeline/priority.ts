import { createHash } from "node:crypto";
import { normalizeText } from "../feedback/client.js";
import type { FailureCategory, FeedbackDoc, InteractionDoc } from "../store/documents.js";

/** How bad a failure of each category is (priority = severity × frequency). */
export const categorySeverity: Readonly<Record<FailureCategory, number>> = {
  safety: 5,
  accuracy: 3,
  knowledge_gap: 2,
  relevance: 2,
  format: 1,
  feature_request: 1,
};

/** A flag's own severity multiplies its category's. */
export const flagSeverityFactor = { low: 1, medium: 1.5, high: 2, critical: 3 } as const;

export function severityOf(category: FailureCategory, feedback: FeedbackDoc): number {
  return (
    categorySeverity[category] * (feedback.flag ? flagSeverityFactor[feedback.flag.severity] : 1)
  );
}

/** The query as a group key sees it: numbers become `#`, so "order 123" and "order 456" meet. */
export function normalizeQuery(query: string): string {
  return normalizeText(query).replace(/\p{N}+/gu, "#");
}

/**
 * Similar failures share a group: the category and a hash of the normalized query (the
 * interaction's, or a comparison's prompt).
 */
export function groupKeyOf(
  category: FailureCategory,
  feedback: FeedbackDoc,
  interaction: InteractionDoc | null,
): string {
  const query = interaction?.query ?? feedback.comparison?.prompt ?? "";
  const hash = createHash("sha256").update(normalizeQuery(query)).digest("hex").slice(0, 16);
  return `${category}:${hash}`;
}

export function priorityOf(severity: number, frequency: number): number {
  return Math.round(severity * frequency * 100) / 100;
}
