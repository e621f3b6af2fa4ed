import { BUILD_JOB } from "./datasets/snapshots.js";
import { POST_WRITE_JOB } from "./feedback/outbox.js";
import { hexToObjectId } from "./ids.js";
import { DATASET_PUSH_JOB } from "./integrations/sync/langsmith-datasets.js";
import { SYNC_JOB, WEBHOOK_JOB } from "./integrations/sync/service.js";
import { type JobCatalog, type JobContext, LeaseLostError } from "./jobs/types.js";
import { AGREEMENT_JOB } from "./pipeline/agreement-reports.js";
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
    { name: BUILD_JOB, maxAttempts: 3, concurrency: 1 },
    { name: AGREEMENT_JOB, maxAttempts: 3, concurrency: 1 },
    // Syncs resume from their cursor; many attempts ride out a service's outage.
    { name: SYNC_JOB, maxAttempts: 25 },
    { name: WEBHOOK_JOB, maxAttempts: 10 },
    // A push resumes from its checkpoint; one at a time keeps LangSmith's rate limits in reach.
    { name: DATASET_PUSH_JOB, maxAttempts: 25, concurrency: 1 },
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
    [BUILD_JOB]: async (context: JobContext<{ snapshotId?: unknown }>) => {
      const id = hexToObjectId(String(context.job.payload.snapshotId));
      if (!id) throw new Error(`${BUILD_JOB} job without a valid snapshotId`);
      try {
        await services.datasets.build(id, {
          progress: (progress) => context.checkpoint(progress),
          fenced: (collection) => context.fenced(collection),
        });
      } catch (error) {
        // The last attempt leaves the snapshot failed rather than building forever.
        if (context.job.attempt >= context.job.maxAttempts && !(error instanceof LeaseLostError)) {
          await services.datasets.fail(id, String((error as Error).message ?? error));
        }
        throw error;
      }
    },
    [AGREEMENT_JOB]: async (context: JobContext<{ key?: unknown }>) => {
      const key = typeof context.job.payload.key === "string" ? context.job.payload.key : null;
      await services.agreement.compute({
        key,
        onKey: async (done, index, of) => {
          await context.checkpoint({ key: done, done: index, of });
          // Shutdown or a lost lease stops between keys; the next attempt recomputes them all.
          context.signal.throwIfAborted();
        },
      });
    },
    [SYNC_JOB]: (context) => services.integrations.runSync(context),
    [WEBHOOK_JOB]: (context) => services.integrations.runWebhook(context),
    [DATASET_PUSH_JOB]: (context) => services.integrations.runDatasetPush(context),
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
