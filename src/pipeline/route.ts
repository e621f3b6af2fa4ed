import type { FailureCategory, FeedbackDoc, RouteName } from "../store/documents.js";
import type { PipelineConfig } from "./config.js";

/** Where each category goes when nothing sends it to expert review first. */
export const categoryRoutes: Readonly<Record<FailureCategory, RouteName>> = {
  safety: "guardrail",
  accuracy: "fine_tuning",
  knowledge_gap: "rag_update",
  format: "prompt_backlog",
  relevance: "prompt_backlog",
  feature_request: "product_backlog",
};

export interface Routing {
  readonly route: RouteName;
  readonly reason: string;
}

/**
 * The action router. Safety always reaches the guardrail at once; then open conflicts, low
 * quality scores and high-severity flags go to expert review; accuracy becomes fine-tuning data
 * once its group is frequent (an isolated report is checked by an expert first); the other
 * categories go to their team's queue. Uncategorized feedback is not routed.
 */
export function routeOf(input: {
  feedback: FeedbackDoc;
  category: FailureCategory | null;
  quality: number;
  frequency: number;
  openConflict: boolean;
  config: PipelineConfig;
}): Routing | null {
  const { category, config } = input;
  if (!category) return null;
  if (category === "safety") return { route: "guardrail", reason: "safety concern" };
  if (input.openConflict) {
    return { route: "expert_review", reason: `${category}: raters disagree (open conflict)` };
  }
  if (input.quality < config.reviewQualityBelow) {
    return { route: "expert_review", reason: `${category}: low quality score` };
  }
  const severity = input.feedback.flag?.severity;
  if (severity === "high" || severity === "critical") {
    return { route: "expert_review", reason: `${category}: ${severity} severity flag` };
  }
  if (category === "accuracy") {
    return input.frequency >= config.fineTuningMinFrequency
      ? { route: "fine_tuning", reason: "frequent accuracy issue" }
      : { route: "expert_review", reason: "accuracy: isolated report, to be verified" };
  }
  return { route: categoryRoutes[category], reason: category.replace("_", " ") };
}
