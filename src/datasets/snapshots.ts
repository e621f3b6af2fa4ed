import { createHash } from "node:crypto";
import { type Collection, type Filter, ObjectId } from "mongodb";
import { stringify } from "safe-stable-stringify";
import { z } from "zod";
import { type Actor, actorLabel } from "../auth/actor.js";
import type { Clock } from "../clock.js";
import { NotFoundError, ValidationError } from "../errors.js";
import { feedbackKeyName } from "../feedback/inputs.js";
import type { FencedCollection } from "../jobs/fence.js";
import { type AgreementReportService, isUsable } from "../pipeline/agreement-reports.js";
import {
  type DatasetKind,
  type DatasetRowDoc,
  type DatasetSnapshotDoc,
  type DatasetSplit,
  datasetKinds,
  type SnapshotCounts,
  type SnapshotFilter,
  type SnapshotOptions,
  type SnapshotState,
} from "../store/dataset-docs.js";
import { type FeedbackDoc, type FeedbackSource, feedbackSources } from "../store/documents.js";
import { isDuplicateKeyOn } from "../store/errors.js";
import type { Collections } from "../store/mongo.js";
import { type Page, type PageArgs, paginate } from "../store/pagination.js";
import { identifier, parseInput, timestamp } from "../validation.js";
import {
  balance,
  buildCandidates,
  type Candidate,
  feedbackKindsFor,
  formatOf,
  type SourceFeedback,
  type SourceInteraction,
} from "./builders.js";
import { createSnapshotReader, type ExportFile } from "./export.js";
import { validateRow } from "./formats.js";
import { splitOf } from "./split.js";

/**
 * Versioned, immutable training-data snapshots. Creating one stores its filter and options and
 * queues a build job; the build reads the matching feedback once, turns it into rows (builders.ts),
 * validates every row against TRL's format (formats.ts), splits them by a seeded hash of each
 * row's stable id and writes them in bulk to `datasetRows`, from where exports stream them in
 * order. The same inputs give the same bytes: the filter's end defaults to the creation time, rows
 * are ordered by stable id, and each line is stored as the exact text that is exported.
 */

export const BUILD_JOB = "datasets.build";
/** Limits of a snapshot's filter. */
export const MAX_FILTER_VALUES = 50;
export const MAX_EVAL_FRACTION = 0.5;
const ROW_BATCH = 2_000;
const INTERACTION_BATCH = 2_000;

/** The fields of a feedback the builders read (typed, so a new one cannot be forgotten here). */
const FEEDBACK_FIELDS: Record<keyof SourceFeedback, 1> = {
  _id: 1,
  kind: 1,
  key: 1,
  interactionId: 1,
  subject: 1,
  raterKey: 1,
  category: 1,
  binary: 1,
  rating: 1,
  correction: 1,
  comparison: 1,
  flag: 1,
  metadata: 1,
  pipeline: 1,
};
/** The fields of an interaction the builders read, and whether its user was erased. */
const INTERACTION_FIELDS: Record<keyof SourceInteraction | "erasedAt", 1> = {
  _id: 1,
  query: 1,
  messages: 1,
  response: 1,
  metadata: 1,
  erasedAt: 1,
};

const snapshotInput = z
  .object({
    kind: z.enum(datasetKinds),
    name: z.string().trim().min(1).max(100).optional(),
    style: z.enum(["standard", "conversational"]).default("standard"),
    filter: z
      .object({
        from: timestamp.optional(),
        until: timestamp.optional(),
        keys: z.array(feedbackKeyName).min(1).max(MAX_FILTER_VALUES).optional(),
        modelIds: z.array(identifier).min(1).max(MAX_FILTER_VALUES).optional(),
        sources: z.array(z.enum(feedbackSources)).min(1).optional(),
        minQuality: z.number().min(0).max(1).optional(),
      })
      .default({}),
    evalFraction: z.number().min(0).max(MAX_EVAL_FRACTION).default(0.1),
    seed: z.number().int().min(0).max(2_147_483_647).default(0),
    excludeUsed: z.boolean().default(false),
    balanceBy: z
      .array(z.enum(["topic", "difficulty"]))
      .max(2)
      .default([]),
    highRating: z.number().min(0.5).max(1).default(0.75),
    lowRating: z.number().min(0).max(0.5).default(0.25),
    minScoreGap: z.number().min(0).max(1).default(0.5),
    minStrength: z.number().min(0).max(1).default(0.5),
  })
  .superRefine((input, ctx) => {
    const { from, until } = input.filter;
    if (from && until && from >= until) {
      ctx.addIssue({ code: "custom", path: ["filter", "until"], message: "must be after from" });
    }
    if (input.kind === "rag_gaps" && input.style === "conversational") {
      ctx.addIssue({
        code: "custom",
        path: ["style"],
        message: "RAG gaps are question/answer text; only STANDARD applies",
      });
    }
  });
export type SnapshotInput = z.input<typeof snapshotInput>;

export interface SnapshotListFilter {
  readonly kind?: DatasetKind | null;
  readonly state?: SnapshotState | null;
}

export interface BuildHooks {
  /** Saves progress (the job's checkpoint). */
  readonly progress?: (progress: Record<string, unknown>) => Promise<void>;
  /** Fenced writes to the snapshot document when a newer attempt of the job could race. */
  readonly fenced?: (
    collection: Collection<DatasetSnapshotDoc>,
  ) => FencedCollection<DatasetSnapshotDoc>;
}

export interface DatasetService {
  /** Validates, stores the snapshot (state `building`) and queues its build. */
  create(
    input: SnapshotInput,
    actor: Actor,
  ): Promise<{ snapshot: DatasetSnapshotDoc; jobId: ObjectId }>;
  get(id: ObjectId): Promise<DatasetSnapshotDoc | null>;
  getMany(ids: readonly string[]): Promise<Array<DatasetSnapshotDoc | null>>;
  list(filter: SnapshotListFilter, args: PageArgs): Promise<Page<DatasetSnapshotDoc>>;
  /** Builds a snapshot's rows (the job's work); idempotent, a ready snapshot is left as it is. */
  build(id: ObjectId, hooks?: BuildHooks): Promise<DatasetSnapshotDoc>;
  /** A ready snapshot's file, line by line (each ends with "\n"), paged from the store. */
  lines(id: ObjectId, file: ExportFile): AsyncGenerator<string>;
  /** A ready snapshot, or why it cannot be exported. */
  exportable(id: ObjectId): Promise<DatasetSnapshotDoc>;
  /** Marks a snapshot whose build gave up (the job's last attempt failed). */
  fail(id: ObjectId, error: string): Promise<void>;
}

const rowId = (snapshot: ObjectId, split: DatasetSplit, ordinal: number) =>
  `${snapshot.toHexString()}:${split}:${String(ordinal).padStart(10, "0")}`;

export function createDatasetService(deps: {
  collections: Pick<
    Collections,
    "feedback" | "interactions" | "datasetSnapshots" | "datasetRows" | "agreementReports"
  >;
  clock: Clock;
  agreement: AgreementReportService;
  enqueue: (snapshotId: ObjectId) => Promise<ObjectId>;
}): DatasetService {
  const { collections, clock } = deps;

  const reader = createSnapshotReader(collections);

  const usedFeedback = async (snapshot: DatasetSnapshotDoc): Promise<Set<string>> => {
    const earlier = await collections.datasetSnapshots
      .find(
        { kind: snapshot.kind, state: "ready", version: { $lt: snapshot.version } },
        { projection: { _id: 1 } },
      )
      .toArray();
    const used = new Set<string>();
    for (const { _id } of earlier) {
      for (const split of ["train", "eval"] as const) {
        for await (const row of reader.rows(_id, split)) {
          for (const id of row.feedbackIds) used.add(id.toHexString());
        }
      }
    }
    return used;
  };

  const readFeedback = async (snapshot: DatasetSnapshotDoc): Promise<SourceFeedback[]> => {
    const { filter } = snapshot;
    const query: Filter<FeedbackDoc> = {
      createdAt: { ...(filter.from ? { $gte: filter.from } : {}), $lt: filter.until },
      status: "active",
    };
    if (filter.keys) query.key = { $in: filter.keys };
    if (filter.modelIds) query["model.id"] = { $in: filter.modelIds };
    if (filter.sources) query.source = { $in: filter.sources as FeedbackSource[] };
    // One cursor per kind, read together: the driver asks for a cursor's next batch only once it
    // has decoded the last, so a single cursor leaves the database idle while the gateway decodes
    // and the other way round. Decoding is most of the read, so only the fields the builders use
    // come back (the embedded store copies them out of the stored bytes).
    const perKind = await Promise.all(
      feedbackKindsFor[snapshot.kind].map(
        (kind) =>
          collections.feedback
            .find({ ...query, kind }, { batchSize: 5_000, projection: FEEDBACK_FIELDS })
            .toArray() as Promise<SourceFeedback[]>,
      ),
    );
    const docs = perKind.flat();
    // Id order (creation order) makes every later step independent of the plan the store chose.
    const keyed = docs.map((doc) => [doc._id.toHexString(), doc] as const);
    keyed.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    return keyed.map(([, doc]) => doc);
  };

  const readInteractions = async (
    feedback: readonly SourceFeedback[],
  ): Promise<Map<string, SourceInteraction>> => {
    const ids = new Map<string, ObjectId>();
    for (const entry of feedback) {
      if (entry.interactionId) ids.set(entry.interactionId.toHexString(), entry.interactionId);
      for (const side of [entry.comparison?.a, entry.comparison?.b]) {
        if (side?.interactionId) ids.set(side.interactionId.toHexString(), side.interactionId);
      }
    }
    const all = [...ids.values()];
    const found = new Map<string, SourceInteraction>();
    const read = (start: number) => {
      const batch = collections.interactions
        .find(
          { _id: { $in: all.slice(start, start + INTERACTION_BATCH) } },
          { batchSize: INTERACTION_BATCH, projection: INTERACTION_FIELDS },
        )
        .toArray();
      // Awaited on the next turn; until then a failure must not count as unhandled.
      batch.catch(() => undefined);
      return batch;
    };
    // Two batches in flight, for the same reason as the feedback's cursors above.
    let next = all.length > 0 ? read(0) : undefined;
    for (let start = 0; next; start += INTERACTION_BATCH) {
      const current = next;
      next = start + INTERACTION_BATCH < all.length ? read(start + INTERACTION_BATCH) : undefined;
      // An erased user's answers are not training data.
      for (const doc of await current) if (!doc.erasedAt) found.set(doc._id.toHexString(), doc);
    }
    return found;
  };

  const writer = (hooks: BuildHooks) => {
    const fenced = hooks.fenced?.(collections.datasetSnapshots);
    return (filter: Filter<DatasetSnapshotDoc>, update: Record<string, unknown>) =>
      fenced
        ? fenced.updateOne(filter, { $set: update })
        : collections.datasetSnapshots.updateOne(filter, { $set: update });
  };

  const insertRows = async (rows: DatasetRowDoc[]) => {
    try {
      await collections.datasetRows.insertMany(rows, { ordered: false });
    } catch (error) {
      // A retried build writes the same rows under the same ids: what is already there is the
      // identical row, so duplicates are the expected outcome, anything else is not.
      const writeErrors = (error as { writeErrors?: Array<{ code?: number }> }).writeErrors;
      const only = Array.isArray(writeErrors) ? writeErrors : [];
      if (
        !isDuplicateKeyOn(error, "_id") &&
        !(only.length > 0 && only.every((e) => e.code === 11000))
      )
        throw error;
    }
  };

  return {
    async create(raw, actor) {
      const input = parseInput(snapshotInput, raw);
      const now = clock.now();
      const until = input.filter.until ?? now;
      if (until > now) {
        throw new ValidationError([
          {
            path: "input.filter.until",
            message: "must not be in the future (a snapshot reads what exists when it is made)",
          },
        ]);
      }
      const filter: SnapshotFilter = { ...input.filter, until };
      const options: SnapshotOptions = {
        style: input.style,
        evalFraction: input.evalFraction,
        seed: input.seed,
        excludeUsed: input.excludeUsed,
        balanceBy: [...new Set(input.balanceBy)].sort(),
        highRating: input.highRating,
        lowRating: input.lowRating,
        minScoreGap: input.minScoreGap,
        minStrength: input.minStrength,
      };
      const filterId = createHash("sha256")
        .update(stringify({ kind: input.kind, filter, options }) ?? "")
        .digest("hex");
      for (let tries = 0; ; tries++) {
        const latest = await collections.datasetSnapshots.findOne(
          { kind: input.kind },
          { sort: { version: -1 }, projection: { version: 1 } },
        );
        const snapshot: DatasetSnapshotDoc = {
          _id: new ObjectId(),
          kind: input.kind,
          version: (latest?.version ?? 0) + 1,
          ...(input.name ? { name: input.name } : {}),
          filter,
          filterId,
          options,
          state: "building",
          counts: null,
          heldOut: { keys: [], batches: [] },
          sha256: null,
          progress: null,
          error: null,
          jobId: null,
          createdAt: now,
          createdBy: actorLabel(actor),
          finishedAt: null,
        };
        try {
          await collections.datasetSnapshots.insertOne(snapshot);
        } catch (error) {
          // Two snapshots of one kind created at once: the later takes the next version.
          if (isDuplicateKeyOn(error, "version") && tries < 5) continue;
          throw error;
        }
        const jobId = await deps.enqueue(snapshot._id);
        await collections.datasetSnapshots.updateOne({ _id: snapshot._id }, { $set: { jobId } });
        return { snapshot: { ...snapshot, jobId }, jobId };
      }
    },

    get: (id) => collections.datasetSnapshots.findOne({ _id: id }),

    async getMany(ids) {
      const valid = ids.filter((id) => ObjectId.isValid(id) && id.length === 24);
      const docs = await collections.datasetSnapshots
        .find({ _id: { $in: valid.map((id) => new ObjectId(id)) } })
        .toArray();
      const byId = new Map(docs.map((doc) => [doc._id.toHexString(), doc]));
      return ids.map((id) => byId.get(id) ?? null);
    },

    list(filter, args) {
      const query: Filter<DatasetSnapshotDoc> = {};
      if (filter.kind) query.kind = filter.kind;
      if (filter.state) query.state = filter.state;
      return paginate(collections.datasetSnapshots, query, args);
    },

    async build(id, hooks = {}) {
      const snapshot = await collections.datasetSnapshots.findOne({ _id: id });
      if (!snapshot) throw new NotFoundError("DatasetSnapshot", id.toHexString());
      if (snapshot.state !== "building") return snapshot;
      const write = writer(hooks);
      const progress = async (phase: string, read: number, written: number) => {
        await write({ _id: id, state: "building" }, { progress: { phase, read, written } });
        await hooks.progress?.({ phase, read, written });
      };

      await progress("reading", 0, 0);
      const used = snapshot.options.excludeUsed ? await usedFeedback(snapshot) : new Set<string>();
      const read = await readFeedback(snapshot);
      const excluded = {
        ambiguous: 0,
        lowAgreement: 0,
        lowQuality: 0,
        unusable: 0,
        alreadyUsed: 0,
        balanced: 0,
        incomplete: 0,
      };
      const minQuality = snapshot.filter.minQuality;
      const feedback = read.filter((entry) => {
        if (!isUsable(entry)) {
          excluded.unusable += 1;
          return false;
        }
        // Unprocessed feedback has no quality yet: a minimum excludes it.
        if (minQuality !== undefined && (entry.pipeline?.quality ?? -1) < minQuality) {
          excluded.lowQuality += 1;
          return false;
        }
        if (used.has(entry._id.toHexString())) {
          excluded.alreadyUsed += 1;
          return false;
        }
        return true;
      });
      const interactions = await readInteractions(feedback);
      const pairKinds = snapshot.kind === "dpo" || snapshot.kind === "reward";
      const flagged = pairKinds
        ? await deps.agreement.flagged()
        : { keys: new Set<string>(), batches: new Set<string>() };
      await progress("building", read.length, 0);

      const built = buildCandidates({
        kind: snapshot.kind,
        options: snapshot.options,
        feedback,
        interactions,
        flagged,
      });
      excluded.ambiguous = built.ambiguous;
      excluded.lowAgreement = built.lowAgreement;
      excluded.incomplete = built.incomplete;
      const { kept, dropped } = balance(
        built.candidates,
        snapshot.options.balanceBy,
        snapshot.options.seed,
      );
      excluded.balanced = dropped;

      const format = formatOf(snapshot.kind, snapshot.options.style);
      const ordered = kept
        .map((candidate) => [candidate.stableId, candidate] as const)
        .sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
        .map(([, candidate]) => candidate);
      const splits: Record<DatasetSplit, Candidate[]> = { train: [], eval: [] };
      for (const candidate of ordered) {
        splits[
          splitOf(candidate.stableId, snapshot.options.seed, snapshot.options.evalFraction)
        ].push(candidate);
      }

      const bySource = new Map<string, number>();
      const usedIds = new Set<string>();
      const sha256 = { train: "", eval: "" };
      let written = 0;
      for (const split of ["train", "eval"] as const) {
        const hash = createHash("sha256");
        let batch: DatasetRowDoc[] = [];
        for (const [ordinal, candidate] of splits[split].entries()) {
          const line = JSON.stringify(validateRow(format, snapshot.options.style, candidate.row));
          hash.update(`${line}\n`);
          batch.push({
            _id: rowId(id, split, ordinal),
            snapshotId: id,
            split,
            ordinal,
            line,
            feedbackIds: candidate.feedbackIds,
            source: candidate.source,
          });
          const sourceKey = `${split}\u0000${candidate.source}`;
          bySource.set(sourceKey, (bySource.get(sourceKey) ?? 0) + 1);
          for (const feedbackId of candidate.feedbackIds) usedIds.add(feedbackId.toHexString());
          if (batch.length === ROW_BATCH) {
            await insertRows(batch);
            written += batch.length;
            batch = [];
            if (written % (ROW_BATCH * 10) === 0) await progress("writing", read.length, written);
          }
        }
        if (batch.length > 0) {
          await insertRows(batch);
          written += batch.length;
        }
        sha256[split] = hash.digest("hex");
      }

      const counts: SnapshotCounts = {
        train: splits.train.length,
        eval: splits.eval.length,
        bySource: [...bySource.entries()]
          .map(([name, rows]) => {
            const [split, source] = name.split("\u0000") as [DatasetSplit, string];
            return { split, source, rows };
          })
          .sort((x, y) => x.split.localeCompare(y.split) || x.source.localeCompare(y.source)),
        feedbackRead: read.length,
        feedbackUsed: usedIds.size,
        excluded,
      };
      const finishedAt = clock.now();
      await write(
        { _id: id, state: "building" },
        {
          state: "ready",
          counts,
          sha256,
          heldOut: { keys: built.heldOutKeys, batches: built.heldOutBatches },
          progress: { phase: "done", read: read.length, written },
          finishedAt,
        },
      );
      await hooks.progress?.({ phase: "done", read: read.length, written });
      return (await collections.datasetSnapshots.findOne({ _id: id }))!;
    },

    async fail(id, error) {
      await collections.datasetSnapshots.updateOne(
        { _id: id, state: "building" },
        { $set: { state: "failed", error: error.slice(0, 2_000), finishedAt: clock.now() } },
      );
    },

    exportable: reader.exportable,
    lines: reader.lines,
  };
}
