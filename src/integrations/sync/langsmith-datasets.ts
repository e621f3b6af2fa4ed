/**
 * Curated dataset snapshots pushed to LangSmith as datasets, one example per row.
 *
 * A push is a job (`integration.langsmith-dataset`, one per snapshot at a time). It finds or
 * creates the dataset, then pages through the snapshot's stored rows in `_id` order (eval rows,
 * then train rows), EXAMPLE_BATCH at a time: each batch asks LangSmith which of its example ids
 * exist and uploads the others. Example ids are UUID v5 of the row id, so a retried batch, a
 * resumed job or a second push of the same snapshot lands on the same examples: a re-run adds
 * nothing. After every batch the job checkpoints the last row id; a crashed attempt's successor
 * continues from there, and the id check covers the batch that was in flight. The ids about to be
 * uploaded are checkpointed first, so the successor also knows which of the examples it finds
 * were added by this push (counted as pushed) rather than by an earlier one (skipped).
 */
import { createHash } from "node:crypto";
import { ObjectId } from "mongodb";
import { formatOf } from "../../datasets/builders.js";
import type { DatasetFormat } from "../../datasets/formats.js";
import type { JobContext } from "../../jobs/types.js";
import type { DatasetRowDoc, DatasetSnapshotDoc } from "../../store/dataset-docs.js";
import {
  EXAMPLE_BATCH,
  type LangSmithAdapter,
  type LangSmithExampleInput,
} from "../langsmith/client.js";
import type { SyncDeps } from "./context.js";

export const DATASET_PUSH_JOB = "integration.langsmith-dataset";
/** LangSmith dataset names Loopgate accepts (the service's own limit is not published). */
export const MAX_DATASET_NAME = 200;

export interface DatasetPushPayload {
  snapshotId: string;
  datasetName: string;
}

/** Where a push got to (the job's checkpoint). */
export interface DatasetPushProgress {
  datasetId: string;
  datasetName: string;
  /** The last row handed over; null before the first batch. */
  afterRowId: string | null;
  pushed: number;
  skipped: number;
  /** Ids of the batch after `afterRowId` being uploaded when this was saved. */
  pending?: string[];
}

/** The dataset a snapshot goes to unless a name is given. */
export const defaultDatasetName = (snapshot: Pick<DatasetSnapshotDoc, "_id" | "kind">) =>
  `loopgate-${snapshot.kind.replaceAll("_", "-")}-${snapshot._id.toHexString()}`;

/** Namespace of Loopgate's name-based UUIDs (a fixed random UUID). */
const NAMESPACE = "8f1c2a4e-5b7d-4e0a-9c36-2d51f0b7a9e3";

/** An RFC 4122 name-based UUID (version 5, SHA-1): the same name always gives the same UUID. */
export function uuidV5(name: string, namespace: string = NAMESPACE): string {
  const bytes = createHash("sha1")
    .update(Buffer.from(namespace.replaceAll("-", ""), "hex"))
    .update(name, "utf8")
    .digest()
    .subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The LangSmith example id of one stored row (row ids already start with the snapshot id). */
export const exampleIdOf = (snapshotId: ObjectId, rowId: string) =>
  uuidV5(`loopgate-dataset-row:${snapshotId.toHexString()}:${rowId}`);

/**
 * Which TRL columns are the example's inputs: the prompt side. Everything else in the row is the
 * reference output (completion, chosen/rejected, label, score, answer). Reward pairs have an
 * implicit prompt, so all of the row is output and the inputs are empty.
 */
const INPUT_COLUMNS: Record<DatasetFormat, readonly string[]> = {
  sft: ["prompt"],
  sftMessages: [],
  dpo: ["prompt"],
  kto: ["prompt"],
  reward: [],
  rewardScore: ["prompt"],
  negatives: ["prompt"],
  ragGaps: ["question"],
  safety: ["prompt"],
};

/** A TRL row as LangSmith inputs and outputs (see the README's Integrations section). */
export function exampleOf(
  format: DatasetFormat,
  row: Record<string, unknown>,
): { inputs: Record<string, unknown>; outputs: Record<string, unknown> } {
  if (format === "sftMessages") {
    // A conversation: the turns up to the last assistant turn are the input, that turn the output.
    if (typeof row.text === "string") return { inputs: {}, outputs: { text: row.text } };
    const messages = (row.messages ?? []) as Array<{ role: string }>;
    const last = messages.findLastIndex((message) => message.role === "assistant");
    if (last < 0) return { inputs: { messages }, outputs: {} };
    return {
      inputs: { messages: messages.slice(0, last) },
      outputs: { messages: messages.slice(last) },
    };
  }
  const inputColumns = INPUT_COLUMNS[format];
  const inputs: Record<string, unknown> = {};
  const outputs: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row))
    (inputColumns.includes(column) ? inputs : outputs)[column] = value;
  return { inputs, outputs };
}

/** The dataset's description: the snapshot's provenance, in words. */
export function describeSnapshot(snapshot: DatasetSnapshotDoc): string {
  const { filter, counts } = snapshot;
  const parts = [
    `Loopgate ${snapshot.kind} snapshot ${snapshot._id.toHexString()} (version ${snapshot.version}${snapshot.name ? `, "${snapshot.name}"` : ""})`,
    `created ${snapshot.createdAt.toISOString()} by ${snapshot.createdBy}`,
    `feedback from ${filter.from?.toISOString() ?? "the beginning"} until ${filter.until.toISOString()}`,
    ...(filter.keys ? [`keys ${filter.keys.join(", ")}`] : []),
    ...(filter.modelIds ? [`models ${filter.modelIds.join(", ")}`] : []),
    ...(filter.sources ? [`sources ${filter.sources.join(", ")}`] : []),
    ...(filter.minQuality !== undefined ? [`min quality ${filter.minQuality}`] : []),
    `rows: ${counts?.train ?? 0} train, ${counts?.eval ?? 0} eval, from ${counts?.feedbackUsed ?? 0} feedback`,
  ];
  return `${parts.join("; ")}.`;
}

export interface LangSmithDatasetPush {
  run(context: JobContext<Partial<DatasetPushPayload>>): Promise<void>;
}

export function createLangSmithDatasetPush(
  deps: Pick<SyncDeps, "collections" | "logger">,
  adapter: LangSmithAdapter,
  hooks: { pushed(items: number): void },
): LangSmithDatasetPush {
  const { collections } = deps;
  return {
    async run(context) {
      const { snapshotId: rawId, datasetName } = context.job.payload;
      if (typeof rawId !== "string" || !ObjectId.isValid(rawId) || typeof datasetName !== "string")
        throw new Error(`${DATASET_PUSH_JOB} job without a valid snapshotId and datasetName`);
      const snapshotId = new ObjectId(rawId);
      const snapshot = await collections.datasetSnapshots.findOne({ _id: snapshotId });
      // Checked when the push was requested; snapshots are never deleted or rebuilt once ready.
      if (snapshot?.state !== "ready")
        throw new Error(`dataset snapshot ${rawId} is not ready to push`);
      const saved = context.job.progress as Partial<DatasetPushProgress> | null;
      let progress: DatasetPushProgress;
      if (saved?.datasetId && saved.datasetName === datasetName) {
        progress = {
          datasetId: saved.datasetId,
          datasetName,
          afterRowId: saved.afterRowId ?? null,
          pushed: saved.pushed ?? 0,
          skipped: saved.skipped ?? 0,
          ...(saved.pending ? { pending: saved.pending } : {}),
        };
      } else {
        const dataset = await adapter.ensureDataset(datasetName, describeSnapshot(snapshot), {
          loopgate_snapshot_id: rawId,
          loopgate_kind: snapshot.kind,
          loopgate_version: snapshot.version,
          loopgate_filter_id: snapshot.filterId,
          ...(snapshot.sha256 ? { loopgate_sha256: snapshot.sha256 } : {}),
        });
        progress = { datasetId: dataset.id, datasetName, afterRowId: null, pushed: 0, skipped: 0 };
        await context.checkpoint({ ...progress });
      }
      const format = formatOf(snapshot.kind, snapshot.options.style);
      // Both splits in one `_id` range ("eval" < "train"; ":" < ";"), a batch in memory at a time.
      const end = `${rawId};`;
      for (;;) {
        const page: DatasetRowDoc[] = await collections.datasetRows
          .find(
            { _id: { $gt: progress.afterRowId ?? `${rawId}:`, $lt: end } },
            { sort: { _id: 1 }, limit: EXAMPLE_BATCH, batchSize: EXAMPLE_BATCH },
          )
          .toArray();
        if (page.length === 0) break;
        const examples: LangSmithExampleInput[] = page.map((row) => ({
          id: exampleIdOf(snapshotId, row._id),
          ...exampleOf(format, JSON.parse(row.line) as Record<string, unknown>),
          split: row.split,
          metadata: {
            loopgate_snapshot_id: rawId,
            loopgate_row_id: row._id,
            loopgate_source: row.source,
            loopgate_feedback_ids: row.feedbackIds.map((id) => id.toHexString()),
          },
        }));
        const uploaded = new Set(
          await adapter.addExamples(progress.datasetId, examples, {
            // Kept with what an earlier attempt had pending on this batch, found or not.
            beforeUpload: (ids) =>
              context.checkpoint({
                ...progress,
                pending: [...new Set([...(progress.pending ?? []), ...ids])],
              }),
          }),
        );
        // Found, but sent by the attempt that died after sending them: this push added them.
        const before = new Set(progress.pending ?? []);
        const inherited = examples.filter(
          (example) => !uploaded.has(example.id) && before.has(example.id),
        ).length;
        const added = uploaded.size + inherited;
        const { pending: _done, ...rest } = progress;
        progress = {
          ...rest,
          afterRowId: page.at(-1)!._id,
          pushed: progress.pushed + added,
          skipped: progress.skipped + page.length - added,
        };
        // Counted once the checkpoint holds the batch: an attempt that dies (or loses its lease)
        // before that leaves the counting to the successor that finds them through `pending`.
        await context.checkpoint({ ...progress });
        if (added > 0) hooks.pushed(added);
        context.signal.throwIfAborted();
      }
      deps.logger.info(
        {
          snapshotId: rawId,
          dataset: datasetName,
          pushed: progress.pushed,
          skipped: progress.skipped,
        },
        "dataset snapshot pushed to LangSmith",
      );
    },
  };
}
