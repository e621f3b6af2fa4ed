import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { metricNames } from "./thresholds.js";

/** Which way a sync moves items: to the external service, or from it into Loopgate. */
export type SyncDirection = "push" | "pull";

/**
 * What integrations report about their syncs (the integrations area receives this interface; it
 * never imports prom-client). Label values are closed sets: `integration` must be one of the names
 * given at registration (anything else is counted as `other`), `direction` push or pull.
 */
export interface IntegrationMetrics {
  /** Items a sync run moved (created or updated on the other side, or read into Loopgate). */
  itemsSynced(integration: string, direction: SyncDirection, count: number): void;
  /** A sync run, or an item of it, that failed. */
  syncError(integration: string, direction: SyncDirection): void;
  /** Outbound HTTP, in the shape of src/integrations/http.ts's `HttpMetricsHook`. */
  readonly http: {
    attempt(event: {
      integration: string;
      method: string;
      outcome: "success" | "http_error" | "timeout" | "network_error";
      statusClass: string;
      durationMs: number;
    }): void;
    retry(event: {
      integration: string;
      reason: "status" | "timeout" | "network";
      delayMs: number;
    }): void;
    circuitState(event: {
      integration: string;
      state: "closed" | "open" | "half_open" | "isolated";
    }): void;
    rejected(event: { integration: string }): void;
  };
}

const directions: readonly SyncDirection[] = ["push", "pull"];
const httpOutcomes = ["success", "http_error", "timeout", "network_error"] as const;
const circuitStates = ["closed", "open", "half_open", "isolated"] as const;
const methods = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]);
const statusClasses = new Set(["1xx", "2xx", "3xx", "4xx", "5xx", "none"]);

export function registerIntegrationMetrics(
  registry: Registry,
  integrations: readonly string[],
): IntegrationMetrics {
  const names = new Set(integrations);
  const name = (integration: string) => (names.has(integration) ? integration : "other");
  const direction = (value: string) =>
    directions.includes(value as SyncDirection) ? value : "other";
  const items = new Counter({
    name: metricNames.integrationItemsSynced,
    help: "Items moved by integration syncs, by integration and direction (push, pull).",
    labelNames: ["integration", "direction"] as const,
    registers: [registry],
  });
  const errors = new Counter({
    name: metricNames.integrationSyncErrors,
    help: "Failed integration sync runs or items, by integration and direction.",
    labelNames: ["integration", "direction"] as const,
    registers: [registry],
  });
  const requests = new Counter({
    name: metricNames.integrationRequests,
    help: "Outbound HTTP attempts of integrations, by integration, outcome and status class.",
    labelNames: ["integration", "outcome", "status_class"] as const,
    registers: [registry],
  });
  const requestDuration = new Histogram({
    name: "loopgate_integration_request_duration_seconds",
    help: "Duration of outbound HTTP attempts of integrations, by integration and method.",
    labelNames: ["integration", "method"] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const retries = new Counter({
    name: "loopgate_integration_retries_total",
    help: "Outbound HTTP retries of integrations, by integration and reason (status, timeout, network).",
    labelNames: ["integration", "reason"] as const,
    registers: [registry],
  });
  const circuit = new Gauge({
    name: "loopgate_integration_circuit_open",
    help: "1 while an integration's circuit breaker refuses calls (open or isolated), else 0.",
    labelNames: ["integration"] as const,
    registers: [registry],
  });
  const rejected = new Counter({
    name: "loopgate_integration_rejected_total",
    help: "Outbound calls refused without a network call because the circuit was open.",
    labelNames: ["integration"] as const,
    registers: [registry],
  });
  for (const integration of names) {
    circuit.set({ integration }, 0);
    for (const dir of directions) {
      items.inc({ integration, direction: dir }, 0);
      errors.inc({ integration, direction: dir }, 0);
    }
  }
  return {
    itemsSynced(integration, dir, count) {
      if (count > 0)
        items.inc({ integration: name(integration), direction: direction(dir) }, count);
    },
    syncError(integration, dir) {
      errors.inc({ integration: name(integration), direction: direction(dir) });
    },
    http: {
      attempt(event) {
        const integration = name(event.integration);
        requests.inc({
          integration,
          outcome: httpOutcomes.includes(event.outcome) ? event.outcome : "network_error",
          status_class: statusClasses.has(event.statusClass) ? event.statusClass : "none",
        });
        requestDuration.observe(
          { integration, method: methods.has(event.method) ? event.method : "other" },
          event.durationMs / 1000,
        );
      },
      retry(event) {
        retries.inc({ integration: name(event.integration), reason: event.reason });
      },
      circuitState(event) {
        const refusing = event.state === "open" || event.state === "isolated";
        if (circuitStates.includes(event.state))
          circuit.set({ integration: name(event.integration) }, refusing ? 1 : 0);
      },
      rejected(event) {
        rejected.inc({ integration: name(event.integration) });
      },
    },
  };
}
