import type { ObjectId } from "mongodb";
import type { Clock } from "../clock.js";
import type { FeedbackDoc } from "../store/documents.js";
import type { Collections } from "../store/mongo.js";
import {
  newPostWriteResults,
  type PostWriteContext,
  type PostWriteResults,
  postWriteSteps,
  runPostWriteSteps,
} from "./post-write.js";

/** The job type that finishes one feedback's post-write steps after a crash or a failed step. */
export const POST_WRITE_JOB = "feedback.postWrite";

/**
 * The post-write outbox: no acknowledged feedback escapes the post-write steps.
 *
 * Every feedback is inserted with `pendingSince` (the marker is part of the insert, so it is as
 * durable as the feedback). The write path runs the steps inline and clears the marker last. A
 * process that dies in between, or a step that fails, leaves the marker; the sweeper finds
 * marked feedback and enqueues one durable job per feedback, keyed by its id so sweeps from
 * several processes make one job, and the job runs the same steps (they are idempotent, see
 * post-write.ts) and clears the marker. Derived state (history, digests, conflicts) therefore
 * converges after any crash, with or without client idempotency keys.
 */
export interface FeedbackOutbox {
  /**
   * The inline path of a write that was just committed: runs the steps and clears the marker.
   * Never throws for a step's failure: the write is committed, so the failure is reported and
   * left to the sweeper, and the caller answers with what the steps did get to.
   */
  afterWrite(written: FeedbackDoc): Promise<PostWriteResults>;
  /** Runs the steps of one marked feedback and clears its marker; false when nothing was marked. */
  finish(id: ObjectId): Promise<boolean>;
  /**
   * Enqueues a job for every feedback marked before `before` (default: the grace period ago) and
   * returns how many it found. Pages by id, so a large backlog is swept in bounded reads.
   */
  sweep(before?: Date): Promise<number>;
  /** How many feedback still wait for their post-write steps. */
  pending(): Promise<number>;
}

export function createFeedbackOutbox(deps: {
  collections: Pick<Collections, "feedback">;
  postWrite: PostWriteContext;
  clock: Clock;
  /** Enqueues the post-write job of one feedback (idempotent by key). */
  enqueue(feedbackId: ObjectId): Promise<unknown>;
  /** Told about a step that failed after the insert committed; the sweeper will finish it. */
  deferred(error: unknown, feedbackId: ObjectId): void;
  /** How long a marker may stand before the sweeper takes over from the inline path. */
  graceMs: number;
  /** Feedback read per sweep page. */
  batchSize?: number;
}): FeedbackOutbox {
  const { collections } = deps;
  const batchSize = deps.batchSize ?? 500;

  const clear = async (written: FeedbackDoc) => {
    if (!written.pendingSince) return;
    // Only this marker: an idempotent retry that re-marked the feedback is its own to clear.
    await collections.feedback.updateOne(
      { _id: written._id, pendingSince: written.pendingSince },
      { $unset: { pendingSince: "" } },
    );
    delete written.pendingSince;
  };

  return {
    async afterWrite(written) {
      let results = newPostWriteResults();
      try {
        results = await runPostWriteSteps(deps.postWrite, written, postWriteSteps);
        await clear(written);
      } catch (error) {
        deps.deferred(error, written._id);
      }
      return results;
    },

    async finish(id) {
      const written = await collections.feedback.findOne({ _id: id });
      if (!written?.pendingSince) return false;
      await runPostWriteSteps(deps.postWrite, written, postWriteSteps);
      await clear(written);
      return true;
    },

    async sweep(before) {
      const cutoff = before ?? new Date(deps.clock.now().getTime() - deps.graceMs);
      let found = 0;
      // Keyset over (pendingSince, _id): marked feedback stays marked until its job runs, so a
      // page must start after the last one rather than at the oldest marker again.
      let last: { pendingSince: Date; _id: ObjectId } | undefined;
      for (;;) {
        const filter = last
          ? {
              $or: [
                { pendingSince: { $gt: last.pendingSince, $lte: cutoff } },
                { pendingSince: last.pendingSince, _id: { $gt: last._id } },
              ],
            }
          : { pendingSince: { $lte: cutoff } };
        const page = await collections.feedback
          .find(filter, {
            projection: { _id: 1, pendingSince: 1 },
            sort: { pendingSince: 1, _id: 1 },
            limit: batchSize,
          })
          .toArray();
        for (const { _id } of page) await deps.enqueue(_id);
        found += page.length;
        if (page.length < batchSize) return found;
        const tail = page[page.length - 1]!;
        last = { pendingSince: tail.pendingSince!, _id: tail._id };
      }
    },

    pending: () => collections.feedback.countDocuments({ pendingSince: { $exists: true } }),
  };
}
