import type { ObjectId } from "mongodb";
import { type Actor, actorLabel, loopgateActor } from "../auth/actor.js";
import type { Clock } from "../clock.js";
import { NotFoundError } from "../errors.js";
import type {
  ConflictDecision,
  ConflictDoc,
  ConflictStatus,
  FeedbackDoc,
} from "../store/documents.js";
import { isDuplicateKeyOn } from "../store/errors.js";
import type { Collections } from "../store/mongo.js";
import { type Page, type PageArgs, paginateBy } from "../store/pagination.js";
import { detectDisagreement } from "./detect.js";

export interface ConflictService {
  /**
   * Opens, updates or withdraws the interaction's conflict from its active feedback, read at
   * `revision` (see summary-service.ts); a state computed at a lower revision never overwrites it.
   */
  evaluate(
    interactionId: ObjectId,
    active: readonly FeedbackDoc[],
    revision: number,
    /** The interaction's stored conflict, when the caller read it already (batched reads). */
    existing?: ConflictDoc | null,
  ): Promise<ConflictDoc | null>;
  forInteraction(interactionId: ObjectId): Promise<ConflictDoc | null>;
  list(
    filter: { status?: ConflictStatus | null; modelId?: string | null },
    page: PageArgs,
  ): Promise<Page<ConflictDoc>>;
  resolve(
    id: ObjectId,
    resolution: { decision: ConflictDecision; note?: string | null },
    actor: Actor,
  ): Promise<ConflictDoc>;
}

export function createConflictService(deps: {
  collections: Pick<Collections, "conflicts">;
  clock: Clock;
}): ConflictService {
  const { collections, clock } = deps;
  return {
    async evaluate(interactionId, active, revision, known) {
      const disagreement = detectDisagreement(active);
      const existing =
        known !== undefined ? known : await collections.conflicts.findOne({ interactionId });
      const now = clock.now();
      if (!disagreement) {
        if (existing?.status !== "open") return existing;
        // The raters no longer disagree (someone changed their mind): close it, saying why.
        const closed = await collections.conflicts.findOneAndUpdate(
          { _id: existing._id, status: "open", revision: { $lt: revision } },
          {
            $set: {
              status: "resolved",
              revision,
              updatedAt: now,
              resolution: {
                decision: "dismiss",
                note: "disagreement withdrawn by later feedback",
                resolvedBy: actorLabel(loopgateActor),
                resolvedAt: now,
              },
            },
          },
          { returnDocument: "after" },
        );
        return closed ?? existing;
      }
      const sameMembers =
        existing &&
        existing.feedbackIds.length === disagreement.feedbackIds.length &&
        disagreement.feedbackIds.every((id) =>
          existing.feedbackIds.some((member) => member.equals(id)),
        );
      if (sameMembers) return existing;
      const model = active.find((feedback) => feedback.model)?.model;
      // New disagreeing feedback reopens a resolved conflict; the last resolution stays visible.
      try {
        return await collections.conflicts.findOneAndUpdate(
          { interactionId, revision: { $lt: revision } },
          {
            $set: {
              status: "open",
              revision,
              reasons: disagreement.reasons,
              feedbackIds: disagreement.feedbackIds,
              raterCount: disagreement.raterCount,
              positive: disagreement.positive,
              negative: disagreement.negative,
              updatedAt: now,
              ...(model ? { model } : {}),
            },
            $setOnInsert: { detectedAt: now },
          },
          { upsert: true, returnDocument: "after" },
        );
      } catch (error) {
        // The unique interaction index refused the upsert: a writer with a higher revision
        // already stored its (newer) view of this conflict.
        if (!isDuplicateKeyOn(error, "interactionId")) throw error;
        return collections.conflicts.findOne({ interactionId });
      }
    },
    forInteraction: (interactionId) => collections.conflicts.findOne({ interactionId }),
    list(filter, page) {
      const query: Record<string, unknown> = {};
      if (filter.status) query.status = filter.status;
      if (filter.modelId) query["model.id"] = filter.modelId;
      return paginateBy(collections.conflicts, query, page, "detectedAt");
    },
    async resolve(id, resolution, actor) {
      const now = clock.now();
      const updated = await collections.conflicts.findOneAndUpdate(
        { _id: id },
        {
          $set: {
            status: "resolved",
            updatedAt: now,
            resolution: {
              decision: resolution.decision,
              ...(resolution.note ? { note: resolution.note } : {}),
              resolvedBy: actorLabel(actor),
              resolvedAt: now,
            },
          },
        },
        { returnDocument: "after" },
      );
      if (!updated) throw new NotFoundError("Conflict", id.toHexString());
      return updated;
    },
  };
}
