import { collectDefaultMetrics, Registry } from "prom-client";

export interface Metrics {
  readonly registry: Registry;
}

/**
 * One registry per app instance (not prom-client's global one), so tests can build several apps in
 * one process without "metric already registered" errors.
 */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return { registry };
}
