import { Counter, type Registry } from "prom-client";
import type { DomainEvents } from "../events.js";

/**
 * Counters fed by domain events. Labels are closed sets (kind, source, sentiment) so the number
 * of series stays bounded whatever clients send; per-model figures come from the aggregates.
 */
export function registerDomainMetrics(registry: Registry, events: DomainEvents): () => void {
  const interactions = new Counter({
    name: "loopgate_interactions_recorded_total",
    help: "Interactions stored (idempotent repeats not counted).",
    registers: [registry],
  });
  const feedback = new Counter({
    name: "loopgate_feedback_received_total",
    help: "Feedback items stored, by kind, source and derived sentiment (idempotent repeats not counted).",
    labelNames: ["kind", "source", "sentiment"] as const,
    registers: [registry],
  });
  const unsubscribe = [
    events.on("interactionRecorded", () => interactions.inc()),
    events.on("feedbackRecorded", (item) =>
      feedback.inc({ kind: item.kind, source: item.source, sentiment: item.sentiment }),
    ),
  ];
  return () => {
    for (const stop of unsubscribe) stop();
  };
}
