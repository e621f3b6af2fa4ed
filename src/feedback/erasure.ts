import { type AnyBulkWriteOperation, ObjectId } from "mongodb";
import { z } from "zod";
import type { Clock } from "../clock.js";
import type { Collections } from "../store/mongo.js";
import type { ConflictService } from "./conflicts.js";
import { parseInput } from "./inputs.js";
import type { ErasureDoc, FeedbackDoc } from "./model.js";
import type { Pseudonymizer } from "./pseudonym.js";
import type { SummaryService } from "./summary-service.js";

export const erasureModes = ["delete", "anonymize"] as const;
export type ErasureMode = (typeof erasureModes)[number];

export interface ErasureReport {
  readonly userId: string;
  readonly mode: ErasureMode;
  /** Interactions of the user deleted, or stripped of their text and linkage. */
  readonly interactions: number;
  /** Feedback by the user, or about the user's interactions, deleted or anonymized. */
  readonly feedback: number;
  /** Conflicts deleted or re-evaluated because their feedback changed. */
  readonly conflictsUpdated: number;
  readonly erasedAt: Date;
}

export interface ErasureService {
  eraseUser(
    input: { userId: string; mode: ErasureMode },
    requestedBy: string,
  ): Promise<ErasureReport>;
}

export const ERASED_TEXT = "[erased]";

const erasureInput = z.object({
  userId: z.string().trim().min(1, "must not be empty").max(256),
  mode: z.enum(erasureModes),
});

/**
 * The seed's privacy rule, on request: everything of one user is deleted, or kept only as
 * text-free signals (kind, sentiment, score) with no way back to the person. Each step is
 * idempotent, so an erasure interrupted by a crash completes when it is run again.
 */
export function createErasureService(deps: {
  collections: Pick<Collections, "interactions" | "feedback" | "conflicts" | "erasures">;
  pseudonymizer: Pseudonymizer;
  summaries: SummaryService;
  conflicts: ConflictService;
  clock: Clock;
}): ErasureService {
  const { collections } = deps;

  return {
    async eraseUser(raw, requestedBy) {
      const input = parseInput(erasureInput, raw);
      const userId = deps.pseudonymizer.pseudonymize(input.userId);
      const now = deps.clock.now();
      const ownInteractionIds = (
        await collections.interactions.find({ userId }, { projection: { _id: 1 } }).toArray()
      ).map((interaction) => interaction._id);
      const affected = await collections.feedback
        .find(
          { $or: [{ userId }, { interactionIds: { $in: ownInteractionIds } }] },
          { projection: { _id: 1, kind: 1, interactionIds: 1, userId: 1 } },
        )
        .toArray();
      const own = new Set(ownInteractionIds.map((id) => id.toHexString()));
      // Interactions of other users whose digests and conflicts change when this user's feedback goes.
      const touched = new Map<string, ObjectId>();
      for (const feedback of affected) {
        for (const id of feedback.interactionIds)
          if (!own.has(id.toHexString())) touched.set(id.toHexString(), id);
      }

      let conflictsUpdated = 0;
      if (input.mode === "delete") {
        await collections.feedback.deleteMany({
          _id: { $in: affected.map((feedback) => feedback._id) },
        });
        await collections.interactions.deleteMany({ _id: { $in: ownInteractionIds } });
        conflictsUpdated += (
          await collections.conflicts.deleteMany({ interactionId: { $in: ownInteractionIds } })
        ).deletedCount;
      } else {
        await collections.interactions.updateMany(
          { _id: { $in: ownInteractionIds } },
          {
            $set: { query: ERASED_TEXT, response: ERASED_TEXT, erasedAt: now },
            $unset: {
              userId: "",
              sessionId: "",
              messages: "",
              metadata: "",
              trace: "",
              idempotencyKey: "",
            },
          },
        );
        const operations: AnyBulkWriteOperation<FeedbackDoc>[] = affected.map((feedback) => {
          const aboutOwn = feedback.interactionIds.some((id) => own.has(id.toHexString()));
          const byUser = feedback.userId === userId;
          const texts: Record<string, string> = {};
          if (feedback.kind === "correction") {
            if (aboutOwn) texts["correction.originalResponse"] = ERASED_TEXT;
            if (byUser) texts["correction.correctedResponse"] = ERASED_TEXT;
          }
          if (feedback.kind === "comparison") {
            if (aboutOwn)
              Object.assign(texts, {
                "comparison.prompt": ERASED_TEXT,
                "comparison.a.text": ERASED_TEXT,
                "comparison.b.text": ERASED_TEXT,
              });
            if (byUser) texts["comparison.reason"] = ERASED_TEXT;
          }
          return {
            updateOne: {
              filter: { _id: feedback._id },
              update: {
                $set: { erasedAt: now, ...texts },
                $unset: {
                  sessionId: "",
                  idempotencyKey: "",
                  ...(byUser
                    ? { userId: "", raterKey: "", comment: "", metadata: "", "flag.reason": "" }
                    : {}),
                },
              },
            },
          };
        });
        if (operations.length > 0)
          await collections.feedback.bulkWrite(operations, { ordered: false });
        for (const id of ownInteractionIds) touched.set(id.toHexString(), id);
      }

      for (const interactionId of touched.values()) {
        const active = await deps.summaries.refresh(interactionId, { force: true });
        const before = await deps.conflicts.forInteraction(interactionId);
        const after = await deps.conflicts.evaluate(interactionId, active);
        if (
          before &&
          (before.status !== after?.status ||
            before.feedbackIds.length !== after?.feedbackIds.length)
        ) {
          conflictsUpdated += 1;
        }
      }

      const report: ErasureReport = {
        userId,
        mode: input.mode,
        interactions: ownInteractionIds.length,
        feedback: affected.length,
        conflictsUpdated,
        erasedAt: now,
      };
      const audit: ErasureDoc = {
        _id: new ObjectId(),
        userId,
        mode: input.mode,
        requestedBy,
        createdAt: now,
        interactions: report.interactions,
        feedback: report.feedback,
        conflictsUpdated,
      };
      await collections.erasures.insertOne(audit);
      return report;
    },
  };
}
