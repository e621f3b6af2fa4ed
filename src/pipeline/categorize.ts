import { feedbackText } from "../feedback/client.js";
import type { FailureCategory, FeedbackDoc, InteractionDoc } from "../store/documents.js";
import type { CategoryRule } from "./config.js";

/** A categorizer beyond the rules (e.g. an LLM judge, src/pipeline/judge-categorizer.ts). */
export type Categorizer = (input: {
  feedback: FeedbackDoc;
  interaction: InteractionDoc | null;
}) => Promise<{ category: FailureCategory; by: string } | null>;

export interface Categorized {
  readonly category: FailureCategory;
  readonly by: string;
}

/** The rules compiled once: patterns are built when the pipeline is, not per feedback. */
export function compileRules(
  rules: readonly CategoryRule[],
): (feedback: FeedbackDoc) => Categorized | null {
  const compiled = rules.map((rule) => ({
    rule,
    pattern: rule.text ? new RegExp(rule.text, "i") : undefined,
  }));
  return (feedback) => {
    // What the rater or the flag said comes first: they know what went wrong.
    if (feedback.category) return { category: feedback.category, by: "rule:declared" };
    // Praise that mentions "format" or "error" is not a failure report.
    if (feedback.sentiment === "positive") return null;
    const text = feedbackText(feedback);
    for (const { rule, pattern } of compiled) {
      if (rule.kinds && !rule.kinds.includes(feedback.kind)) continue;
      if (rule.sentiment && rule.sentiment !== feedback.sentiment) continue;
      if (rule.flagCategory && rule.flagCategory !== feedback.flag?.category) continue;
      if (rule.keys && !rule.keys.includes(feedback.key)) continue;
      if (pattern && !pattern.test(text)) continue;
      return { category: rule.category, by: `rule:${rule.name}` };
    }
    return null;
  };
}

/**
 * Categorization: the rules first, then the extra categorizers in order, each asked only while
 * nothing matched and only about feedback that is not positive (a judge call per thumbs-up would
 * cost much and find no failure). A categorizer that fails is reported and skipped.
 */
export async function categorize(
  input: { feedback: FeedbackDoc; interaction: InteractionDoc | null },
  rules: (feedback: FeedbackDoc) => Categorized | null,
  extra: readonly Categorizer[],
  failed: (error: unknown) => void,
): Promise<Categorized | null> {
  const byRule = rules(input.feedback);
  if (byRule || input.feedback.sentiment === "positive") return byRule;
  for (const categorizer of extra) {
    try {
      const verdict = await categorizer(input);
      if (verdict) return verdict;
    } catch (error) {
      failed(error);
    }
  }
  return null;
}
