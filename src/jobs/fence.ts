import type { Collection, Document, Filter, UpdateFilter } from "mongodb";
import { type Fence, FenceRefusedError, LeaseLostError } from "./types.js";

/**
 * Fencing for writes outside the job's own document (Kleppmann, "How to do distributed
 * locking"): a lease alone cannot stop a paused worker that wakes after its lease expired, so the
 * written document remembers the newest token of the job that wrote it and refuses older ones.
 * The stamp is `_fence: { job, token }`; documents written by other jobs (or by no job) accept
 * any fenced write.
 */
export interface FencedCollection<T extends Document> {
  /**
   * `updateOne` under the fence. Resolves with what happened; throws FenceRefusedError when a
   * document matching `filter` was already written under a newer lease of this job, and
   * LeaseLostError (without writing) when this worker knows its lease is gone.
   */
  updateOne(
    filter: Filter<T>,
    update: UpdateFilter<T>,
    options?: { readonly upsert?: boolean },
  ): Promise<{ readonly matched: boolean; readonly upserted: boolean }>;
}

/** The condition a fenced write adds to its filter. */
export function fenceCondition(fence: Fence): Filter<Document> {
  return {
    $or: [{ "_fence.job": { $ne: fence.jobId } }, { "_fence.token": { $lte: fence.token } }],
  };
}

export function createFencedCollection<T extends Document>(
  collection: Collection<T>,
  fence: Fence,
  isHeld: () => boolean,
): FencedCollection<T> {
  return {
    async updateOne(filter, update, options = {}) {
      if (!isHeld()) throw new LeaseLostError();
      const stamped = {
        ...update,
        $set: { ...(update.$set ?? {}), _fence: { job: fence.jobId, token: fence.token } },
      } as unknown as UpdateFilter<T>;
      let result: Awaited<ReturnType<Collection<T>["updateOne"]>>;
      try {
        result = await collection.updateOne(
          { $and: [filter, fenceCondition(fence)] } as Filter<T>,
          stamped,
          { upsert: options.upsert ?? false },
        );
      } catch (error) {
        // An upsert whose filter names the document by a unique field collides with the newer
        // attempt's document instead of matching it.
        if (options.upsert && (error as { code?: unknown }).code === 11000) {
          throw new FenceRefusedError(collection.collectionName);
        }
        throw error;
      }
      if (result.matchedCount === 0 && result.upsertedCount === 0) {
        // Nothing matched: either nothing matches `filter` at all, or the fence refused it.
        if ((await collection.countDocuments(filter, { limit: 1 })) > 0) {
          throw new FenceRefusedError(collection.collectionName);
        }
      }
      return { matched: result.matchedCount > 0, upserted: result.upsertedCount > 0 };
    },
  };
}
