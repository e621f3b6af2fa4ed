import type { ObjectId } from "mongodb";
import type { Clock } from "../clock.js";
import type { FeedbackDoc, FeedbackSummary } from "../store/documents.js";
import type { Collections } from "../store/mongo.js";
import {
  type Counted,
  hasTallies,
  summarize,
  summaryOf,
  type Tally,
  talliesOf,
  tallyFields,
  tallyOf,
} from "./summary.js";

export interface Refreshed {
  /** The interaction's active feedback, as read after this writer's changes. */
  readonly active: FeedbackDoc[];
  /** The revision this state belongs to; later writers carry higher ones. */
  readonly revision: number;
  /** The interaction was erased (anonymize mode); its digest is still kept. */
  readonly erased: boolean;
}

/** What one incremental update did to an interaction's digest. */
export type Applied =
  | {
      readonly state: "applied";
      /** The digest's tallies just before and just after this update (one atomic step). */
      readonly before: Tally;
      readonly after: Tally;
      /** The stored digest predates the tallies: a rebuild has to set them. */
      readonly legacy: boolean;
    }
  /** A recovery had already counted this feedback (see `rebuild`'s `adopt`). */
  | { readonly state: "already" }
  /** The interaction is gone or erased: it takes no new feedback. */
  | { readonly state: "gone" };

export interface SummaryService {
  /**
   * The write path's digest update, one command: counts `written` and uncounts `replaced` (the
   * opinion it superseded) with `$inc`, bumps the revision and records `written` as counted
   * (`feedbackApplied`), only if the interaction exists, is not erased and has not counted it yet.
   */
  apply(interactionId: ObjectId, written: FeedbackDoc, replaced: Counted | null): Promise<Applied>;
  /**
   * Recomputes the digest exactly from stored feedback (recovery, erasure, rare races). Counts
   * what the incremental updates counted so far, plus the marked feedback in `adopt` (whose
   * writers are presumed dead); writes only if no incremental update landed meanwhile (retrying
   * otherwise). Null when the interaction no longer exists.
   */
  rebuild(interactionId: ObjectId, adopt?: readonly ObjectId[]): Promise<Refreshed | null>;
  /** `rebuild` without adoption: what erasure and the post-write steps call. */
  refresh(interactionId: ObjectId): Promise<Refreshed | null>;
}

/** Flags the tallies imply, and the tally that clears each. */
const flagFields = [
  ["hasCorrection", "corrections"],
  ["flagged", "flags"],
  ["safetyFlagged", "safetyFlags"],
] as const;

const REBUILD_ATTEMPTS = 20;
/**
 * How long an adopted feedback stays listed after its marker is gone: a writer stalled longer
 * than this between its insert and its `$inc` (hours after its client gave up) would count it
 * twice.
 */
const ADOPTED_KEPT_MS = 6 * 3_600_000;

/**
 * The interaction's digest of its active feedback, maintained without re-reading that feedback.
 *
 * Each write adds its own change with `$inc` (commutative, so concurrent writers need no order)
 * and, in the same update, bumps `feedbackRevision` and lists its feedback in `feedbackApplied`
 * until its outbox marker is cleared (outbox.ts). So a feedback is counted exactly when it is
 * unmarked, listed, or adopted by a rebuild, and a rebuild can recompute precisely the sum of the
 * updates that landed: for every counted feedback its tally, minus the tally of each feedback it
 * superseded (a write's update uncounts the opinion its supersede replaced). A rebuild reads the
 * revision first and writes only over that same revision, so an incremental update landing in
 * between makes it start again instead of being overwritten.
 */
export function createSummaryService(deps: {
  collections: Pick<Collections, "feedback" | "interactions">;
  clock: Clock;
}): SummaryService {
  const { collections } = deps;

  const rebuild: SummaryService["rebuild"] = async (interactionId, adopt = []) => {
    const adopted = new Set(adopt.map((id) => id.toHexString()));
    for (let attempt = 0; ; attempt++) {
      const interaction = await collections.interactions.findOne(
        { _id: interactionId },
        {
          projection: { feedbackRevision: 1, feedbackApplied: 1, feedbackAdopted: 1, erasedAt: 1 },
        },
      );
      if (!interaction) return null;
      const revision = interaction.feedbackRevision ?? 0;
      const wasAdopted = interaction.feedbackAdopted ?? [];
      const listed = new Set(
        [...(interaction.feedbackApplied ?? []), ...wasAdopted].map((id) => id.toHexString()),
      );
      const read = await collections.feedback
        .find(
          {
            interactionIds: interactionId,
            $or: [{ status: "active" }, { pendingSince: { $exists: true } }],
          },
          { batchSize: 10_000 },
        )
        .toArray();
      const counted = (feedback: Pick<FeedbackDoc, "_id" | "pendingSince">) =>
        !feedback.pendingSince ||
        listed.has(feedback._id.toHexString()) ||
        adopted.has(feedback._id.toHexString());
      const uncounted = read.filter((feedback) => !counted(feedback)).map((item) => item._id);
      // Opinions an uncounted write superseded are still counted: its update will uncount them
      // (unless superseded outright, see post-write.ts).
      const replacedByUncounted =
        uncounted.length > 0
          ? await collections.feedback
              .find({ interactionIds: interactionId, supersededBy: { $in: uncounted } })
              .toArray()
          : [];
      const byId = new Map<string, FeedbackDoc>();
      for (const feedback of [...read, ...replacedByUncounted])
        byId.set(feedback._id.toHexString(), feedback);
      const isCounted = (id: ObjectId) => {
        const feedback = byId.get(id.toHexString());
        // Not read: unmarked, hence counted.
        return feedback ? counted(feedback) : true;
      };
      const contributions: Counted[] = [];
      const subtracted: Counted[] = [];
      for (const feedback of byId.values()) {
        // Its own update added it if counted; its superseder's update took it out if counted.
        const added = counted(feedback);
        const takenOut = feedback.supersededBy
          ? feedback.supersededOutright === true || isCounted(feedback.supersededBy)
          : false;
        if (added && !takenOut) contributions.push(feedback);
        if (!added && takenOut) subtracted.push(feedback);
      }
      const next = revision + 1;
      const base = summarize(contributions, next);
      const summary: FeedbackSummary =
        subtracted.length === 0 ? base : subtractAll(base, subtracted, next);
      const applied = new Set((interaction.feedbackApplied ?? []).map((id) => id.toHexString()));
      const stillListed = read
        .filter((feedback) => feedback.pendingSince && applied.has(feedback._id.toHexString()))
        .map((feedback) => feedback._id);
      const marked = new Set(
        read.filter((feedback) => feedback.pendingSince).map((item) => item._id.toHexString()),
      );
      const horizon = deps.clock.now().getTime() - ADOPTED_KEPT_MS;
      const keptAdopted = new Map<string, ObjectId>();
      for (const id of [...wasAdopted, ...adopt]) {
        const hex = id.toHexString();
        if (adopted.has(hex) || marked.has(hex) || id.getTimestamp().getTime() > horizon)
          keptAdopted.set(hex, id);
      }
      const written = await collections.interactions.updateOne(
        { _id: interactionId, feedbackRevision: revision },
        {
          $set: {
            feedbackSummary: summary,
            feedbackRevision: next,
            feedbackApplied: stillListed,
            feedbackAdopted: [...keptAdopted.values()],
          },
        },
      );
      if (written.matchedCount === 1) {
        return {
          active: read.filter((feedback) => feedback.status === "active"),
          revision: next,
          erased: Boolean(interaction.erasedAt),
        };
      }
      if (attempt + 1 >= REBUILD_ATTEMPTS) {
        throw new Error(
          `the digest of interaction ${interactionId.toHexString()} kept changing during ${REBUILD_ATTEMPTS} rebuilds`,
        );
      }
    }
  };

  return {
    async apply(interactionId, written, replaced) {
      const delta = tallyOf(written, 1);
      if (replaced) {
        const out = tallyOf(replaced, -1);
        for (const field of tallyFields) delta[field] += out[field];
      }
      const inc: Record<string, number> = { feedbackRevision: 1, "feedbackSummary.revision": 1 };
      for (const field of tallyFields) {
        if (delta[field] !== 0) inc[`feedbackSummary.${field}`] = delta[field];
      }
      const set: Record<string, boolean> = {};
      for (const [flag, tally] of flagFields) {
        if (delta[tally] > 0) set[`feedbackSummary.${flag}`] = true;
      }
      const before = await collections.interactions.findOneAndUpdate(
        {
          _id: interactionId,
          erasedAt: { $exists: false },
          feedbackApplied: { $ne: written._id },
          feedbackAdopted: { $ne: written._id },
        },
        {
          $inc: inc,
          ...(Object.keys(set).length > 0 ? { $set: set } : {}),
          $push: { feedbackApplied: written._id },
        },
        { returnDocument: "before", projection: { feedbackSummary: 1 } },
      );
      if (!before) {
        // Rare: tell an erased interaction from a feedback a recovery already counted.
        const found = await collections.interactions.findOne(
          { _id: interactionId },
          { projection: { erasedAt: 1, feedbackApplied: 1, feedbackAdopted: 1 } },
        );
        const counted = [...(found?.feedbackApplied ?? []), ...(found?.feedbackAdopted ?? [])];
        if (found && !found.erasedAt && counted.some((id) => id.equals(written._id)))
          return { state: "already" };
        return { state: "gone" };
      }
      const was = talliesOf(before.feedbackSummary);
      const after = { ...was };
      for (const field of tallyFields) after[field] += delta[field];
      const legacy = !hasTallies(before.feedbackSummary);
      // A flag goes false only when its last feedback left (a correction superseded by another
      // kind on the same key): conditional on the tally, so a concurrent writer adding one wins.
      if (!legacy) {
        for (const [flag, tally] of flagFields) {
          if (delta[tally] < 0 && after[tally] === 0) {
            await collections.interactions.updateOne(
              { _id: interactionId, [`feedbackSummary.${tally}`]: 0 },
              { $set: { [`feedbackSummary.${flag}`]: false } },
            );
          }
        }
      }
      return { state: "applied", before: was, after, legacy };
    },
    rebuild,
    refresh: (interactionId) => rebuild(interactionId),
  };
}

/** A digest minus feedback still counted by a pending update's arithmetic (see `rebuild`). */
function subtractAll(
  base: FeedbackSummary,
  subtracted: readonly Counted[],
  revision: number,
): FeedbackSummary {
  const tally = talliesOf(base);
  for (const feedback of subtracted) {
    const out = tallyOf(feedback, -1);
    for (const field of tallyFields) tally[field] += out[field];
  }
  return summaryOf(tally, revision);
}
