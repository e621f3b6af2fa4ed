import { ObjectId } from "mongodb";
import type { Actor } from "../auth/actor.js";
import type { Clock } from "../clock.js";
import type { JobQueue } from "../jobs/queue.js";
import type { JobContext } from "../jobs/types.js";
import type { FeedbackDoc, PipelineResult } from "../store/documents.js";
import type { JobDoc } from "../store/job-doc.js";
import type { Collections } from "../store/mongo.js";
import type { Categorizer } from "./categorize.js";
import type { PipelineConfig } from "./config.js";
import { createGuardrailSender, GUARDRAIL_JOB, guardrailEvent } from "./guardrail.js";
import { createRoutedItemService, type RoutedItemService } from "./routed-items.js";
import { type BatchOutcome, createBatchRunner } from "./run.js";

/** Processes marked feedback (queued by the worker's tick, one at a time across processes). */
export const PROCESS_JOB = "pipeline.process";
/** Re-runs the pipeline over all stored feedback, checkpointed. */
export const BACKFILL_JOB = "pipeline.backfill";

/** A process job hands over after this long, so other job types get their turn. */
const PROCESS_BUDGET_MS = 10_000;

export interface BackfillProgress {
  /** The last feedback id processed (ascending `_id` order). */
  readonly lastId: string | null;
  readonly processed: number;
  /** Feedback stored when the backfill started. */
  readonly total: number;
  readonly startedAt: string;
}

export interface PipelineService {
  /** Enqueues the process job when feedback waits for the pipeline (the worker's tick). */
  tick(): Promise<boolean>;
  /** Processes marked feedback in batches until none is left or the time budget is spent. */
  processPending(signal?: AbortSignal): Promise<{ processed: number; batches: number }>;
  /** How many feedback wait for the pipeline. */
  pending(): Promise<number>;
  /** The backfill job's handler: every stored feedback, in `_id` order, from its checkpoint. */
  backfill(context: Pick<JobContext, "job" | "signal" | "checkpoint">): Promise<BackfillProgress>;
  /** Queues a backfill (or returns the one already queued or running). */
  startBackfill(actor: Actor): Promise<{ job: JobDoc; created: boolean }>;
  /** One delivery attempt of a guardrail event (the job handler). */
  deliverGuardrail(payload: Record<string, unknown>, signal?: AbortSignal): Promise<void>;
  readonly routedItems: RoutedItemService;
  /** Listens to every processed batch (metrics); returns the unsubscribe function. */
  onBatch(listener: (outcome: BatchOutcome) => void): () => void;
}

export function createPipelineService(deps: {
  collections: Pick<
    Collections,
    "feedback" | "interactions" | "conflicts" | "routedItems" | "raterTrust" | "raterVotes"
  >;
  clock: Clock;
  config: PipelineConfig;
  jobs: Pick<JobQueue, "enqueue">;
  categorizers?: readonly Categorizer[];
  warn: (message: string, error: unknown) => void;
}): PipelineService {
  const { collections, config, clock } = deps;
  const listeners = new Set<(outcome: BatchOutcome) => void>();
  const sender = config.guardrailWebhook
    ? createGuardrailSender(config.guardrailWebhook)
    : undefined;
  const runBatch = createBatchRunner({
    collections,
    clock,
    config,
    categorizers: deps.categorizers ?? [],
    categorizerFailed: (error) =>
      deps.warn("a categorizer failed; the feedback stays uncategorized by it", error),
    guardrail: async (feedback, result) => {
      if (!sender) return;
      const id = feedback._id.toHexString();
      // The result travels in the payload: the job may run before the batch writes it.
      // Keyed per feedback: a batch run again while the event waits makes no second delivery.
      await deps.jobs.enqueue(
        GUARDRAIL_JOB,
        {
          feedbackId: id,
          category: result.category,
          priority: result.priority,
          groupKey: result.groupKey ?? null,
        },
        { key: `${GUARDRAIL_JOB}:${id}`, priority: 100 },
      );
    },
  });
  const run = async (batch: FeedbackDoc[], clearMarker: boolean) => {
    const outcome = await runBatch(batch, { clearMarker });
    for (const listener of listeners) {
      try {
        listener(outcome);
      } catch (error) {
        deps.warn("a pipeline listener failed", error);
      }
    }
    return outcome;
  };

  return {
    async tick() {
      const waiting = await collections.feedback.findOne(
        { pipelinePendingSince: { $lte: clock.now() } },
        { projection: { _id: 1 } },
      );
      if (!waiting) return false;
      await deps.jobs.enqueue(PROCESS_JOB, {}, { key: PROCESS_JOB, priority: 50 });
      return true;
    },

    async processPending(signal) {
      const started = Date.now();
      let processed = 0;
      let batches = 0;
      while (!signal?.aborted && Date.now() - started < PROCESS_BUDGET_MS) {
        const batch = await collections.feedback
          .find(
            { pipelinePendingSince: { $lte: clock.now() } },
            {
              sort: { pipelinePendingSince: 1, _id: 1 },
              limit: config.batchSize,
              projection: { "correction.originalResponse": 0 },
            },
          )
          .toArray();
        if (batch.length === 0) break;
        processed += (await run(batch, true)).processed;
        batches++;
        if (batch.length < config.batchSize) break;
      }
      return { processed, batches };
    },

    pending: () =>
      collections.feedback.countDocuments({ pipelinePendingSince: { $lte: clock.now() } }),

    async backfill({ job, signal, checkpoint }) {
      const saved = job.progress as Partial<BackfillProgress> | null;
      let progress: BackfillProgress = {
        lastId: saved?.lastId ?? null,
        processed: saved?.processed ?? 0,
        total: saved?.total ?? (await collections.feedback.estimatedDocumentCount()),
        startedAt: saved?.startedAt ?? clock.now().toISOString(),
      };
      if (!saved) await checkpoint({ ...progress });
      for (;;) {
        signal.throwIfAborted();
        const after = progress.lastId;
        const batch = await collections.feedback
          .find(after ? { _id: { $gt: new ObjectId(after) } } : {}, {
            sort: { _id: 1 },
            limit: config.batchSize,
            projection: { "correction.originalResponse": 0 },
          })
          .toArray();
        if (batch.length === 0) return progress;
        await run(batch, true);
        progress = {
          ...progress,
          lastId: batch[batch.length - 1]!._id.toHexString(),
          processed: progress.processed + batch.length,
          total: Math.max(progress.total, progress.processed + batch.length),
        };
        // After the batch's writes: a crash in between runs the batch again, which is harmless.
        await checkpoint({ ...progress });
      }
    },

    startBackfill: (_actor) => deps.jobs.enqueue(BACKFILL_JOB, {}, { key: BACKFILL_JOB }),

    async deliverGuardrail(payload, signal) {
      if (!sender) return;
      const hexId = String(payload.feedbackId);
      if (!ObjectId.isValid(hexId) || hexId.length !== 24) {
        throw new Error(`${GUARDRAIL_JOB} job without a valid feedbackId`);
      }
      const feedbackId = new ObjectId(hexId);
      const feedback = await collections.feedback.findOne(
        { _id: feedbackId },
        { projection: { "correction.originalResponse": 0 } },
      );
      // Erased since: nothing left to report.
      if (!feedback) return;
      const interaction = feedback.interactionId
        ? await collections.interactions.findOne({ _id: feedback.interactionId })
        : null;
      const routed = {
        category: (payload.category as PipelineResult["category"]) ?? "safety",
        priority: Number(payload.priority ?? 0),
        groupKey: typeof payload.groupKey === "string" ? payload.groupKey : null,
      };
      await sender.send(
        feedbackId,
        guardrailEvent(feedback, interaction, routed, clock.now()),
        signal,
      );
    },

    routedItems: createRoutedItemService({ collection: collections.routedItems, clock }),

    onBatch(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
