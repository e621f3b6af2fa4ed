import { Gauge, Histogram, type Registry } from "prom-client";
import { metricNames } from "./thresholds.js";

/** What the job metrics read; the queue provides it (observability imports no area). */
export interface JobMetricsSource {
  /** The registered job types: the only values the `type` label takes. */
  readonly types: readonly string[];
  stats(): Promise<{
    readonly counts: ReadonlyArray<{ type: string; state: string; count: number }>;
    readonly oldestRunnableSince: Date | null;
  }>;
  now(): Date;
}

const activeStates = ["queued", "running", "dead"] as const;
const outcomes = ["succeeded", "retried", "dead", "lease_lost", "abandoned"] as const;

/**
 * Queue metrics. Counts of active jobs and the lag are read from the database on each scrape
 * (the same figures from every process, API-only ones too: index-served, and bounded by the
 * active jobs, since finished ones only count in the run histogram). Run durations are observed
 * by the worker that ran them. Labels are closed sets: registered types, states, outcomes.
 */
export function registerJobMetrics(registry: Registry, source: JobMetricsSource) {
  const types = new Set(source.types);
  type Snapshot = Awaited<ReturnType<JobMetricsSource["stats"]>> | undefined;
  let last: Promise<Snapshot> | undefined;
  // One query set per scrape, shared by both gauges. A database that does not answer must not
  // take the process metrics down with it: the job gauges are then left out of that scrape.
  const snapshot = () => {
    last ??= source
      .stats()
      .catch(() => undefined)
      .finally(() => {
        setTimeout(() => {
          last = undefined;
        }, 100).unref();
      });
    return last;
  };
  new Gauge({
    name: metricNames.jobs,
    help: "Jobs by type and state (queued, running, dead); succeeded and cancelled ones are purged.",
    labelNames: ["type", "state"] as const,
    registers: [registry],
    async collect() {
      const stats = await snapshot();
      this.reset();
      if (!stats) return;
      const { counts } = stats;
      for (const type of types) for (const state of activeStates) this.set({ type, state }, 0);
      for (const { type, state, count } of counts) {
        if (types.has(type)) this.set({ type, state }, count);
      }
    },
  });
  new Gauge({
    name: metricNames.jobQueueLag,
    help: "Age of the oldest job that could run now (0 when none waits): rises when workers fall behind.",
    registers: [registry],
    async collect() {
      const stats = await snapshot();
      this.reset();
      if (!stats) return;
      const { oldestRunnableSince } = stats;
      this.set(
        oldestRunnableSince
          ? Math.max(0, (source.now().getTime() - oldestRunnableSince.getTime()) / 1000)
          : 0,
      );
    },
  });
  const runs = new Histogram({
    name: metricNames.jobRunDuration,
    help: "Duration of job runs in this process, by type and outcome.",
    labelNames: ["type", "outcome"] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
    registers: [registry],
  });
  return {
    runFinished(type: string, outcome: (typeof outcomes)[number], seconds: number) {
      if (types.has(type)) runs.observe({ type, outcome }, seconds);
    },
  };
}
