import { type AnyBulkWriteOperation, ObjectId } from "mongodb";
import { z } from "zod";
import { type Actor, actorLabel } from "../auth/actor.js";
import type { Clock } from "../clock.js";
import type { ConflictService } from "../conflicts/service.js";
import type { SummaryService } from "../feedback/summary-service.js";
import type { FeedbackDoc } from "../store/documents.js";
import type { Collections } from "../store/mongo.js";
import { parseInput } from "../validation.js";
import type { Pseudonymizer } from "./pseudonym.js";

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
  eraseUser(input: { userId: string; mode: ErasureMode }, actor: Actor): Promise<ErasureReport>;
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
  /** Drops erased interactions from the write path's cache (interactions/cache.ts). */
  forgetInteraction?: (id: ObjectId) => void;
}): ErasureService {
  const { collections } = deps;

  return {
    async eraseUser(raw, actor) {
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

      // An erasure interrupted before its refreshes left other interactions' digests stale; the
      // feedback that named them is gone now, so the pending entry remembers them for the rerun.
      const pending = await collections.erasures.find({ userId, status: "running" }).toArray();
      for (const entry of pending) {
        for (const id of entry.touched ?? []) touched.set(id.toHexString(), id);
      }
      const auditId = new ObjectId();
      await collections.erasures.insertOne({
        _id: auditId,
        userId,
        mode: input.mode,
        requestedBy: actorLabel(actor),
        createdAt: now,
        status: "running",
        touched: [...touched.values(), ...(input.mode === "anonymize" ? ownInteractionIds : [])],
        interactions: ownInteractionIds.length,
        feedback: affected.length,
        conflictsUpdated: 0,
      });

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
        // On each interaction the user's feedback stays one anonymous rater, so that their own
        // thumbs-up and thumbs-down are not taken for two raters disagreeing; the random key links
        // neither to them nor across interactions.
        const anonymousRaters = new Map<string, string>();
        const anonymousRater = (feedback: Pick<FeedbackDoc, "interactionIds">) => {
          const scope = feedback.interactionIds[0]?.toHexString() ?? "";
          const key = anonymousRaters.get(scope) ?? `erased:${new ObjectId().toHexString()}`;
          anonymousRaters.set(scope, key);
          return key;
        };
        // Every affected feedback (the user's, or about the user's interactions) becomes
        // text-free: its texts may quote or describe the user's conversation.
        const operations: AnyBulkWriteOperation<FeedbackDoc>[] = affected.map((feedback) => {
          const byUser = feedback.userId === userId;
          const texts: Record<string, string> = {};
          if (feedback.kind === "correction") {
            texts["correction.originalResponse"] = ERASED_TEXT;
            texts["correction.correctedResponse"] = ERASED_TEXT;
          }
          if (feedback.kind === "comparison") {
            Object.assign(texts, {
              "comparison.prompt": ERASED_TEXT,
              "comparison.a.text": ERASED_TEXT,
              "comparison.b.text": ERASED_TEXT,
            });
          }
          return {
            updateOne: {
              filter: { _id: feedback._id },
              update: {
                // The payload hash covered the raw user id and texts: a guess could confirm them.
                $set: {
                  erasedAt: now,
                  payloadHash: ERASED_TEXT,
                  ...texts,
                  ...(byUser ? { raterKey: anonymousRater(feedback) } : {}),
                },
                $unset: {
                  sessionId: "",
                  idempotencyKey: "",
                  comment: "",
                  metadata: "",
                  "flag.reason": "",
                  "comparison.reason": "",
                  ...(byUser ? { userId: "" } : {}),
                },
              },
            },
          };
        });
        if (operations.length > 0)
          await collections.feedback.bulkWrite(operations, { ordered: false });
        // Interactions last: a rerun after a crash finds them by user id and redoes the feedback.
        await collections.interactions.updateMany(
          { _id: { $in: ownInteractionIds } },
          {
            $set: {
              query: ERASED_TEXT,
              response: ERASED_TEXT,
              payloadHash: ERASED_TEXT,
              erasedAt: now,
            },
            $unset: {
              userId: "",
              sessionId: "",
              messages: "",
              metadata: "",
              // Settings may hold a system prompt written for this user.
              settings: "",
              trace: "",
              idempotencyKey: "",
            },
          },
        );
        for (const id of ownInteractionIds) touched.set(id.toHexString(), id);
      }
      for (const id of ownInteractionIds) deps.forgetInteraction?.(id);

      for (const interactionId of touched.values()) {
        const refreshed = await deps.summaries.refresh(interactionId);
        if (!refreshed) continue;
        const before = await deps.conflicts.forInteraction(interactionId);
        const after = await deps.conflicts.evaluate(
          interactionId,
          refreshed.active,
          refreshed.revision,
        );
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
      await collections.erasures.updateOne(
        { _id: auditId },
        { $set: { status: "done", conflictsUpdated } },
      );
      await collections.erasures.updateMany(
        { _id: { $in: pending.map((entry) => entry._id) } },
        { $set: { status: "done" } },
      );
      return report;
    },
  };
}
