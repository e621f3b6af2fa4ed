import { POST_WRITE_JOB } from "./feedback/outbox.js";
import { hexToObjectId } from "./ids.js";
import type { JobCatalog } from "./jobs/types.js";
import { DRIFT_JOB } from "./pipeline/audit.js";
import { GUARDRAIL_JOB } from "./pipeline/guardrail.js";
import { RLAIF_JOB } from "./pipeline/rlaif.js";
import { BACKFILL_JOB, PROCESS_JOB } from "./pipeline/service.js";
import type { Services } from "./services.js";

/**
 * The job types of this build and their handlers. Each area that needs background work adds its
 * type here; handlers run under the job's system actor and call the same services as resolvers.
 */
export const jobCatalog: JobCatalog<Services> = {
  types: [
    { name: POST_WRITE_JOB, maxAttempts: 10 },
    { name: RLAIF_JOB, maxAttempts: 5, concurrency: 1 },
    { name: DRIFT_JOB, maxAttempts: 3, concurrency: 1 },
    // The pipeline: one batch processor and one backfill per process at a time; guardrail
    // events retry quickly at first (they are meant to arrive within seconds), then back off.
    { name: PROCESS_JOB, maxAttempts: 10, concurrency: 1 },
    { name: BACKFILL_JOB, maxAttempts: 20, concurrency: 1 },
    { name: GUARDRAIL_JOB, maxAttempts: 12, backoff: { baseMs: 1_000, maxMs: 10 * 60_000 } },
  ],
  handlers: (services) => ({
    [POST_WRITE_JOB]: async ({ job }: { job: { payload: { feedbackId?: unknown } } }) => {
      const id = hexToObjectId(String(job.payload.feedbackId));
      if (!id) throw new Error(`${POST_WRITE_JOB} job without a valid feedbackId`);
      await services.outbox.finish(id);
    },
    [RLAIF_JOB]: async ({ job, signal, checkpoint }) => {
      const runId = hexToObjectId(job.id);
      if (!runId) throw new Error(`${RLAIF_JOB} job without a valid id`);
      await services.judges.run({ runId, signal, progress: job.progress, checkpoint });
    },
    [DRIFT_JOB]: async () => {
      await services.audit.refresh();
    },
    [PROCESS_JOB]: async ({ signal }: { signal: AbortSignal }) => {
      await services.pipeline.processPending(signal);
    },
    [BACKFILL_JOB]: async (context: Parameters<Services["pipeline"]["backfill"]>[0]) => {
      await services.pipeline.backfill(context);
    },
    [GUARDRAIL_JOB]: async ({
      job,
      signal,
    }: {
      job: { payload: Record<string, unknown> };
      signal: AbortSignal;
    }) => {
      await services.pipeline.deliverGuardrail(job.payload, signal);
    },
  }),
};

/** This build's catalog plus extra types (tests declare their own beside the built-in ones). */
export function withJobTypes(extra: JobCatalog<Services> | undefined): JobCatalog<Services> {
  if (!extra) return jobCatalog;
  return {
    types: [...jobCatalog.types, ...extra.types],
    handlers: (services) => ({ ...jobCatalog.handlers(services), ...extra.handlers(services) }),
  };
}
