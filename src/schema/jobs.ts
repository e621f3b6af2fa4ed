import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "../errors.js";
import { ATTEMPT_LOG_LENGTH, MAX_ERROR_LENGTH } from "../jobs/queue.js";
import type { JobAttemptRecord, JobDoc, JobError } from "../store/job-doc.js";
import { builder } from "./builder.js";

/** Every type of the jobs area: the durable queue's admin view (src/jobs/). */

export const JobStateEnum = builder.enumType("JobState", {
  description: "Where a job is in its life.",
  values: {
    QUEUED: { value: "queued", description: "Waiting for its runAt and a free worker." },
    RUNNING: { value: "running", description: "Leased by a worker, which renews the lease." },
    SUCCEEDED: { value: "succeeded", description: "Done; purged after JOBS_KEEP_FINISHED_HOURS." },
    DEAD: {
      value: "dead",
      description: "Failed maxAttempts times; kept with its last error until retried or cancelled.",
    },
    CANCELLED: {
      value: "cancelled",
      description: "Stopped by an operator; purged after JOBS_KEEP_FINISHED_HOURS.",
    },
  } as const,
});

const JobAttemptOutcomeEnum = builder.enumType("JobAttemptOutcome", {
  description: "How one attempt ended.",
  values: {
    SUCCEEDED: { value: "succeeded", description: "The handler finished." },
    FAILED: { value: "failed", description: "The handler threw; `error` says what." },
    LEASE_EXPIRED: {
      value: "lease_expired",
      description: "The worker died or stalled; another worker took the job over.",
    },
  } as const,
});

const JobErrorType = builder.objectRef<JobError>("JobError").implement({
  description: "The error of a failed attempt.",
  fields: (t) => ({
    message: t.exposeString("message", {
      description: `The error's name and message (at most ${MAX_ERROR_LENGTH} characters).`,
    }),
    attempt: t.exposeInt("attempt", { description: "Which attempt failed (1 is the first)." }),
    at: t.expose("at", { type: "DateTime", description: "When it failed." }),
  }),
});

const JobAttemptType = builder.objectRef<JobAttemptRecord>("JobAttempt").implement({
  description: "One attempt at running a job.",
  fields: (t) => ({
    attempt: t.exposeInt("attempt", { description: "1 for the first attempt." }),
    worker: t.exposeString("worker", { description: "The worker process (host:pid:random)." }),
    outcome: t.field({
      type: JobAttemptOutcomeEnum,
      description: "How it ended.",
      resolve: (record) => record.outcome,
    }),
    startedAt: t.expose("startedAt", {
      type: "DateTime",
      nullable: true,
      description: "When the worker claimed the job.",
    }),
    finishedAt: t.expose("finishedAt", {
      type: "DateTime",
      description: "When the outcome was recorded.",
    }),
    error: t.exposeString("error", { nullable: true, description: "The error, when it failed." }),
  }),
});

export const JobRef = builder.objectRef<JobDoc>("Job");
builder.node(JobRef, {
  description:
    "Work that no request started (pipeline steps, syncs, retraining), run by a worker at least once: handlers are idempotent.",
  authScopes: { admin: true },
  id: { resolve: (job) => job._id.toHexString() },
  isTypeOf: (value) =>
    typeof value === "object" && value !== null && "fenceToken" in value && "dedupKey" in value,
  loadMany: (ids, context) => context.services.jobs.getMany(ids),
  fields: (t) => ({
    type: t.exposeString("type", { description: "The job type (a fixed set, declared in code)." }),
    state: t.field({
      type: JobStateEnum,
      description: "Where it is.",
      resolve: (job) => job.state,
    }),
    payload: t.field({
      type: "JSONObject",
      description: "The job's input, as enqueued.",
      resolve: (job) => job.payload,
    }),
    key: t.exposeString("key", {
      nullable: true,
      description:
        "De-duplication key: while this job is queued, running or dead, enqueueing the same key returns it instead of a new job.",
    }),
    priority: t.exposeInt("priority", { description: "Higher runs first (-1000 to 1000)." }),
    runAt: t.expose("runAt", {
      type: "DateTime",
      description: "Not run before this time (a delayed job, or the backoff after a failure).",
    }),
    attemptCount: t.int({
      description:
        "Attempts so far, counted when a worker claims the job (so crashed attempts count too).",
      resolve: (job) => job.attempts,
    }),
    maxAttempts: t.exposeInt("maxAttempts", {
      description: "Attempts allowed before the job is dead.",
    }),
    attempts: t.field({
      type: [JobAttemptType],
      description: `The last ${ATTEMPT_LOG_LENGTH} attempts, oldest first.`,
      resolve: (job) => job.attemptLog,
    }),
    lastError: t.field({
      type: JobErrorType,
      nullable: true,
      description: "The latest failure, kept when the job is dead.",
      resolve: (job) => job.lastError,
    }),
    leaseOwner: t.exposeString("leaseOwner", {
      nullable: true,
      description: "The worker running it now.",
    }),
    leaseExpiresAt: t.expose("leaseExpiresAt", {
      type: "DateTime",
      nullable: true,
      description: "When another worker may take it over unless the lease is renewed.",
    }),
    progress: t.field({
      type: "JSONObject",
      nullable: true,
      description: "The handler's last checkpoint, from which the next attempt resumes.",
      resolve: (job) => job.progress,
    }),
    createdAt: t.expose("createdAt", { type: "DateTime", description: "When it was enqueued." }),
    updatedAt: t.expose("updatedAt", { type: "DateTime", description: "When it last changed." }),
    finishedAt: t.expose("finishedAt", {
      type: "DateTime",
      nullable: true,
      description: "When it succeeded, went dead or was cancelled.",
    }),
  }),
});

export const RetryJobResult = builder.errorUnion("RetryJobResult", {
  description: "The job, queued to run now, or why it was not.",
  types: [JobRef, ValidationError, NotFoundError, ConflictError, ForbiddenError],
});

export const CancelJobResult = builder.errorUnion("CancelJobResult", {
  description: "The cancelled job, or why it was not cancelled.",
  types: [JobRef, ValidationError, NotFoundError, ConflictError, ForbiddenError],
});
