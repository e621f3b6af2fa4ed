import { Gauge, type Registry } from "prom-client";
import type { DomainEvents } from "../events.js";

/**
 * The training-data drift gauges: the Jensen–Shannon divergence (0..1) between the reference set
 * and live traffic per dimension, as the audit's refresh job last measured it, and the configured
 * threshold beside it so an alert rule can compare the two. Dimensions are a closed set (the
 * fixed ones plus the configured segment fields); a dimension without data has no series.
 */
export function registerDriftMetrics(
  registry: Registry,
  events: Pick<DomainEvents, "on">,
  options: { readonly dimensions: readonly string[]; readonly threshold: number },
): () => void {
  const known = new Set(options.dimensions);
  const divergence = new Gauge({
    name: "loopgate_training_data_divergence",
    help: "Jensen-Shannon divergence (0..1) between the reference training data and live traffic, by dimension, from the last drift refresh.",
    labelNames: ["dimension"] as const,
    registers: [registry],
  });
  new Gauge({
    name: "loopgate_training_data_divergence_threshold",
    help: "Divergence above which the training data no longer represents live traffic (AUDIT_CONFIG threshold).",
    registers: [registry],
  }).set(options.threshold);
  return events.on("driftMeasured", (measured) => {
    for (const { dimension, divergence: value } of measured.dimensions) {
      if (!known.has(dimension)) continue;
      if (value === null) divergence.remove({ dimension });
      else divergence.set({ dimension }, value);
    }
  });
}
