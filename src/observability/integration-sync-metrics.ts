import { Counter, Gauge, type Registry } from "prom-client";

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
): IntegrationSyncObserver {
  const labelNames = ["integration", "direction"] as const;
  const items = new Counter({
    name: "loopgate_integration_items_synced_total",
    help: "Items an integration sync handed over (pushed to the service or pulled into Loopgate).",
    labelNames,
    registers: [registry],
  });
  const errors = new Counter({
    name: "loopgate_integration_errors_total",
    help: "Integration sync runs that ended in an error (each is retried as a job).",
    labelNames,
    registers: [registry],
  });
  for (const integration of source.integrations)
    for (const direction of source.directions) {
      items.inc({ integration, direction }, 0);
      errors.inc({ integration, direction }, 0);
    }
  new Gauge({
    name: "loopgate_integration_lag_seconds",
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
    synced: (integration, direction, count) => items.inc({ integration, direction }, count),
    failed: (integration, direction) => errors.inc({ integration, direction }),
  };
}
