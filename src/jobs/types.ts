import type { Collection, Document, ObjectId } from "mongodb";
import type { SystemActor } from "../auth/actor.js";
import type { BackoffPolicy } from "./backoff.js";
import type { FencedCollection } from "./fence.js";

/**
 * One job type, declared in code. The set of types is closed: metric labels and the `type`
 * filter of the GraphQL `jobs` field only ever see these names.
 */
export interface JobTypePolicy {
  /** Letters, digits, `.`, `_`, `-` and `:`; at most 64 characters. */
  readonly name: string;
  /** Claims before the job is dead (a claim whose lease expires counts too). Default 5. */
  readonly maxAttempts?: number;
  readonly backoff?: BackoffPolicy;
  /** Jobs of this type one worker process runs at once. Default: the worker's concurrency. */
  readonly concurrency?: number;
}

/**
 * Proof of holding a job's lease: the job and the token its claim minted. Every write a running
 * job makes carries it; a write under an older token than the store has seen is refused.
 */
export interface Fence {
  readonly jobId: ObjectId;
  readonly token: number;
}

export interface RunningJob<Payload = Record<string, unknown>> {
  readonly id: string;
  readonly type: string;
  readonly payload: Payload;
  readonly key: string | null;
  /** 1 for the first attempt. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** The last checkpoint a previous attempt saved, to resume from. */
  readonly progress: Record<string, unknown> | null;
}

/** What a handler receives. Handlers must be idempotent: delivery is at least once. */
export interface JobContext<Payload = Record<string, unknown>> {
  readonly job: RunningJob<Payload>;
  /** Aborted when the lease is lost, the job is cancelled, or shutdown's timeout passes. */
  readonly signal: AbortSignal;
  readonly fence: Fence;
  /** Who the work is done as, for audit fields. */
  readonly actor: SystemActor;
  /** Saves progress on the job under the fence; throws LeaseLostError if the lease is gone. */
  checkpoint(progress: Record<string, unknown>): Promise<void>;
  /** Writes to another collection that a holder of a newer lease on this job cannot lose. */
  fenced<T extends Document>(collection: Collection<T>): FencedCollection<T>;
}

export type JobHandler<Payload = Record<string, unknown>> = (
  context: JobContext<Payload>,
) => Promise<void>;

/** The job's lease is no longer held: another worker may own it, so nothing may be written. */
export class LeaseLostError extends Error {
  constructor(message = "the job's lease was lost (expired, taken over or cancelled)") {
    super(message);
    this.name = "LeaseLostError";
  }
}

/** A fenced write met a document already written under a newer lease of the same job. */
export class FenceRefusedError extends LeaseLostError {
  constructor(collection: string) {
    super(`fenced write to ${collection} refused: a newer attempt of this job already wrote it`);
    this.name = "FenceRefusedError";
  }
}

/**
 * The job types one build runs: their policies (known to every process, so API-only processes
 * can enqueue and report them) and their handlers (built only where a worker runs).
 */
export interface JobCatalog<Deps> {
  readonly types: readonly JobTypePolicy[];
  handlers(deps: Deps): Readonly<Record<string, JobHandler<never>>>;
}
