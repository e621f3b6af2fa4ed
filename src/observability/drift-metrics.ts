import { Gauge, type Registry } from "prom-client";

/** What the drift gauges read; the audit provides it (observability imports no area). */
export interface DriftMetricsSource {
  /** The dimensions measured: the only values the `dimension` label takes. */
  readonly dimensions: readonly string[];
  readonly threshold: number;
  /** The newest stored drift report (written by the refresh job), if any. */
  latest(): Promise<{
    readonly dimensions: ReadonlyArray<{ dimension: string; divergence: number | null }>;
  } | null>;
}

/**
 * The training-data drift gauges: the Jensen–Shannon divergence (0..1) between the reference set
 * and live traffic per dimension, as the refresh job last stored it (read at each scrape, so API
 * and worker processes export the same figures), and the configured threshold beside it so an
 * alert rule can compare the two. A dimension without data has no series; a database that does
 * not answer leaves the divergence out of that scrape.
 */
export function registerDriftMetrics(registry: Registry, source: DriftMetricsSource): void {
  const known = new Set(source.dimensions);
  new Gauge({
    name: "loopgate_training_data_divergence",
    help: "Jensen-Shannon divergence (0..1) between the reference training data and live traffic, by dimension, from the last drift refresh.",
    labelNames: ["dimension"] as const,
    registers: [registry],
    async collect() {
      const report = await source.latest().catch(() => null);
      this.reset();
      for (const { dimension, divergence } of report?.dimensions ?? []) {
        if (known.has(dimension) && divergence !== null) this.set({ dimension }, divergence);
      }
    },
  });
  new Gauge({
    name: "loopgate_training_data_divergence_threshold",
    help: "Divergence above which the training data no longer represents live traffic (AUDIT_CONFIG threshold).",
    registers: [registry],
  }).set(source.threshold);
}
