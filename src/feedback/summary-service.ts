import type { ObjectId } from "mongodb";
import type { FeedbackDoc } from "../store/documents.js";
import type { Collections } from "../store/mongo.js";
import { summarize } from "./summary.js";

export interface Refreshed {
  /** The interaction's active feedback, as read after this writer's changes. */
  readonly active: FeedbackDoc[];
  /** The revision this state belongs to; later writers carry higher ones. */
  readonly revision: number;
}

export interface SummaryService {
  /**
   * Recomputes the interaction's digest after a feedback change. Null when the interaction no
   * longer exists (erased).
   */
  refresh(interactionId: ObjectId): Promise<Refreshed | null>;
}

/**
 * Without transactions, two writers can read and write an interaction's digest in either order.
 * Each writer first bumps the interaction's revision (after its own feedback writes), then reads,
 * then writes only over a lower revision: the writer with the highest revision read everything the
 * others wrote, so its digest is the one that stays.
 */
export function createSummaryService(deps: {
  collections: Pick<Collections, "feedback" | "interactions">;
}): SummaryService {
  const { collections } = deps;
  return {
    async refresh(interactionId) {
      const bumped = await collections.interactions.findOneAndUpdate(
        { _id: interactionId },
        { $inc: { feedbackRevision: 1 } },
        { returnDocument: "after", projection: { feedbackRevision: 1 } },
      );
      if (!bumped) return null;
      const revision = bumped.feedbackRevision;
      const active = await collections.feedback
        .find({ interactionIds: interactionId, status: "active" }, { batchSize: 10_000 })
        .toArray();
      await collections.interactions.updateOne(
        { _id: interactionId, "feedbackSummary.revision": { $lt: revision } },
        { $set: { feedbackSummary: summarize(active, revision) } },
      );
      return { active, revision };
    },
  };
}
