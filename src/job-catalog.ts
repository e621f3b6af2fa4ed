import { POST_WRITE_JOB } from "./feedback/outbox.js";
import { hexToObjectId } from "./ids.js";
import { SYNC_JOB, WEBHOOK_JOB } from "./integrations/sync/service.js";
import type { JobCatalog } from "./jobs/types.js";
import type { Services } from "./services.js";

/**
 * The job types of this build and their handlers. Each area that needs background work adds its
 * type here; handlers run under the job's system actor and call the same services as resolvers.
 */
export const jobCatalog: JobCatalog<Services> = {
  types: [
    { name: POST_WRITE_JOB, maxAttempts: 10 },
    // Syncs resume from their cursor; many attempts ride out a service's outage.
    { name: SYNC_JOB, maxAttempts: 25 },
    { name: WEBHOOK_JOB, maxAttempts: 10 },
  ],
  handlers: (services) => ({
    [POST_WRITE_JOB]: async ({ job }: { job: { payload: { feedbackId?: unknown } } }) => {
      const id = hexToObjectId(String(job.payload.feedbackId));
      if (!id) throw new Error(`${POST_WRITE_JOB} job without a valid feedbackId`);
      await services.outbox.finish(id);
    },
    [SYNC_JOB]: (context) => services.integrations.runSync(context),
    [WEBHOOK_JOB]: (context) => services.integrations.runWebhook(context),
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
