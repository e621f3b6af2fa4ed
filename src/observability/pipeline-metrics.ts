import { Counter, type Registry } from "prom-client";

/** What the pipeline reports per batch (structural: observability imports no area). */
interface BatchOutcomeLike {
  readonly processed: number;
  readonly duplicates: number;
  readonly filtered: number;
  readonly routed: Partial<Record<string, number>>;
  readonly guardrail: readonly unknown[];
}

/** The routes of the action router: a closed set, so the label cannot grow. */
const routes = [
  "fine_tuning",
  "guardrail",
  "rag_update",
  "prompt_backlog",
  "product_backlog",
  "expert_review",
] as const;

/**
 * `loopgate_pipeline_feedback_total{outcome}` and `loopgate_pipeline_routed_total{route}` count
 * processing results (re-runs of a backfill count again); `loopgate_guardrail_events_total`
 * counts feedback newly routed to the guardrail, once per feedback.
 */
export function registerPipelineMetrics(
  registry: Registry,
  source: { onBatch(listener: (outcome: BatchOutcomeLike) => void): () => void },
): () => void {
  const feedback = new Counter({
    name: "loopgate_pipeline_feedback_total",
    help: "Feedback processed by the pipeline, by outcome (counted, duplicate, filtered).",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const routed = new Counter({
    name: "loopgate_pipeline_routed_total",
    help: "Processed feedback by the route the action router chose.",
    labelNames: ["route"] as const,
    registers: [registry],
  });
  const guardrail = new Counter({
    name: "loopgate_guardrail_events_total",
    help: "Safety feedback newly routed to the guardrail (each also queues the signed webhook).",
    registers: [registry],
  });
  for (const outcome of ["counted", "duplicate", "filtered"]) feedback.inc({ outcome }, 0);
  for (const route of routes) routed.inc({ route }, 0);
  guardrail.inc(0);
  return source.onBatch((outcome) => {
    feedback.inc({ outcome: "duplicate" }, outcome.duplicates);
    feedback.inc({ outcome: "filtered" }, outcome.filtered);
    feedback.inc(
      { outcome: "counted" },
      Math.max(0, outcome.processed - outcome.duplicates - outcome.filtered),
    );
    for (const route of routes) {
      const count = outcome.routed[route];
      if (count) routed.inc({ route }, count);
    }
    if (outcome.guardrail.length > 0) guardrail.inc(outcome.guardrail.length);
  });
}
