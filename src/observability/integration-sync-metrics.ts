import { Gauge, type Registry } from "prom-client";
import type { IntegrationMetrics, SyncDirection } from "./integration-metrics.js";
import { metricNames } from "./thresholds.js";

/**
 * Integration sync metrics (LangSmith, Argilla, Label Studio). Labels are closed sets: the
 * integration names and the two directions. Items and errors are counted by the process that ran
 * the sync; lag is read on each scrape from the stored sync state, so every process reports the
 * same figure. Kept apart from the HTTP client's metrics so the two can be merged as one module.
 */
export interface IntegrationSyncMetricsSource {
  readonly integrations: readonly string[];
  readonly directions: readonly string[];
  /** Per integration and direction: when the last run that finished without error ended. */
  lastSuccess(): Promise<
    ReadonlyArray<{ integration: string; direction: string; at: Date | null }>
  >;
  now(): Date;
}

/** What syncs report through (the narrow hook the integrations area sees). */
export interface IntegrationSyncObserver {
  synced(integration: string, direction: string, items: number): void;
  failed(integration: string, direction: string): void;
}

export function registerIntegrationSyncMetrics(
  registry: Registry,
  source: IntegrationSyncMetricsSource,
  /** The counters (items, errors) live with the HTTP client's metrics in integration-metrics.ts. */
  counters: Pick<IntegrationMetrics, "itemsSynced" | "syncError">,
): IntegrationSyncObserver {
  const labelNames = ["integration", "direction"] as const;
  new Gauge({
    name: metricNames.integrationSyncLag,
    help: "Seconds since the last integration sync run that finished without error (absent before the first).",
    labelNames,
    registers: [registry],
    async collect() {
      this.reset();
      const rows = await source.lastSuccess().catch(() => []);
      const now = source.now().getTime();
      for (const row of rows)
        if (row.at)
          this.set(
            { integration: row.integration, direction: row.direction },
            Math.max(0, (now - row.at.getTime()) / 1000),
          );
    },
  });
  return {
    synced: (integration, direction, count) =>
      counters.itemsSynced(integration, direction as SyncDirection, count),
    failed: (integration, direction) => counters.syncError(integration, direction as SyncDirection),
  };
}
