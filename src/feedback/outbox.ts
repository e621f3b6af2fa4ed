import type { ObjectId } from "mongodb";
import type { Clock } from "../clock.js";
import { NotFoundError } from "../errors.js";
import type { ConflictDoc, FeedbackDoc } from "../store/documents.js";
import type { Collections } from "../store/mongo.js";
import {
  newPostWriteResults,
  type PostWriteContext,
  postWriteSteps,
  runPostWriteSteps,
  supersedeStep,
} from "./post-write.js";
import { supersedesEarlier } from "./sentiment.js";
import { mayDisagree } from "./summary.js";
import type { Applied } from "./summary-service.js";

/** The job type that finishes one feedback's post-write steps after a crash or a failed step. */
export const POST_WRITE_JOB = "feedback.postWrite";

/** What the write path tells its caller once the feedback is counted. */
export interface AfterInsert {
  /** Earlier feedback of the same rater that this one replaced. */
  readonly supersededIds: readonly ObjectId[];
  /**
   * The open disagreement this feedback created or joined: checked after the answer, so only a
   * caller that asks for it waits (for the check of this very feedback, not for a guess).
   */
  conflict(): Promise<ConflictDoc | null>;
}

/**
 * The post-write outbox: no acknowledged feedback escapes the post-write steps.
 *
 * Every feedback is inserted with `pendingSince` (the marker is part of the insert, so it is as
 * durable as the feedback). What the answer needs runs before it (`afterInsert`): the supersede
 * and the digest's `$inc`. The rest — conflicts, the check for a same-rater race, clearing the
 * marker — runs right after, in-process, batched over the writes that finished together (one
 * `updateMany` clears a batch's markers). A process that dies in between, or a step that fails,
 * leaves the marker; the sweeper finds marked feedback and enqueues one durable job per feedback,
 * keyed by its id so sweeps from several processes make one job, and the job runs the full,
 * idempotent steps (post-write.ts), whose digest rebuild counts the feedback exactly once whether
 * or not its `$inc` landed (summary-service.ts). Derived state therefore converges after any
 * crash, with or without client idempotency keys.
 */
export interface FeedbackOutbox {
  /**
   * The synchronous part of a write that was just inserted: supersede and digest. Throws
   * NotFoundError (after removing the feedback again) when the interaction was erased or deleted
   * since it was validated, so no answer claims feedback an erased interaction does not hold.
   * `backfilled`: the caller chose `createdAt`, so the feedback may be older than the rater's
   * active opinion; it takes the full steps (more commands, still before the answer).
   */
  afterInsert(written: FeedbackDoc, options: { backfilled: boolean }): Promise<AfterInsert>;
  /**
   * Runs the full steps of one feedback and clears its marker; false when nothing was marked
   * (unless `force`: an idempotent retry re-runs them, they change nothing when all is done).
   * Throws NotFoundError when the feedback was never counted and its interaction is gone (it
   * is removed then).
   */
  finish(id: ObjectId, options?: { force?: boolean }): Promise<boolean>;
  /**
   * Enqueues a job for every feedback marked before `before` (default: the grace period ago) and
   * returns how many it found. Pages by id, so a large backlog is swept in bounded reads.
   */
  sweep(before?: Date): Promise<number>;
  /** How many feedback still wait for their post-write steps. */
  pending(): Promise<number>;
  /** Resolves once the in-process steps of every write so far ran (shutdown, tests). */
  drain(): Promise<void>;
}

/** One write's in-process remainder. */
interface Remainder {
  readonly written: FeedbackDoc;
  readonly checkConflicts: boolean;
  readonly rebuild: boolean;
  settle(conflict: ConflictDoc | null): void;
}

/** Writes whose remainders one flush takes at most (bounds the `$in` lists). */
const FLUSH_BATCH = 500;

export function createFeedbackOutbox(deps: {
  collections: Pick<Collections, "feedback" | "interactions" | "conflicts">;
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
  const { collections, postWrite } = deps;
  const { summaries, conflicts } = postWrite;
  const batchSize = deps.batchSize ?? 500;

  /** Clears markers, then unlists them from their digests (the order recovery relies on). */
  const clear = async (written: readonly FeedbackDoc[]) => {
    if (written.length === 0) return;
    const ids = written.map((feedback) => feedback._id);
    await collections.feedback.updateMany(
      { _id: { $in: ids }, pendingSince: { $exists: true } },
      { $unset: { pendingSince: "" } },
    );
    const interactionIds = new Map<string, ObjectId>();
    for (const feedback of written)
      for (const id of feedback.interactionIds) interactionIds.set(id.toHexString(), id);
    await collections.interactions.updateMany(
      { _id: { $in: [...interactionIds.values()] } },
      // The driver's types cannot express $pull on an optional array field.
      { $pull: { feedbackApplied: { $in: ids } } } as never,
    );
    for (const feedback of written) delete feedback.pendingSince;
  };

  /**
   * Takes back a write that was never counted on an interaction that is gone: its replaced
   * opinion is active again, the feedback removed, and the digests it did touch recomputed.
   */
  const undo = async (written: FeedbackDoc) => {
    await collections.feedback.updateMany(
      { supersededBy: written._id, status: "superseded" },
      {
        $set: { status: "active" },
        $unset: { supersededBy: "", supersededAt: "", supersededOutright: "" },
      },
    );
    await collections.feedback.deleteOne({ _id: written._id });
    for (const interactionId of written.interactionIds) await summaries.rebuild(interactionId);
  };

  // The in-process remainder: a single flush at a time; writes that finish meanwhile queue up
  // and share the next flush, so the batch grows with the load.
  let queue: Remainder[] = [];
  let flushing: Promise<void> | undefined;
  /** Feedback this process will finish itself (queued or flushing): the sweeper leaves them. */
  const inProcess = new Set<string>();

  /** Another write of the same rater on the same subject raced this one: settle it in full. */
  const findRaces = async (batch: readonly Remainder[]) => {
    const raters = batch.filter(
      ({ written }) => written.raterKey && supersedesEarlier(written.kind),
    );
    if (raters.length === 0) return new Set<Remainder>();
    const active = await collections.feedback
      .find(
        {
          status: "active",
          $or: raters.map(({ written }) => ({
            subject: written.subject,
            key: written.key,
            raterKey: written.raterKey,
          })),
        },
        { projection: { subject: 1, key: 1, raterKey: 1 } },
      )
      .toArray();
    const counts = new Map<string, number>();
    const slot = (item: Pick<FeedbackDoc, "subject" | "key" | "raterKey">) =>
      JSON.stringify([item.subject, item.key, item.raterKey]);
    for (const item of active) counts.set(slot(item), (counts.get(slot(item)) ?? 0) + 1);
    return new Set(raters.filter(({ written }) => (counts.get(slot(written)) ?? 0) > 1));
  };

  const flush = async (batch: readonly Remainder[]) => {
    const raced = await findRaces(batch);
    for (const item of raced)
      await supersedeStep.run(postWrite, item.written, newPostWriteResults());
    const rebuilt = new Map<string, Awaited<ReturnType<typeof summaries.rebuild>>>();
    for (const item of batch) {
      if (!item.rebuild && !raced.has(item)) continue;
      for (const id of item.written.interactionIds) {
        if (!rebuilt.has(id.toHexString()))
          rebuilt.set(id.toHexString(), await summaries.rebuild(id));
      }
    }
    const toCheck = new Map<string, ObjectId>();
    for (const item of batch) {
      if (!item.checkConflicts && !raced.has(item)) continue;
      for (const id of item.written.interactionIds) toCheck.set(id.toHexString(), id);
    }
    const states = await activeOfAll([...toCheck.values()]);
    const evaluated = new Map<string, ConflictDoc | null>();
    await Promise.all(
      [...toCheck].map(async ([hex, id]) => {
        const rebuiltState = rebuilt.get(hex);
        const state = states.get(hex);
        if (!state) return;
        evaluated.set(
          hex,
          await conflicts.evaluate(
            id,
            rebuiltState?.active ?? state.active,
            rebuiltState?.revision ?? state.revision,
            state.conflict,
          ),
        );
      }),
    );
    for (const item of batch) {
      const joined = item.written.interactionIds
        .map((id) => evaluated.get(id.toHexString()))
        .find(
          (found) =>
            found?.status === "open" && found.feedbackIds.some((id) => id.equals(item.written._id)),
        );
      item.settle(joined ?? null);
    }
    await clear(batch.map((item) => item.written));
  };

  /**
   * Each interaction's active feedback at its current revision (read first, so the feedback read
   * after it is at least that new) and its stored conflict: three reads for a whole batch.
   */
  const activeOfAll = async (interactionIds: readonly ObjectId[]) => {
    const states = new Map<
      string,
      { active: FeedbackDoc[]; revision: number; conflict: ConflictDoc | null }
    >();
    if (interactionIds.length === 0) return states;
    const interactions = await collections.interactions
      .find({ _id: { $in: [...interactionIds] } }, { projection: { feedbackRevision: 1 } })
      .toArray();
    for (const interaction of interactions) {
      states.set(interaction._id.toHexString(), {
        active: [],
        revision: interaction.feedbackRevision,
        conflict: null,
      });
    }
    const active = await collections.feedback
      .find(
        { interactionIds: { $in: [...interactionIds] }, status: "active" },
        { batchSize: 10_000 },
      )
      .toArray();
    for (const feedback of active) {
      for (const id of feedback.interactionIds) states.get(id.toHexString())?.active.push(feedback);
    }
    const stored = await collections.conflicts
      .find({ interactionId: { $in: [...interactionIds] } })
      .toArray();
    for (const conflict of stored) {
      const state = states.get(conflict.interactionId.toHexString());
      if (state) state.conflict = conflict;
    }
    return states;
  };

  const runQueue = async () => {
    // Let the writes finishing in this turn of the event loop join the batch.
    await new Promise((resolve) => setImmediate(resolve));
    while (queue.length > 0) {
      const batch = queue.slice(0, FLUSH_BATCH);
      queue = queue.slice(FLUSH_BATCH);
      try {
        await flush(batch);
      } catch (error) {
        for (const item of batch) {
          item.settle(null);
          deps.deferred(error, item.written._id);
        }
      } finally {
        for (const item of batch) inProcess.delete(item.written._id.toHexString());
      }
    }
  };

  const schedule = (item: Omit<Remainder, "settle">) => {
    let settle!: (conflict: ConflictDoc | null) => void;
    const settled = new Promise<ConflictDoc | null>((resolve) => {
      settle = resolve;
    });
    queue.push({ ...item, settle });
    inProcess.add(item.written._id.toHexString());
    flushing ??= runQueue().finally(() => {
      flushing = undefined;
    });
    return () => settled;
  };

  /** The full steps before the answer: backfills, whose place in the rater's history is open. */
  const backfill = async (written: FeedbackDoc): Promise<AfterInsert> => {
    const results = newPostWriteResults();
    await supersedeStep.run(postWrite, written, results);
    for (const interactionId of written.interactionIds) {
      const refreshed = await summaries.rebuild(interactionId, [written._id]);
      if (!refreshed || refreshed.erased) {
        await undo(written);
        throw new NotFoundError("Interaction", interactionId.toHexString());
      }
    }
    const conflict = schedule({ written, checkConflicts: true, rebuild: false });
    return { supersededIds: results.supersededIds, conflict };
  };

  return {
    async afterInsert(written, { backfilled }) {
      if (backfilled) return backfill(written);
      // Only an older opinion can be replaced here (this write is the rater's newest); one
      // racing with an even newer write is settled by the flush's race check.
      const replaced =
        written.raterKey && supersedesEarlier(written.kind)
          ? await collections.feedback.findOneAndUpdate(
              {
                subject: written.subject,
                key: written.key,
                raterKey: written.raterKey,
                status: "active",
                $or: [
                  { createdAt: { $lt: written.createdAt } },
                  { createdAt: written.createdAt, _id: { $lt: written._id } },
                ],
              },
              {
                $set: {
                  status: "superseded",
                  supersededBy: written._id,
                  supersededAt: deps.clock.now(),
                },
              },
              { projection: { _id: 1, kind: 1, sentiment: 1, flag: 1 } },
            )
          : null;
      const outcomes: Applied[] = [];
      for (const interactionId of written.interactionIds) {
        const outcome = await summaries.apply(interactionId, written, replaced);
        if (outcome.state === "gone") {
          await undo(written);
          throw new NotFoundError("Interaction", interactionId.toHexString());
        }
        outcomes.push(outcome);
      }
      const conflict = schedule({
        written,
        // Skipped only when neither the digest before nor after this write could hold a
        // disagreement: then no conflict exists to open, join or withdraw.
        checkConflicts: outcomes.some(
          (outcome) =>
            outcome.state !== "applied" ||
            outcome.legacy ||
            mayDisagree(outcome.before) ||
            mayDisagree(outcome.after),
        ),
        // A recovery that counted this write before its update landed did not see the opinion
        // it replaced leave: a rebuild takes it out.
        rebuild: outcomes.some(
          (outcome) =>
            outcome.state === "already" || (outcome.state === "applied" && outcome.legacy),
        ),
      });
      return { supersededIds: replaced ? [replaced._id] : [], conflict };
    },

    async finish(id, options = {}) {
      const written = await collections.feedback.findOne({ _id: id });
      if (!written) return false;
      if (!written.pendingSince && !options.force) return false;
      if (written.pendingSince) {
        // Never counted and its interaction gone: the write was never acknowledged.
        const interactions = await collections.interactions
          .find(
            { _id: { $in: written.interactionIds } },
            { projection: { erasedAt: 1, feedbackApplied: 1, feedbackAdopted: 1 } },
          )
          .toArray();
        const counted = interactions.some((interaction) =>
          [...(interaction.feedbackApplied ?? []), ...(interaction.feedbackAdopted ?? [])].some(
            (applied) => applied.equals(written._id),
          ),
        );
        const gone =
          interactions.length < written.interactionIds.length ||
          interactions.some((interaction) => interaction.erasedAt);
        if (gone && !counted) {
          await undo(written);
          throw new NotFoundError("Interaction", written.interactionIds[0]?.toHexString() ?? "");
        }
      }
      await runPostWriteSteps(postWrite, written, postWriteSteps);
      await clear([written]);
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
        for (const { _id } of page) {
          // A write this process answered and is still finishing is not a crash's leftover.
          if (inProcess.has(_id.toHexString())) continue;
          await deps.enqueue(_id);
          found += 1;
        }
        if (page.length < batchSize) return found;
        const tail = page[page.length - 1]!;
        last = { pendingSince: tail.pendingSince!, _id: tail._id };
      }
    },

    pending: () => collections.feedback.countDocuments({ pendingSince: { $exists: true } }),

    async drain() {
      while (flushing) await flushing;
    },
  };
}
