import { type Collection, type Filter, ObjectId } from "mongodb";
import type { Clock } from "../clock.js";
import { ConflictError, NotFoundError, ValidationError } from "../errors.js";
import { isDuplicateKeyOn } from "../store/errors.js";
import type { JobAttemptRecord, JobDoc, JobState } from "../store/job-doc.js";
import { type Page, type PageArgs, paginate } from "../store/pagination.js";
import { type BackoffPolicy, defaultBackoff } from "./backoff.js";
import type { Fence, JobTypePolicy } from "./types.js";

export const DEFAULT_MAX_ATTEMPTS = 5;
/** Longest de-duplication key accepted. */
export const MAX_KEY_LENGTH = 512;
/** Priorities run from -1000 (last) to 1000 (first); 0 is the default. */
export const MAX_PRIORITY = 1000;
/** Attempts kept in a job's log; older ones are dropped (the count stays in `attempts`). */
export const ATTEMPT_LOG_LENGTH = 10;
/** Error messages are cut to this length before they are stored. */
export const MAX_ERROR_LENGTH = 2_000;

/** How often a claim looks for expired leases before queued jobs. */
const EXPIRED_SWEEP_MS = 1_000;

const TYPE_NAME = /^[A-Za-z][A-Za-z0-9._:-]{0,63}$/;

export interface EnqueueOptions {
  /**
   * De-duplication key: while a job with this key is queued, running or dead, enqueueing the same
   * key again returns that job instead of making a second one. Succeeded and cancelled jobs
   * release their key.
   */
  readonly key?: string;
  /** Higher runs first (-1000..1000, default 0). */
  readonly priority?: number;
  /** Not before this time (delayed job). Default: now. */
  readonly runAt?: Date;
  /** Overrides the type's maxAttempts. */
  readonly maxAttempts?: number;
}

export interface EnqueueResult {
  readonly job: JobDoc;
  /** False when the key matched a job that already holds it. */
  readonly created: boolean;
}

export interface Claimed {
  readonly job: JobDoc;
  readonly fence: Fence;
  /** Set when the claim took over a lease that had expired (its holder died or stalled). */
  readonly expiredLeaseOf: string | null;
}

export interface JobStats {
  /** Active jobs (queued, running, dead) per registered type; finished ones are counters. */
  readonly counts: ReadonlyArray<{ type: string; state: JobState; count: number }>;
  /** When the oldest job that could run now became runnable; null when none waits. */
  readonly oldestRunnableSince: Date | null;
}

export interface JobListFilter {
  readonly type?: string | null;
  readonly state?: JobState | null;
}

/**
 * The queue's one interface (after twentyhq's message-queue driver): the worker, the GraphQL
 * admin fields, the metrics and the tests all go through it, never through the collection.
 */
export interface JobQueue {
  /** The closed set of job types, by name. */
  readonly types: ReadonlyMap<string, Required<JobTypePolicy>>;
  /**
   * Adds a job (one insert). Idempotent with a key: safe to call again after a crash, e.g. from a
   * sweeper that re-enqueues work whose pending marker is still set.
   */
  enqueue(
    type: string,
    payload: Record<string, unknown>,
    options?: EnqueueOptions,
  ): Promise<EnqueueResult>;
  /** Atomically leases the next runnable job of one of `types` (one findOneAndUpdate). */
  claim(types: readonly string[], worker: string, leaseMs: number): Promise<Claimed | null>;
  /** Extends the lease; false when it is no longer held. */
  heartbeat(fence: Fence, leaseMs: number): Promise<boolean>;
  /** Saves a checkpoint under the fence; false when the lease is no longer held. */
  checkpoint(fence: Fence, progress: Record<string, unknown>): Promise<boolean>;
  /** Marks the job succeeded; false (and nothing written) when the lease is no longer held. */
  complete(claimed: Claimed): Promise<boolean>;
  /**
   * Records a failed attempt: queued again at `retryAt`, or dead (keeping the error) when
   * `retryAt` is null. False when the lease is no longer held.
   */
  fail(claimed: Claimed, error: string, retryAt: Date | null): Promise<boolean>;
  /** Hands back a job claimed but never started (shutdown); the attempt is not counted. */
  release(fence: Fence): Promise<boolean>;
  /** Queues a dead, cancelled or waiting job to run now with a fresh set of attempts. */
  retry(id: ObjectId): Promise<JobDoc>;
  /** Cancels a queued, dead or running job; a running one loses its lease (its writes fail). */
  cancel(id: ObjectId): Promise<JobDoc>;
  get(id: ObjectId): Promise<JobDoc | null>;
  /** By hex id, in the order given (null for unknown or malformed ids): one query. */
  getMany(ids: readonly string[]): Promise<Array<JobDoc | null>>;
  /** Newest first, keyset-paginated. */
  list(filter: JobListFilter, args: PageArgs): Promise<Page<JobDoc>>;
  stats(): Promise<JobStats>;
  /** The delay before attempt `failedAttempt + 1` of a job of `type` (see backoff.ts). */
  backoffFor(type: string): BackoffPolicy;
}

export interface JobQueueDeps {
  readonly collection: Collection<JobDoc>;
  readonly clock: Clock;
  readonly types: readonly JobTypePolicy[];
  /** How long succeeded and cancelled jobs stay visible before the TTL index removes them. */
  readonly keepFinishedMs: number;
}

const released = (id: ObjectId) => `~${id.toHexString()}`;
const heldBy = (fence: Fence): Filter<JobDoc> => ({
  _id: fence.jobId,
  fenceToken: fence.token,
  state: "running",
});
const cut = (message: string) =>
  message.length > MAX_ERROR_LENGTH ? `${message.slice(0, MAX_ERROR_LENGTH - 1)}…` : message;

export function createJobQueue(deps: JobQueueDeps): JobQueue {
  const { collection, clock } = deps;
  const types = new Map<string, Required<JobTypePolicy>>();
  for (const policy of deps.types) {
    if (!TYPE_NAME.test(policy.name)) throw new Error(`invalid job type name: ${policy.name}`);
    if (types.has(policy.name)) throw new Error(`job type registered twice: ${policy.name}`);
    types.set(policy.name, {
      name: policy.name,
      maxAttempts: policy.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      backoff: policy.backoff ?? defaultBackoff,
      concurrency: policy.concurrency ?? Number.POSITIVE_INFINITY,
    });
  }
  const typeNames = () => [...types.keys()];
  let nextExpiredSweep = 0;

  const attemptRecord = (
    job: Pick<JobDoc, "attempts" | "leaseOwner" | "startedAt">,
    outcome: JobAttemptRecord["outcome"],
    error: string | null,
  ): JobAttemptRecord => ({
    attempt: job.attempts,
    worker: job.leaseOwner ?? "unknown",
    outcome,
    startedAt: job.startedAt,
    finishedAt: clock.now(),
    error,
  });
  const pushAttempt = (record: JobAttemptRecord) => ({
    attemptLog: { $each: [record], $slice: -ATTEMPT_LOG_LENGTH },
  });

  function validateEnqueue(type: string, options: EnqueueOptions) {
    const problems: Array<{ path: string; message: string }> = [];
    if (!types.has(type)) {
      problems.push({
        path: "type",
        message: `unknown job type (known: ${typeNames().join(", ")})`,
      });
    }
    if (
      options.key !== undefined &&
      (options.key.length === 0 || options.key.length > MAX_KEY_LENGTH)
    ) {
      problems.push({ path: "key", message: `must be 1 to ${MAX_KEY_LENGTH} characters` });
    }
    if (options.key?.startsWith("~")) {
      problems.push({ path: "key", message: "must not start with ~ (reserved)" });
    }
    const priority = options.priority ?? 0;
    if (!Number.isInteger(priority) || Math.abs(priority) > MAX_PRIORITY) {
      problems.push({
        path: "priority",
        message: `must be an integer from -${MAX_PRIORITY} to ${MAX_PRIORITY}`,
      });
    }
    const maxAttempts = options.maxAttempts;
    if (
      maxAttempts !== undefined &&
      (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 100)
    ) {
      problems.push({ path: "maxAttempts", message: "must be an integer from 1 to 100" });
    }
    if (problems.length > 0) throw new ValidationError(problems);
  }

  return {
    types,
    backoffFor: (type) => types.get(type)?.backoff ?? defaultBackoff,

    async enqueue(type, payload, options = {}) {
      validateEnqueue(type, options);
      const now = clock.now();
      const _id = new ObjectId();
      const doc: JobDoc = {
        _id,
        type,
        payload,
        state: "queued",
        key: options.key ?? null,
        dedupKey: options.key ?? released(_id),
        priority: options.priority ?? 0,
        runAt: options.runAt ?? now,
        attempts: 0,
        maxAttempts: options.maxAttempts ?? types.get(type)?.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
        fenceToken: 0,
        leaseOwner: null,
        leaseExpiresAt: null,
        startedAt: null,
        lastError: null,
        attemptLog: [],
        progress: null,
        createdAt: now,
        updatedAt: now,
        finishedAt: null,
      };
      // Insert first and read the holder only on a collision: the common case is one round trip,
      // and the unique index (not a read-then-write) is what makes two racing enqueues one job.
      for (let tries = 0; ; tries++) {
        try {
          await collection.insertOne(doc);
          return { job: doc, created: true };
        } catch (error) {
          if (!options.key || !isDuplicateKeyOn(error, "dedupKey")) throw error;
          const holder = await collection.findOne({ dedupKey: options.key });
          if (holder) return { job: holder, created: false };
          // The holder released the key between our insert and our read: insert again.
          if (tries >= 3) throw error;
        }
      }
    },

    async claim(claimTypes, worker, leaseMs) {
      if (claimTypes.length === 0) return null;
      const now = clock.now();
      const type = claimTypes.length === 1 ? claimTypes[0] : { $in: [...claimTypes] };
      const update = {
        $set: {
          state: "running" as const,
          leaseOwner: worker,
          leaseExpiresAt: new Date(now.getTime() + leaseMs),
          startedAt: now,
          updatedAt: now,
        },
        $inc: { attempts: 1, fenceToken: 1 },
      };
      // "before" tells a fresh claim from the takeover of an expired lease; the document after
      // the update follows from it exactly.
      const takeQueued = () =>
        collection.findOneAndUpdate(
          // `$not: {$gt}` is `$lte` for runAt (always a Date) written so that no planner takes
          // runAt as the range to scan: the claim index then yields priority order directly, one
          // entry per claim instead of a sort of the whole backlog.
          { state: "queued", type, runAt: { $not: { $gt: now } } } as Filter<JobDoc>,
          update,
          {
            sort: { priority: -1, runAt: 1 },
            hint: { state: 1, priority: -1, runAt: 1 },
            returnDocument: "before",
          },
        );
      const takeExpired = () =>
        collection.findOneAndUpdate(
          { state: "running", type, leaseExpiresAt: { $lte: now } } as Filter<JobDoc>,
          update,
          { sort: { leaseExpiresAt: 1 }, returnDocument: "before" },
        );
      // Expired leases are looked for when nothing is queued, and first at least once a second,
      // so a busy queue cannot starve a crashed worker's jobs.
      const sweepFirst = now.getTime() >= nextExpiredSweep;
      if (sweepFirst) nextExpiredSweep = now.getTime() + EXPIRED_SWEEP_MS;
      const before = sweepFirst
        ? ((await takeExpired()) ?? (await takeQueued()))
        : ((await takeQueued()) ?? (await takeExpired()));
      if (!before) return null;
      const job: JobDoc = {
        ...before,
        state: "running",
        leaseOwner: worker,
        leaseExpiresAt: new Date(now.getTime() + leaseMs),
        startedAt: now,
        updatedAt: now,
        attempts: before.attempts + 1,
        fenceToken: before.fenceToken + 1,
      };
      const fence = { jobId: job._id, token: job.fenceToken };
      const expiredLeaseOf = before.state === "running" ? (before.leaseOwner ?? "unknown") : null;
      if (expiredLeaseOf) {
        // The previous holder never reported: record its attempt so operators see the crash.
        const record = attemptRecord(
          before,
          "lease_expired",
          "lease expired before the attempt finished",
        );
        await collection.updateOne(heldBy(fence), {
          $set: {
            lastError: { message: record.error ?? "", attempt: before.attempts, at: now },
          },
          $push: pushAttempt(record),
        });
        job.lastError = { message: record.error ?? "", attempt: before.attempts, at: now };
        job.attemptLog = [...job.attemptLog, record].slice(-ATTEMPT_LOG_LENGTH);
      }
      return { job, fence, expiredLeaseOf };
    },

    async heartbeat(fence, leaseMs) {
      const now = clock.now();
      const result = await collection.updateOne(heldBy(fence), {
        $set: { leaseExpiresAt: new Date(now.getTime() + leaseMs) },
      });
      return result.matchedCount > 0;
    },

    async checkpoint(fence, progress) {
      const result = await collection.updateOne(heldBy(fence), {
        $set: { progress, updatedAt: clock.now() },
      });
      return result.matchedCount > 0;
    },

    async complete({ job, fence }) {
      const now = clock.now();
      const result = await collection.updateOne(heldBy(fence), {
        $set: {
          state: "succeeded",
          dedupKey: released(fence.jobId),
          leaseOwner: null,
          leaseExpiresAt: null,
          finishedAt: now,
          updatedAt: now,
          purgeAt: new Date(now.getTime() + deps.keepFinishedMs),
        },
        $push: pushAttempt(attemptRecord(job, "succeeded", null)),
      });
      return result.matchedCount > 0;
    },

    async fail({ job, fence }, error, retryAt) {
      const now = clock.now();
      const message = cut(error);
      const result = await collection.updateOne(heldBy(fence), {
        $set: {
          state: retryAt ? "queued" : "dead",
          runAt: retryAt ?? now,
          leaseOwner: null,
          leaseExpiresAt: null,
          updatedAt: now,
          finishedAt: retryAt ? null : now,
          lastError: { message, attempt: job.attempts, at: now },
        },
        $push: pushAttempt(attemptRecord(job, "failed", message)),
      });
      return result.matchedCount > 0;
    },

    async release(fence) {
      const result = await collection.updateOne(heldBy(fence), {
        $set: { state: "queued", leaseOwner: null, leaseExpiresAt: null, updatedAt: clock.now() },
        $inc: { attempts: -1 },
      });
      return result.matchedCount > 0;
    },

    async retry(id) {
      const now = clock.now();
      const existing = await collection.findOne({ _id: id });
      if (!existing) throw new NotFoundError("Job", id.toHexString());
      if (existing.state === "running" || existing.state === "succeeded") {
        throw new ConflictError(
          `job ${id.toHexString()} is ${existing.state}; only queued, dead or cancelled jobs can be retried`,
        );
      }
      try {
        const updated = await collection.findOneAndUpdate(
          { _id: id, state: { $in: ["queued", "dead", "cancelled"] } },
          {
            $set: {
              state: "queued",
              runAt: now,
              attempts: 0,
              // A cancelled job had released its key; take it back (fails if another job has it).
              dedupKey: existing.key ?? released(id),
              finishedAt: null,
              updatedAt: now,
            },
            $unset: { purgeAt: "" },
          },
          { returnDocument: "after" },
        );
        if (!updated) throw new ConflictError(`job ${id.toHexString()} changed state; try again`);
        return updated;
      } catch (error) {
        if (isDuplicateKeyOn(error, "dedupKey")) {
          throw new ConflictError(
            `another job holds the key ${JSON.stringify(existing.key)}; retry or cancel that one`,
          );
        }
        throw error;
      }
    },

    async cancel(id) {
      const now = clock.now();
      const updated = await collection.findOneAndUpdate(
        { _id: id, state: { $in: ["queued", "running", "dead"] } },
        {
          $set: {
            state: "cancelled",
            dedupKey: released(id),
            leaseOwner: null,
            leaseExpiresAt: null,
            finishedAt: now,
            updatedAt: now,
            purgeAt: new Date(now.getTime() + deps.keepFinishedMs),
          },
          // A running holder's token is now stale: its heartbeat, checkpoint and result all fail.
          $inc: { fenceToken: 1 },
        },
        { returnDocument: "after" },
      );
      if (updated) return updated;
      const existing = await collection.findOne({ _id: id });
      if (!existing) throw new NotFoundError("Job", id.toHexString());
      if (existing.state === "cancelled") return existing; // safe to repeat
      throw new ConflictError(`job ${id.toHexString()} already succeeded; nothing to cancel`);
    },

    get: (id) => collection.findOne({ _id: id }),

    async getMany(ids) {
      const valid = ids.filter((id) => ObjectId.isValid(id) && /^[0-9a-f]{24}$/i.test(id));
      const found =
        valid.length === 0
          ? []
          : await collection.find({ _id: { $in: valid.map((id) => new ObjectId(id)) } }).toArray();
      const byId = new Map(found.map((job) => [job._id.toHexString(), job]));
      return ids.map((id) => byId.get(id.toLowerCase()) ?? null);
    },

    list(filter, args) {
      const query: Filter<JobDoc> = {};
      if (filter.type) query.type = filter.type;
      if (filter.state) query.state = filter.state;
      return paginate(collection, query, args);
    },

    async stats() {
      const now = clock.now();
      const registered = typeNames();
      const [groups, oldestQueued, oldestExpired] = await Promise.all([
        collection
          .aggregate<{ _id: { type: string; state: JobState }; count: number }>([
            {
              $match: { state: { $in: ["queued", "running", "dead"] }, type: { $in: registered } },
            },
            { $group: { _id: { type: "$type", state: "$state" }, count: { $sum: 1 } } },
          ])
          .toArray(),
        collection.findOne(
          { state: "queued", runAt: { $lte: now } },
          { sort: { runAt: 1 }, projection: { runAt: 1 } },
        ),
        collection.findOne(
          { state: "running", leaseExpiresAt: { $lte: now } },
          { sort: { leaseExpiresAt: 1 }, projection: { leaseExpiresAt: 1 } },
        ),
      ]);
      const since = [oldestQueued?.runAt, oldestExpired?.leaseExpiresAt ?? undefined]
        .filter((time): time is Date => time instanceof Date)
        .sort((a, b) => a.getTime() - b.getTime());
      return {
        counts: groups.map((group) => ({
          type: group._id.type,
          state: group._id.state,
          count: group.count,
        })),
        oldestRunnableSince: since[0] ?? null,
      };
    },
  };
}
