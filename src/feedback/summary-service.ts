import type { ObjectId } from "mongodb";
import type { Collections } from "../store/mongo.js";
import type { FeedbackDoc } from "./model.js";
import { summarize } from "./summary.js";

export interface SummaryService {
  /** Recomputes the interaction's digest from its feedback; returns the active feedback. */
  refresh(interactionId: ObjectId, options?: { force?: boolean }): Promise<FeedbackDoc[]>;
}

export function createSummaryService(deps: {
  collections: Pick<Collections, "feedback" | "interactions">;
}): SummaryService {
  const { collections } = deps;
  return {
    async refresh(interactionId, options = {}) {
      const all = await collections.feedback.find({ interactionIds: interactionId }).toArray();
      const active = all.filter((feedback) => feedback.status === "active");
      const summary = summarize(active, all.length);
      // Concurrent writers may finish out of order; the digest computed from more documents wins,
      // so a slow writer can never put back an older digest. Erasure forces its recount.
      await collections.interactions.updateOne(
        options.force
          ? { _id: interactionId }
          : { _id: interactionId, "feedbackSummary.revision": { $lte: summary.revision } },
        { $set: { feedbackSummary: summary } },
      );
      return active;
    },
  };
}
