import { POST_WRITE_JOB } from "./feedback/outbox.js";
import { hexToObjectId } from "./ids.js";
import type { JobCatalog } from "./jobs/types.js";
import { DRIFT_JOB } from "./pipeline/audit.js";
import { RLAIF_JOB } from "./pipeline/rlaif.js";
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
