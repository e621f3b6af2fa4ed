import type { ObjectId } from "mongodb";

/**
 * Documents of the training-data area (src/datasets/, src/pipeline/agreement-reports.ts).
 * Declared beside the other collections so the store imports no area.
 */

/** One agreement computation (CONTRACTS §4): a key, a batch of a key, or one pair of raters. */
export interface AgreementReportDoc {
  _id: ObjectId;
  scope: "key" | "batch" | "raterPair";
  key: string;
  batchId?: string;
  /** The two raters (raterKey values), sorted. */
  raters?: [string, string];
  method: "cohen" | "fleiss" | "krippendorff" | "pairwise";
  /** The method's statistic (κ or α); for `pairwise`, the agreement itself. */
  value: number;
  /** Share of rater pairs on the same item that agreed (the seed's "preference consistency"). */
  consistency: number;
  /** Items judged by at least two raters. */
  items: number;
  /** consistency <= 0.8: pairs of this key or batch are held out of preference data. */
  flagged: boolean;
  computedAt: Date;
}

export const datasetKinds = [
  "sft",
  "dpo",
  "kto",
  "reward",
  "reward_score",
  "negatives",
  "rag_gaps",
  "safety",
] as const;
export type DatasetKind = (typeof datasetKinds)[number];

export const datasetSplits = ["train", "eval"] as const;
export type DatasetSplit = (typeof datasetSplits)[number];

export const snapshotStates = ["building", "ready", "failed"] as const;
export type SnapshotState = (typeof snapshotStates)[number];

/** Which feedback a snapshot reads. Stored as given, and hashed into the snapshot's filterId. */
export interface SnapshotFilter {
  /** Feedback created at or after this time. */
  from?: Date;
  /** Feedback created before this time; defaults to the snapshot's creation time. */
  until: Date;
  keys?: string[];
  modelIds?: string[];
  sources?: string[];
  /** Feedback with a pipeline quality below this is left out (and unprocessed feedback with it). */
  minQuality?: number;
}

/** How rows are chosen and split, beside the filter. */
export interface SnapshotOptions {
  style: "standard" | "conversational";
  evalFraction: number;
  seed: number;
  /** Leave out feedback already used by an earlier snapshot of the same kind. */
  excludeUsed: boolean;
  balanceBy: Array<"topic" | "difficulty">;
  /** A rating counts as high (SFT, KTO desirable) at or above this normalized score. */
  highRating: number;
  /** …and as low (negatives, KTO undesirable) at or below this one. */
  lowRating: number;
  /** Two answers to one prompt make a pair only when their scores differ by at least this. */
  minScoreGap: number;
  /** Comparisons weaker than this strength are ambiguous. */
  minStrength: number;
}

/** Rows per split, and what was left out and why. */
export interface SnapshotCounts {
  train: number;
  eval: number;
  /** Rows by the kind of feedback they came from (a pair from a comparison: "comparison"). */
  bySource: Array<{ split: DatasetSplit; source: string; rows: number }>;
  /** Feedback read from the store that matched the filter. */
  feedbackRead: number;
  /** Distinct feedback ids behind the rows. */
  feedbackUsed: number;
  excluded: {
    ambiguous: number;
    lowAgreement: number;
    lowQuality: number;
    unusable: number;
    alreadyUsed: number;
    balanced: number;
    incomplete: number;
  };
}

export interface DatasetSnapshotDoc {
  _id: ObjectId;
  kind: DatasetKind;
  /** 1, 2, … per kind. */
  version: number;
  name?: string;
  filter: SnapshotFilter;
  /** SHA-256 of the canonical filter and options: snapshots with equal inputs share it. */
  filterId: string;
  options: SnapshotOptions;
  state: SnapshotState;
  counts: SnapshotCounts | null;
  /** Keys and batches whose pairs were held out because their agreement is flagged. */
  heldOut: { keys: string[]; batches: string[] };
  /** SHA-256 of each split's JSONL bytes, once ready. */
  sha256: { train: string; eval: string } | null;
  progress: { phase: string; read: number; written: number } | null;
  error: string | null;
  jobId: ObjectId | null;
  createdAt: Date;
  createdBy: string;
  finishedAt: Date | null;
}

/**
 * One exported row: `line` is the exact JSON text written to the JSONL file, so exports stream
 * stored bytes and never re-serialize. `_id` is `<snapshot>:<split>:<ordinal>` (zero-padded), so
 * a retried build writing the same row again collides instead of duplicating it.
 */
export interface DatasetRowDoc {
  _id: string;
  snapshotId: ObjectId;
  split: DatasetSplit;
  ordinal: number;
  line: string;
  /** Provenance: every feedback this row was built from. */
  feedbackIds: ObjectId[];
  /** The feedback kind(s) it came from, e.g. "comparison", "correction", "rating". */
  source: string;
}
