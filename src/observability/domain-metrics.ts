import { Counter, type Registry } from "prom-client";
import type { DomainEvents } from "../events.js";
import type { FeedbackDoc } from "../store/documents.js";
import type { ModelLabeler } from "./model-labels.js";
import { metricNames } from "./thresholds.js";

/** A preference pair for DPO: a decided comparison, or a correction (edit = chosen, original = rejected). */
export function isPreferencePair(feedback: Pick<FeedbackDoc, "kind" | "comparison">): boolean {
  return (
    feedback.kind === "correction" ||
    (feedback.kind === "comparison" && feedback.comparison?.preferred !== "tie")
  );
}

export function isSafetyFlag(feedback: Pick<FeedbackDoc, "kind" | "flag">): boolean {
  return feedback.kind === "flag" && feedback.flag?.category === "safety";
}

/**
 * Counters fed by domain events, which the services emit after a write committed: no database
 * command is added to the write path. Labels are closed sets (kind, source, sentiment, and the
 * configured models plus `other`), so the number of series stays bounded whatever clients send.
 */
export function registerDomainMetrics(
  registry: Registry,
  events: DomainEvents,
  modelLabel: ModelLabeler,
): () => void {
  const perModel = (name: string, help: string) =>
    new Counter({ name, help, labelNames: ["model"] as const, registers: [registry] });
  const interactions = perModel(
    metricNames.interactionsRecorded,
    "Interactions stored (idempotent repeats not counted).",
  );
  const feedback = new Counter({
    name: metricNames.feedbackReceived,
    help: "Feedback items stored, by kind, source, derived sentiment and model (idempotent repeats not counted).",
    labelNames: ["kind", "source", "sentiment", "model"] as const,
    registers: [registry],
  });
  const safetyFlags = perModel(metricNames.safetyFlags, "Flags with category safety stored.");
  const corrections = perModel(metricNames.corrections, "Corrections stored.");
  const knowledgeGaps = perModel(
    metricNames.knowledgeGaps,
    "Feedback stored with failure category knowledge_gap.",
  );
  const preferencePairs = perModel(
    metricNames.preferencePairs,
    "Preference pairs stored: comparisons with a preferred side, and corrections.",
  );
  // Series exist from the start, so rate() sees the first increment.
  for (const model of modelLabel.values) {
    for (const counter of [interactions, safetyFlags, corrections, knowledgeGaps, preferencePairs])
      counter.inc({ model }, 0);
  }
  const unsubscribe = [
    events.on("interactionRecorded", (item) => interactions.inc({ model: modelLabel(item.model) })),
    events.on("feedbackRecorded", (item) => {
      const model = modelLabel(item.model);
      feedback.inc({ kind: item.kind, source: item.source, sentiment: item.sentiment, model });
      if (item.kind === "correction") corrections.inc({ model });
      if (isSafetyFlag(item)) safetyFlags.inc({ model });
      if (item.category === "knowledge_gap") knowledgeGaps.inc({ model });
      if (isPreferencePair(item)) preferencePairs.inc({ model });
    }),
  ];
  return () => {
    for (const stop of unsubscribe) stop();
  };
}
