import type { ObjectId } from "mongodb";

/**
 * One run of the automated feedback job (pipeline/rlaif.ts) over interactions newer than the
 * stored watermark. `_id` is the job's id, so a retried or resumed job updates the same run.
 */
export interface JudgeRunDoc {
  _id: ObjectId;
  rubric: { id: string; version: string };
  /** The LLM (or rule) judges that scored the sample, in configuration order. */
  judges: string[];
  state: "running" | "succeeded" | "failed";
  startedAt: Date;
  updatedAt: Date;
  finishedAt?: Date;
  /** Interactions after this id were walked… */
  fromId: ObjectId | null;
  /** …up to and including this one. */
  toId: ObjectId | null;
  interactions: number;
  sampled: number;
  ruleVerdicts: number;
  judgeVerdicts: number;
  /** Verdicts found already stored (a rerun), not asked again. */
  alreadyJudged: number;
  failureCount: number;
  /** The last failures (malformed judge output, refused requests), at most 20. */
  failures: Array<{ judge: string; interactionId: ObjectId; error: string }>;
  /** Two judges on the same sample: their agreement on pass/fail over this run's items. */
  crossValidation?: CrossValidationCounts;
  error?: string;
}

/** Pass/fail contingency of two judges over the items both scored. */
export interface CrossValidationCounts {
  judges: [string, string];
  bothPassed: number;
  firstOnly: number;
  secondOnly: number;
  neitherPassed: number;
  /** Items where both named the same failure category (or none). */
  sameCategory: number;
}

/** A rubric text as first used: a later run with the same id+version but other text is refused. */
export interface JudgeRubricDoc {
  /** `<id>:<version>` */
  _id: string;
  id: string;
  version: string;
  instructions: string;
  /** SHA-256 of the instructions. */
  hash: string;
  firstUsedAt: Date;
}

/** Where the automated feedback walk stands: the last interaction id it finished. */
export interface JudgeWatermarkDoc {
  /** "rlaif" */
  _id: string;
  lastId: ObjectId;
  updatedAt: Date;
}

/**
 * A drift report the refresh job stored (pipeline/audit.ts): the divergence gauges read the newest
 * one at each scrape, so every process exports the same figures. Removed after 30 days.
 */
export interface DriftReportDoc {
  _id: ObjectId;
  computedAt: Date;
  threshold: number;
  exceeded: boolean;
  reference: {
    kind: "window" | "feedbackIds";
    window: { from: Date; to: Date } | null;
    label: string | null;
    feedback: number;
  };
  live: { window: { from: Date; to: Date }; interactions: number; feedback: number };
  dimensions: Array<{
    dimension: string;
    divergence: number | null;
    exceeded: boolean;
    reference: Array<{ value: string; count: number; share: number }>;
    live: Array<{ value: string; count: number; share: number }>;
  }>;
}
