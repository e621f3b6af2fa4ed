import type { ObjectId } from "mongodb";
import { ConflictError, NotFoundError } from "../errors.js";
import type { DatasetRowDoc, DatasetSnapshotDoc, DatasetSplit } from "../store/dataset-docs.js";
import type { Collections } from "../store/mongo.js";

/**
 * Reading a built snapshot back, for the HTTP route and the CLI alike: both stream the stored
 * lines in `_id` order, so they write the same bytes.
 */

/** Exportable files of a snapshot: each split's rows, and the provenance sidecar. */
export type ExportFile = DatasetSplit | "provenance";

const EXPORT_PAGE = 1_000;

/** Bounds of one split's rows in `_id` order (":" < ";"). */
const splitRange = (snapshot: ObjectId, split: DatasetSplit) => ({
  from: `${snapshot.toHexString()}:${split}:`,
  to: `${snapshot.toHexString()}:${split};`,
});

export interface SnapshotReader {
  /** A ready snapshot, or why it cannot be exported (NotFoundError, ConflictError). */
  exportable(id: ObjectId): Promise<DatasetSnapshotDoc>;
  /** One split's rows in order, one page in memory at a time. */
  rows(id: ObjectId, split: DatasetSplit): AsyncGenerator<DatasetRowDoc>;
  /** A file's lines (each ends with "\n"). */
  lines(id: ObjectId, file: ExportFile): AsyncGenerator<string>;
}

export function createSnapshotReader(
  collections: Pick<Collections, "datasetSnapshots" | "datasetRows">,
): SnapshotReader {
  async function* rows(snapshot: ObjectId, split: DatasetSplit): AsyncGenerator<DatasetRowDoc> {
    const range = splitRange(snapshot, split);
    let after = range.from;
    for (;;) {
      // Keyset pages over `_id`: each is an index range, so neither this process nor the store
      // ever holds more than one page of a snapshot.
      const page = await collections.datasetRows
        .find(
          { _id: { $gt: after, $lt: range.to } },
          // Whole rows: they are small, and projecting costs the embedded store more than it saves.
          { sort: { _id: 1 }, limit: EXPORT_PAGE, batchSize: EXPORT_PAGE },
        )
        .toArray();
      for (const row of page) yield row;
      if (page.length < EXPORT_PAGE) return;
      after = page.at(-1)!._id;
    }
  }

  return {
    rows,

    async exportable(id) {
      const snapshot = await collections.datasetSnapshots.findOne({ _id: id });
      if (!snapshot) throw new NotFoundError("DatasetSnapshot", id.toHexString());
      if (snapshot.state !== "ready") {
        throw new ConflictError(
          `dataset snapshot ${id.toHexString()} is ${snapshot.state}; only ready snapshots export`,
        );
      }
      return snapshot;
    },

    async *lines(id, file) {
      if (file !== "provenance") {
        for await (const row of rows(id, file)) yield `${row.line}\n`;
        return;
      }
      for (const split of ["train", "eval"] as const) {
        for await (const row of rows(id, split)) {
          yield `${JSON.stringify({
            split,
            ordinal: row.ordinal,
            source: row.source,
            feedback_ids: row.feedbackIds.map((feedbackId) => feedbackId.toHexString()),
          })}\n`;
        }
      }
    },
  };
}

/** Rows a file holds, from a ready snapshot's counts. */
export function rowsIn(snapshot: DatasetSnapshotDoc, file: ExportFile): number {
  const counts = snapshot.counts;
  if (!counts) return 0;
  return file === "provenance" ? counts.train + counts.eval : counts[file];
}
