import type { ObjectId } from "mongodb";

/**
 * Documents of the durable job queue (src/jobs/). Declared beside the other collections so the
 * store imports no area; the queue's semantics live in src/jobs/queue.ts.
 */
export const jobStates = ["queued", "running", "succeeded", "dead", "cancelled"] as const;
export type JobState = (typeof jobStates)[number];

/** How one attempt ended, as kept in a job's bounded attempt log. */
export const attemptOutcomes = ["succeeded", "failed", "lease_expired"] as const;
export type AttemptOutcome = (typeof attemptOutcomes)[number];

export interface JobAttemptRecord {
  readonly attempt: number;
  /** The worker that held the lease (host:pid:random). */
  readonly worker: string;
  readonly outcome: AttemptOutcome;
  readonly startedAt: Date | null;
  readonly finishedAt: Date;
  readonly error: string | null;
}

export interface JobError {
  readonly message: string;
  readonly attempt: number;
  readonly at: Date;
}

export interface JobDoc {
  _id: ObjectId;
  /** One of the job types registered in code (a closed set: metric labels stay bounded). */
  type: string;
  payload: Record<string, unknown>;
  state: JobState;
  /** The caller's de-duplication key, kept for display and for retryJob. */
  key: string | null;
  /**
   * Uniquely indexed and always present (the embedded store has no partial indexes): the caller's
   * key while the job holds it (queued, running, dead), else `~<id>` so the key can be reused.
   */
  dedupKey: string;
  /** Higher runs first. */
  priority: number;
  /** Not claimed before this time (delayed jobs, retry backoff). */
  runAt: Date;
  /** Claims so far, counted at claim time so crash loops also exhaust maxAttempts. */
  attempts: number;
  maxAttempts: number;
  /** Incremented by every claim and by cancelJob: a holder with an older token writes nothing. */
  fenceToken: number;
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  /** When the current attempt started (for the attempt log). */
  startedAt: Date | null;
  lastError: JobError | null;
  /** The last attempts, newest last (bounded). */
  attemptLog: JobAttemptRecord[];
  /** A handler's checkpoint, so a successor can resume. */
  progress: Record<string, unknown> | null;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
  /** Set on succeeded and cancelled jobs; a TTL index removes them after this time. */
  purgeAt?: Date;
}
