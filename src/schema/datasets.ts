import { datasetExportPath } from "../datasets/http-export.js";
import { MAX_EVAL_FRACTION, MAX_FILTER_VALUES } from "../datasets/snapshots.js";
import { ForbiddenError, ValidationError } from "../errors.js";
import { CONSISTENCY_THRESHOLD, MAX_RATER_PAIRS_PER_KEY } from "../pipeline/agreement-reports.js";
import type {
  AgreementReportDoc,
  DatasetSnapshotDoc,
  SnapshotCounts,
  SnapshotFilter,
  SnapshotOptions,
} from "../store/dataset-docs.js";
import { builder } from "./builder.js";
import { enumOf } from "./common.js";
import { FeedbackSourceEnum } from "./feedback.js";
import { JobRef } from "./jobs.js";

/** Every type of the training-data area: agreement reports and dataset snapshots (src/datasets/). */

export const DatasetKindEnum = enumOf(
  "DatasetKind",
  "Which training data a snapshot holds, and in which TRL row format.",
  {
    sft: "SFTTrainer: corrections and highly rated answers. STANDARD: {prompt, completion}; CONVERSATIONAL: {messages}.",
    dpo: "DPOTrainer: {prompt, chosen, rejected} from comparisons, corrections (corrected over original) and good vs bad answers to the same prompt; only pairs with a clear quality difference.",
    kto: "KTOTrainer: {prompt, completion, label} from binary and rating feedback (label true = desirable).",
    reward:
      "RewardTrainer: {chosen, rejected} with the prompt inside each side (implicit prompt), from the same pairs as DPO.",
    reward_score:
      "Reward-model regression: {prompt, completion, score} with the mean normalized rating in [0, 1].",
    negatives:
      "Negative examples {prompt, completion}: answers rated bad, corrected or flagged for accuracy.",
    rag_gaps:
      "RAG index expansion {question, answer}: knowledge-gap feedback with a correction giving the answer.",
    safety:
      "Safety preference pairs {prompt, chosen (safe), rejected (unsafe)}: safety-flagged answers with a correction.",
  },
);

export const DatasetStyleEnum = enumOf(
  "DatasetStyle",
  "TRL's two formats; one file never mixes them (Arrow needs one type per column).",
  {
    standard: "Plain strings (the interaction's query as the prompt).",
    conversational:
      "Lists of {role, content} messages (a chat interaction's messages as the prompt); trainers apply the chat template.",
  },
);

export const DatasetSnapshotStateEnum = enumOf(
  "DatasetSnapshotState",
  "Where a snapshot's build stands.",
  {
    building: "Its build job is queued or running; `progress` says how far it got.",
    ready: "Built; immutable from now on, and downloadable.",
    failed: "The build gave up after its attempts; `error` says why.",
  },
);

export const DatasetSplitEnum = enumOf("DatasetSplit", "A snapshot's split.", {
  train: "Training rows.",
  eval: "Evaluation rows (a seeded hash of each row's stable id decides).",
});

export const DatasetBalanceEnum = enumOf(
  "DatasetBalance",
  "Interaction metadata a snapshot can balance on (interaction `metadata.topic` / `metadata.difficulty`).",
  {
    topic: "Every topic keeps as many rows as the smallest topic has.",
    difficulty: "Every difficulty keeps as many rows as the smallest difficulty has.",
  },
);

export const AgreementScopeEnum = enumOf("AgreementScope", "What an agreement report covers.", {
  key: "All judgements of one feedback key.",
  batch: "The judgements of one key that share `metadata.batchId` (e.g. one annotation campaign).",
  rater_pair: "Two raters over the items both judged.",
});

export const AgreementMethodEnum = enumOf("AgreementMethod", "The statistic in `value`.", {
  cohen: "Cohen's κ (two raters).",
  fleiss: "Fleiss' κ (many raters, categorical judgements: thumbs, comparison winners).",
  krippendorff: "Krippendorff's α, ordinal (ratings).",
  pairwise:
    "Plain pairwise agreement (the chance-corrected figure is undefined: every judgement in one category).",
});

const scopeToDb = { key: "key", batch: "batch", rater_pair: "raterPair" } as const;
export const agreementScopeOf = (scope: keyof typeof scopeToDb) => scopeToDb[scope];

export const AgreementReportType = builder
  .objectRef<AgreementReportDoc>("AgreementReport")
  .implement({
    description: `Inter-annotator agreement of one key, batch or rater pair, as last computed. The seed's rule "preference consistency > ${CONSISTENCY_THRESHOLD * 100}%" flags reports at or below it; pairs of flagged keys and batches are held out of DPO and reward data.`,
    fields: (t) => ({
      scope: t.field({
        type: AgreementScopeEnum,
        description: "What the report covers.",
        resolve: (report) => (report.scope === "raterPair" ? "rater_pair" : report.scope),
      }),
      key: t.exposeString("key", { description: "The feedback key." }),
      batchId: t.exposeString("batchId", {
        nullable: true,
        description: "The batch (`metadata.batchId` of the feedback), for BATCH reports.",
      }),
      raters: t.stringList({
        nullable: true,
        description:
          "The two raters (`user:<pseudonym>` or `annotator:<source>:<id>`), for RATER_PAIR reports.",
        resolve: (report) => report.raters ?? null,
      }),
      method: t.field({
        type: AgreementMethodEnum,
        description: "Which statistic `value` is.",
        resolve: (report) => report.method,
      }),
      value: t.exposeFloat("value", { description: "κ or α (1 = perfect, 0 = chance level)." }),
      consistency: t.exposeFloat("consistency", {
        description:
          "Share of rater pairs on the same item that agreed (ratings: on the sentiment side), 0 to 1.",
      }),
      items: t.exposeInt("items", { description: "Items judged by at least two raters." }),
      flagged: t.exposeBoolean("flagged", {
        description: `Consistency at or below ${CONSISTENCY_THRESHOLD}.`,
      }),
      computedAt: t.expose("computedAt", {
        type: "DateTime",
        description: "When it was computed.",
      }),
    }),
  });

const DatasetFilterType = builder.objectRef<SnapshotFilter>("DatasetFilter").implement({
  description: "Which feedback a snapshot read (stored with it: its provenance).",
  fields: (t) => ({
    from: t.expose("from", {
      type: "DateTime",
      nullable: true,
      description: "Feedback created at or after this time.",
    }),
    until: t.expose("until", {
      type: "DateTime",
      description: "Feedback created before this time (the creation time unless given).",
    }),
    keys: t.exposeStringList("keys", { nullable: true, description: "Only these keys." }),
    modelIds: t.exposeStringList("modelIds", {
      nullable: true,
      description: "Only feedback on these models.",
    }),
    sources: t.exposeStringList("sources", {
      nullable: true,
      description: "Only these sources (lower case: user, expert, llm_judge, rule, cross_model).",
    }),
    minQuality: t.exposeFloat("minQuality", {
      nullable: true,
      description: "Minimum pipeline quality score; unprocessed feedback was left out.",
    }),
  }),
});

const DatasetOptionsType = builder.objectRef<SnapshotOptions>("DatasetOptions").implement({
  description: "How a snapshot chose and split its rows.",
  fields: (t) => ({
    style: t.field({
      type: DatasetStyleEnum,
      description: "Standard or conversational rows.",
      resolve: (options) => options.style,
    }),
    evalFraction: t.exposeFloat("evalFraction", { description: "Share of rows in EVAL." }),
    seed: t.exposeInt("seed", { description: "Seed of the split hash." }),
    excludeUsed: t.exposeBoolean("excludeUsed", {
      description: "Feedback used by earlier snapshots of the same kind was left out.",
    }),
    balanceBy: t.field({
      type: [DatasetBalanceEnum],
      description: "Balanced on these interaction metadata fields.",
      resolve: (options) => options.balanceBy,
    }),
    highRating: t.exposeFloat("highRating", { description: "Normalized score counted as good." }),
    lowRating: t.exposeFloat("lowRating", { description: "Normalized score counted as bad." }),
    minScoreGap: t.exposeFloat("minScoreGap", {
      description: "Score difference two answers to one prompt needed to make a pair.",
    }),
    minStrength: t.exposeFloat("minStrength", {
      description: "Mean comparison strength a compared pair needed.",
    }),
  }),
});

const DatasetRowCountType = builder
  .objectRef<SnapshotCounts["bySource"][number]>("DatasetRowCount")
  .implement({
    description: "Rows of one split that came from one kind of feedback.",
    fields: (t) => ({
      split: t.field({
        type: DatasetSplitEnum,
        description: "The split.",
        resolve: (count) => count.split,
      }),
      source: t.exposeString("source", {
        description:
          "Feedback kind(s) behind the rows, e.g. `comparison`, `correction`, `binary+rating`.",
      }),
      rows: t.exposeInt("rows", { description: "How many rows." }),
    }),
  });

const DatasetExclusionsType = builder
  .objectRef<SnapshotCounts["excluded"]>("DatasetExclusions")
  .implement({
    description: "What a snapshot left out, and why.",
    fields: (t) => ({
      ambiguous: t.exposeInt("ambiguous", {
        description:
          "Ambiguous judgements: ties, split votes, middling scores, identical texts, no clear quality difference.",
      }),
      lowAgreement: t.exposeInt("lowAgreement", {
        description: "Pairs held out because their key's or batch's agreement is flagged.",
      }),
      lowQuality: t.exposeInt("lowQuality", {
        description: "Feedback below the filter's minimum quality score (or not scored yet).",
      }),
      unusable: t.exposeInt("unusable", {
        description: "Feedback the pipeline marked duplicate or filtered (spam, bots, …).",
      }),
      alreadyUsed: t.exposeInt("alreadyUsed", {
        description: "Feedback used by an earlier snapshot of the same kind (excludeUsed).",
      }),
      balanced: t.exposeInt("balanced", { description: "Rows dropped to balance groups." }),
      incomplete: t.exposeInt("incomplete", {
        description:
          "Signals lacking the other half of a row (a knowledge gap or safety flag without a correction, empty texts).",
      }),
    }),
  });

const DatasetCountsType = builder.objectRef<SnapshotCounts>("DatasetCounts").implement({
  description: "Rows per split and source, and what was left out.",
  fields: (t) => ({
    train: t.exposeInt("train", { description: "Rows in TRAIN." }),
    eval: t.exposeInt("eval", { description: "Rows in EVAL." }),
    bySource: t.field({
      type: [DatasetRowCountType],
      description: "Rows per split and feedback kind.",
      resolve: (counts) => counts.bySource,
    }),
    feedbackRead: t.exposeInt("feedbackRead", {
      description: "Feedback that matched the filter.",
    }),
    feedbackUsed: t.exposeInt("feedbackUsed", {
      description: "Distinct feedback behind the rows (listed in the provenance file).",
    }),
    excluded: t.field({
      type: DatasetExclusionsType,
      description: "What was left out, by reason.",
      resolve: (counts) => counts.excluded,
    }),
  }),
});

const DatasetDownloadsType = builder.objectRef<DatasetSnapshotDoc>("DatasetDownloads").implement({
  description:
    "Where a ready snapshot's files are served: paths on this gateway (GET with an API key with the READ scope). `npm run dataset:export` writes the same bytes.",
  fields: (t) => ({
    train: t.string({
      description: "TRAIN rows, one JSON object per line.",
      resolve: (snapshot) => datasetExportPath(snapshot._id.toHexString(), "train"),
    }),
    eval: t.string({
      description: "EVAL rows, one JSON object per line.",
      resolve: (snapshot) => datasetExportPath(snapshot._id.toHexString(), "eval"),
    }),
    provenance: t.string({
      description:
        "One line per row, TRAIN then EVAL: {split, ordinal, source, feedback_ids} — the feedback every row came from.",
      resolve: (snapshot) => datasetExportPath(snapshot._id.toHexString(), "provenance"),
    }),
  }),
});

const DatasetProgressType = builder
  .objectRef<NonNullable<DatasetSnapshotDoc["progress"]>>("DatasetBuildProgress")
  .implement({
    description: "How far a snapshot's build got.",
    fields: (t) => ({
      phase: t.exposeString("phase", {
        description: "`reading`, `building`, `writing` or `done`.",
      }),
      read: t.exposeInt("read", { description: "Feedback read." }),
      written: t.exposeInt("written", { description: "Rows written." }),
    }),
  });

export const DatasetSnapshotRef = builder.objectRef<DatasetSnapshotDoc>("DatasetSnapshot");
builder.node(DatasetSnapshotRef, {
  description:
    "A versioned, immutable training dataset built from feedback: its filter, options, counts and the provenance of every row.",
  authScopes: { $any: { read: true, admin: true } },
  id: { resolve: (snapshot) => snapshot._id.toHexString() },
  isTypeOf: (value) =>
    typeof value === "object" && value !== null && "filterId" in value && "kind" in value,
  loadMany: (ids, context) => context.services.datasets.getMany(ids),
  fields: (t) => ({
    kind: t.field({
      type: DatasetKindEnum,
      description: "Which dataset.",
      resolve: (snapshot) => snapshot.kind,
    }),
    version: t.exposeInt("version", { description: "1, 2, … per kind." }),
    name: t.exposeString("name", { nullable: true, description: "A label given at creation." }),
    state: t.field({
      type: DatasetSnapshotStateEnum,
      description: "Building, ready or failed.",
      resolve: (snapshot) => snapshot.state,
    }),
    filter: t.field({
      type: DatasetFilterType,
      description: "Which feedback it read.",
      resolve: (snapshot) => snapshot.filter,
    }),
    filterId: t.exposeString("filterId", {
      description:
        "SHA-256 of the kind, filter and options: snapshots with the same filterId were built from the same inputs.",
    }),
    options: t.field({
      type: DatasetOptionsType,
      description: "How rows were chosen and split.",
      resolve: (snapshot) => snapshot.options,
    }),
    counts: t.field({
      type: DatasetCountsType,
      nullable: true,
      description: "Rows per split and source, once ready.",
      resolve: (snapshot) => snapshot.counts,
    }),
    heldOutKeys: t.stringList({
      description: "Keys whose pairs were held out because their agreement is flagged.",
      resolve: (snapshot) => snapshot.heldOut.keys,
    }),
    heldOutBatches: t.stringList({
      description: "Batches (`<key>/<batchId>`) held out for the same reason.",
      resolve: (snapshot) => snapshot.heldOut.batches,
    }),
    trainSha256: t.string({
      nullable: true,
      description: "SHA-256 of the TRAIN file's bytes (also its ETag), once ready.",
      resolve: (snapshot) => snapshot.sha256?.train ?? null,
    }),
    evalSha256: t.string({
      nullable: true,
      description: "SHA-256 of the EVAL file's bytes, once ready.",
      resolve: (snapshot) => snapshot.sha256?.eval ?? null,
    }),
    downloads: t.field({
      type: DatasetDownloadsType,
      nullable: true,
      description: "Download paths, once ready.",
      resolve: (snapshot) => (snapshot.state === "ready" ? snapshot : null),
    }),
    progress: t.field({
      type: DatasetProgressType,
      nullable: true,
      description: "How far the build got.",
      resolve: (snapshot) => snapshot.progress,
    }),
    error: t.exposeString("error", {
      nullable: true,
      description: "Why the build failed.",
    }),
    job: t.field({
      type: JobRef,
      nullable: true,
      authScopes: { admin: true },
      description: "The build job (ADMIN scope).",
      resolve: (snapshot, _args, context) =>
        snapshot.jobId ? context.services.jobs.get(snapshot.jobId) : null,
    }),
    createdAt: t.expose("createdAt", { type: "DateTime", description: "When it was created." }),
    createdBy: t.exposeString("createdBy", { description: "Who created it." }),
    finishedAt: t.expose("finishedAt", {
      type: "DateTime",
      nullable: true,
      description: "When its build finished or failed.",
    }),
  }),
});

export const DatasetFilterInput = builder.inputType("DatasetFilterInput", {
  description:
    "Which feedback a snapshot reads. Active feedback only; duplicates and filtered feedback never count.",
  fields: (t) => ({
    from: t.field({ type: "DateTime", description: "Feedback created at or after this time." }),
    until: t.field({
      type: "DateTime",
      description:
        "Feedback created before this time; defaults to now and must not be in the future (so a rebuild reads the same feedback).",
    }),
    keys: t.stringList({ description: `Only these keys (1 to ${MAX_FILTER_VALUES}).` }),
    modelIds: t.stringList({
      description: `Only feedback on these models (1 to ${MAX_FILTER_VALUES}).`,
    }),
    sources: t.field({ type: [FeedbackSourceEnum], description: "Only these sources." }),
    minQuality: t.float({
      description:
        "Leave out feedback whose pipeline quality score is below this (0 to 1); feedback not processed yet is left out too.",
    }),
  }),
});

export const CreateDatasetSnapshotInput = builder.inputType("CreateDatasetSnapshotInput", {
  description: "A snapshot to build.",
  fields: (t) => ({
    kind: t.field({ type: DatasetKindEnum, required: true, description: "Which dataset." }),
    name: t.string({ description: "A label (1 to 100 characters)." }),
    style: t.field({
      type: DatasetStyleEnum,
      description: "STANDARD (default) or CONVERSATIONAL; RAG_GAPS is STANDARD only.",
    }),
    filter: t.field({ type: DatasetFilterInput, description: "Which feedback to read." }),
    evalFraction: t.float({
      description: `Share of rows in EVAL, 0 to ${MAX_EVAL_FRACTION} (default 0.1).`,
    }),
    seed: t.int({
      description: "Seed of the train/eval hash, 0 to 2147483647 (default 0).",
    }),
    excludeUsed: t.boolean({
      description:
        "Leave out feedback already used by earlier ready snapshots of the same kind (default false).",
    }),
    balanceBy: t.field({
      type: [DatasetBalanceEnum],
      description: "Balance rows by interaction topic and/or difficulty (default none).",
    }),
    highRating: t.float({
      description:
        "Normalized score (0.5 to 1) at or above which a vote counts as good (default 0.75: 4 and 5 of 1–5).",
    }),
    lowRating: t.float({
      description:
        "Normalized score (0 to 0.5) at or below which a vote counts as bad (default 0.25: 1 and 2 of 1–5).",
    }),
    minScoreGap: t.float({
      description:
        "Two answers to one prompt pair up only when their mean scores differ by at least this (0 to 1, default 0.5).",
    }),
    minStrength: t.float({
      description:
        "Comparisons whose mean strength is below this are ambiguous (0 to 1, default 0.5; comparisons without a strength count as 1).",
    }),
  }),
});

export class CreateDatasetSnapshotPayload {
  constructor(readonly snapshot: DatasetSnapshotDoc) {}
}

builder.objectType(CreateDatasetSnapshotPayload, {
  name: "CreateDatasetSnapshotPayload",
  description: "The snapshot, stored and queued for its build.",
  isTypeOf: (value) => value instanceof CreateDatasetSnapshotPayload,
  fields: (t) => ({
    snapshot: t.field({
      type: DatasetSnapshotRef,
      description: "The new snapshot (state BUILDING; poll it, or its job with the ADMIN scope).",
      resolve: (payload) => payload.snapshot,
    }),
  }),
});

export const CreateDatasetSnapshotResult = builder.errorUnion("CreateDatasetSnapshotResult", {
  description: "The new snapshot, or why it was refused.",
  types: [CreateDatasetSnapshotPayload, ValidationError, ForbiddenError],
});

export const ComputeAgreementResult = builder.errorUnion("ComputeAgreementResult", {
  description: "The queued recomputation, or why it was refused.",
  types: [JobRef, ValidationError, ForbiddenError],
});

/** Cap on reports one query returns. */
export const MAX_AGREEMENT_REPORTS = 500;
export const agreementLimitDescription = `How many reports (1 to ${MAX_AGREEMENT_REPORTS}, default 100); a key reports at most ${MAX_RATER_PAIRS_PER_KEY} rater pairs.`;
