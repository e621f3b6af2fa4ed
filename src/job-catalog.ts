import type { JobCatalog } from "./jobs/types.js";
import type { Services } from "./services.js";

/**
 * The job types of this build. Empty until the first area needs background work: the post-write
 * outbox, the pipeline, syncs and retraining each add their type and handler here.
 */
export const jobCatalog: JobCatalog<Services> = {
  types: [],
  handlers: () => ({}),
};
