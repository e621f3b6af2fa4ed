import type { ObjectId } from "mongodb";
import type { Clock } from "../clock.js";
import type { ConflictService } from "../conflicts/service.js";
import type { ConflictDoc, FeedbackDoc } from "../store/documents.js";
import type { Collections } from "../store/mongo.js";
import { supersedesEarlier } from "./sentiment.js";
import type { Refreshed, SummaryService } from "./summary-service.js";

/**
 * The full post-write steps, as a named list: what a recovery (outbox.ts `finish`, the
 * `feedback.postWrite` job), an idempotent retry and a backfilled (explicit `createdAt`) write
 * run. The ordinary write path does the same work leaner (outbox.ts `afterInsert`): one
 * supersede update, one `$inc` of the digest, and conflicts after the answer.
 *
 * Contract of every step:
 * - `run(ctx, written, results)` is a function of the written (stored) feedback document: it may be
 *   run again for the same document (a retry, a crash recovery, an at-least-once queue) and then
 *   converges on the same state; it never assumes it runs exactly once.
 * - Steps run in list order. A step may reuse what an earlier step of the same run left in
 *   `results` (to save round trips) but must also work when it runs alone with fresh results
 *   (`newPostWriteResults()`), e.g. from a job that re-read `written` by id.
 * - A step writes derived state only (history, digests, conflicts); it never changes what the
 *   client sent, so a step that fails can be retried without losing an acknowledged write.
 */
export interface PostWriteContext {
  readonly collections: Pick<Collections, "feedback">;
  readonly clock: Clock;
  readonly summaries: SummaryService;
  readonly conflicts: ConflictService;
}

/** What one run learned; a write's payload reports it (supersededIds, conflict). */
export interface PostWriteResults {
  /** Earlier feedback of the same rater that went to history in this run. */
  supersededIds: ObjectId[];
  /** Per interaction (hex id): its active feedback and revision as the digest step read them. */
  readonly digests: Map<string, Refreshed>;
  /** The open disagreement the written feedback belongs to, if any. */
  conflict: ConflictDoc | null;
}

export interface PostWriteStep {
  readonly name: string;
  run(ctx: PostWriteContext, written: FeedbackDoc, results: PostWriteResults): Promise<void>;
}

export function newPostWriteResults(): PostWriteResults {
  return { supersededIds: [], digests: new Map(), conflict: null };
}

/**
 * "A user changing their mind": of one rater's active feedback on the same subject and key, only
 * the latest (by createdAt, then id) stays active, so a delayed retry of an old opinion cannot win
 * over a newer one.
 */
export const supersedeStep: PostWriteStep = {
  name: "supersede",
  async run({ collections, clock }, written, results) {
    if (!written.raterKey || !supersedesEarlier(written.kind)) return;
    const mine = await collections.feedback
      .find(
        {
          subject: written.subject,
          key: written.key,
          raterKey: written.raterKey,
          status: "active",
        },
        { projection: { _id: 1, createdAt: 1 } },
      )
      .toArray();
    const latest = mine.reduce<(typeof mine)[number] | undefined>(
      (best, item) =>
        !best ||
        item.createdAt > best.createdAt ||
        (item.createdAt.getTime() === best.createdAt.getTime() &&
          item._id.toHexString() > best._id.toHexString())
          ? item
          : best,
      undefined,
    );
    if (!latest) return;
    const older = mine.filter((item) => !item._id.equals(latest._id)).map((item) => item._id);
    if (older.length === 0) return;
    const supersededAt = clock.now();
    await collections.feedback.updateMany(
      { _id: { $in: older }, status: "active" },
      // Outright: no write's `$inc` takes these out of the digest; the rebuild that follows does.
      {
        $set: {
          status: "superseded",
          supersededBy: latest._id,
          supersededAt,
          supersededOutright: true,
        },
      },
    );
    if (older.some((id) => id.equals(written._id))) {
      // The written feedback itself was the older opinion: the caller sees it as history.
      written.status = "superseded";
      written.supersededBy = latest._id;
      written.supersededAt = supersededAt;
      return;
    }
    results.supersededIds = older;
  },
};

/**
 * Recomputes the digest of every interaction the feedback touches (see summary-service.ts). A
 * still-marked feedback is adopted: whether or not its writer's `$inc` landed, it is counted once.
 */
export const digestStep: PostWriteStep = {
  name: "digest",
  async run({ summaries }, written, results) {
    const adopt = written.pendingSince ? [written._id] : [];
    for (const interactionId of written.interactionIds) {
      const refreshed = await summaries.rebuild(interactionId, adopt);
      if (refreshed) results.digests.set(interactionId.toHexString(), refreshed);
    }
  },
};

/** Opens, updates or withdraws each touched interaction's conflict from its active feedback. */
export const conflictsStep: PostWriteStep = {
  name: "conflicts",
  async run({ summaries, conflicts }, written, results) {
    for (const interactionId of written.interactionIds) {
      // Alone (e.g. from a job), the step reads a fresh revision itself.
      const refreshed =
        results.digests.get(interactionId.toHexString()) ??
        (await summaries.refresh(interactionId));
      if (!refreshed) continue;
      const found = await conflicts.evaluate(interactionId, refreshed.active, refreshed.revision);
      if (found?.status === "open" && found.feedbackIds.some((id) => id.equals(written._id))) {
        results.conflict = found;
      }
    }
  },
};

/** Everything after the insert, in order. */
export const postWriteSteps: ReadonlyArray<PostWriteStep> = [
  supersedeStep,
  digestStep,
  conflictsStep,
];

/** Runs the steps in order over one written feedback. */
export async function runPostWriteSteps(
  ctx: PostWriteContext,
  written: FeedbackDoc,
  steps: ReadonlyArray<PostWriteStep> = postWriteSteps,
): Promise<PostWriteResults> {
  const results = newPostWriteResults();
  for (const step of steps) await step.run(ctx, written, results);
  return results;
}
