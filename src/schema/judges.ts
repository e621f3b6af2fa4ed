import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "../errors.js";
import { toGlobalId } from "../ids.js";
import type {
  BiasAudit,
  DimensionDrift,
  DistributionShare,
  DriftReport,
  SegmentAudit,
  SegmentFigures,
  TimeWindow,
} from "../pipeline/audit.js";
import { type AgreementFigure, agreementOf } from "../pipeline/rlaif.js";
import type { JudgeRunDoc } from "../store/judge-docs.js";
import { builder } from "./builder.js";
import { JobRef } from "./jobs.js";

/** Every type of automated feedback (RLAIF judges) and of the bias and drift audit. */

const RubricRefType = builder
  .objectRef<{ id: string; version: string }>("JudgeRubricRef")
  .implement({
    description:
      "A judge rubric by id and version. A rubric's text is fixed per version: changing it requires a new version.",
    fields: (t) => ({
      id: t.exposeString("id", {
        description: "The rubric's id (also names the feedback key `rlaif.<id>`).",
      }),
      version: t.exposeString("version", { description: "The rubric's version." }),
    }),
  });

export const JudgeAgreementType = builder.objectRef<AgreementFigure>("JudgeAgreement").implement({
  description:
    "Cross-validation: two judges scoring the same interactions, and how often they agree on pass/fail.",
  fields: (t) => ({
    judges: t.stringList({
      description: "The two judges, in configuration order.",
      resolve: (figure) => [...figure.judges],
    }),
    rubric: t.field({
      type: RubricRefType,
      description: "The rubric both judged by.",
      resolve: (figure) => figure.rubric,
    }),
    items: t.exposeInt("items", { description: "Interactions both judges scored." }),
    kappa: t.exposeFloat("kappa", {
      nullable: true,
      description:
        "Cohen's κ on pass/fail (agreement beyond chance, -1..1); null without items or when chance agreement is already perfect.",
    }),
    percentAgreement: t.exposeFloat("percentAgreement", {
      nullable: true,
      description: "Share of items on which both passed or both failed the answer (0..1).",
    }),
    categoryAgreement: t.exposeFloat("categoryAgreement", {
      nullable: true,
      description: "Share of items on which both named the same failure category, or none (0..1).",
    }),
    flagged: t.exposeBoolean("flagged", {
      description:
        "percentAgreement is 80% or less (the seed's consistency rule): neither judge should be trusted alone.",
    }),
  }),
});

const JudgeRunStateEnum = builder.enumType("JudgeRunState", {
  description: "Where an automated feedback run is.",
  values: {
    RUNNING: {
      value: "running",
      description: "Walking new interactions (or interrupted; the job resumes it).",
    },
    SUCCEEDED: { value: "succeeded", description: "Reached the newest settled interaction." },
    FAILED: {
      value: "failed",
      description: "The last attempt failed (see error); the job retries it.",
    },
  } as const,
});

const JudgeFailureType = builder
  .objectRef<JudgeRunDoc["failures"][number]>("JudgeFailure")
  .implement({
    description:
      "An interaction a judge could not score (malformed output, a refused request); it is skipped.",
    fields: (t) => ({
      judge: t.exposeString("judge", { description: "The judge's name." }),
      interactionId: t.id({
        description: "The interaction's global ID.",
        resolve: (failure) => toGlobalId("Interaction", failure.interactionId),
      }),
      error: t.exposeString("error", { description: "Why (at most 500 characters)." }),
    }),
  });

export const JudgeRunType = builder.objectRef<JudgeRunDoc>("JudgeRun").implement({
  description:
    "One run of the automated feedback job over interactions newer than the previous run: rule checks on each, judges on the sample.",
  fields: (t) => ({
    id: t.id({
      description: "The run's id (the id of the job that ran it).",
      resolve: (run) => run._id.toHexString(),
    }),
    rubric: t.field({
      type: RubricRefType,
      description: "The rubric the judges used.",
      resolve: (run) => run.rubric,
    }),
    judges: t.exposeStringList("judges", {
      description: "The judges that scored the sample, in order.",
    }),
    state: t.field({
      type: JudgeRunStateEnum,
      description: "Where the run is.",
      resolve: (run) => run.state,
    }),
    startedAt: t.expose("startedAt", { type: "DateTime", description: "When the run started." }),
    updatedAt: t.expose("updatedAt", { type: "DateTime", description: "Its last checkpoint." }),
    finishedAt: t.expose("finishedAt", {
      type: "DateTime",
      nullable: true,
      description: "When it succeeded.",
    }),
    interactions: t.exposeInt("interactions", { description: "Interactions walked." }),
    sampled: t.exposeInt("sampled", { description: "Of those, in the judged sample." }),
    ruleVerdicts: t.exposeInt("ruleVerdicts", {
      description: "Rule-check feedback stored (source RULE).",
    }),
    judgeVerdicts: t.exposeInt("judgeVerdicts", {
      description: "Judge feedback stored (source LLM_JUDGE, or RULE for a rule judge).",
    }),
    alreadyJudged: t.exposeInt("alreadyJudged", {
      description:
        "Verdicts found already stored (a rerun or resumed batch): not asked or stored again.",
    }),
    failureCount: t.exposeInt("failureCount", { description: "Verdicts a judge could not give." }),
    failures: t.field({
      type: [JudgeFailureType],
      description: "The last 20 failures.",
      resolve: (run) => run.failures,
    }),
    crossValidation: t.field({
      type: JudgeAgreementType,
      nullable: true,
      description: "With two judges: their agreement over this run's sample.",
      resolve: (run) => (run.crossValidation ? agreementOfRun(run) : null),
    }),
    error: t.exposeString("error", {
      nullable: true,
      description: "The last attempt's error, when it failed.",
    }),
  }),
});

function agreementOfRun(run: JudgeRunDoc): AgreementFigure | null {
  return run.crossValidation ? agreementOf(run.crossValidation, run.rubric) : null;
}

export const RunJudgesResult = builder.errorUnion("RunJudgesResult", {
  description: "The queued automated feedback job, or why none was queued.",
  types: [JobRef, ValidationError, NotFoundError, ConflictError, ForbiddenError],
});

const WindowType = builder.objectRef<TimeWindow>("AuditWindow").implement({
  description: "A half-open time window [from, to).",
  fields: (t) => ({
    from: t.expose("from", { type: "DateTime", description: "Inclusive start." }),
    to: t.expose("to", { type: "DateTime", description: "Exclusive end." }),
  }),
});

const SegmentFiguresType = builder.objectRef<SegmentFigures>("SegmentFigures").implement({
  description:
    "Volumes and rates of one segment value. Feedback counts people's feedback only (sources USER and EXPERT), not automated verdicts.",
  fields: (t) => ({
    value: t.exposeString("value", {
      description:
        "The field's value; `unknown` when interactions lack it, `other` for values beyond the largest maxValues.",
    }),
    interactions: t.exposeInt("interactions", {
      description: "Interactions created in the window with this value.",
    }),
    interactionShare: t.exposeFloat("interactionShare", {
      description: "Their share of the window's interactions.",
    }),
    feedback: t.exposeInt("feedback", {
      description: "People's feedback given in the window on interactions with this value.",
    }),
    feedbackShare: t.exposeFloat("feedbackShare", {
      description: "Its share of the window's feedback.",
    }),
    representation: t.exposeFloat("representation", {
      nullable: true,
      description:
        "feedbackShare / interactionShare: 1 is proportional; below 1 this segment is under-represented in the feedback that becomes training data.",
    }),
    positiveRate: t.exposeFloat("positiveRate", {
      nullable: true,
      description: "Positive share of the feedback with a direction; null without any.",
    }),
    collectionRate: t.exposeFloat("collectionRate", {
      nullable: true,
      description: "Interactions of the window that received feedback in it / interactions.",
    }),
    correctionShare: t.exposeFloat("correctionShare", {
      nullable: true,
      description: "Corrections / feedback.",
    }),
    flagShare: t.exposeFloat("flagShare", { nullable: true, description: "Flags / feedback." }),
  }),
});

const SegmentAuditType = builder.objectRef<SegmentAudit>("SegmentAudit").implement({
  description: "One segment field and the figures of each of its values, largest first.",
  fields: (t) => ({
    name: t.string({
      description: "The field's name in AUDIT_CONFIG.",
      resolve: (audit) => audit.field.name,
    }),
    path: t.string({
      description: "The interaction path it reads (e.g. metadata.plan).",
      resolve: (audit) => audit.field.path,
    }),
    values: t.field({
      type: [SegmentFiguresType],
      description: "Per value.",
      resolve: (audit) => [...audit.values],
    }),
  }),
});

export const BiasAuditType = builder.objectRef<BiasAudit>("BiasAudit").implement({
  description:
    "Rates and volumes per user segment in one window: who the feedback (and so the training data) comes from, against who uses the product.",
  fields: (t) => ({
    window: t.field({
      type: WindowType,
      description: "The window audited.",
      resolve: (audit) => audit.window,
    }),
    interactions: t.exposeInt("interactions", { description: "Interactions read." }),
    feedback: t.exposeInt("feedback", { description: "People's feedback read." }),
    truncated: t.exposeBoolean("truncated", {
      description:
        "The window held more than AUDIT_CONFIG maxFeedback interactions or feedback; only the newest were read.",
    }),
    segments: t.field({
      type: [SegmentAuditType],
      description: "Per segment field.",
      resolve: (audit) => [...audit.segments],
    }),
  }),
});

const DistributionShareType = builder.objectRef<DistributionShare>("DistributionShare").implement({
  description: "One value of a distribution.",
  fields: (t) => ({
    value: t.exposeString("value", {
      description: "The value (`other`: the rest beyond maxValues).",
    }),
    count: t.exposeInt("count", { description: "Items with it." }),
    share: t.exposeFloat("share", { description: "Their share (0..1)." }),
  }),
});

const DimensionDriftType = builder.objectRef<DimensionDrift>("DimensionDrift").implement({
  description: "The shift of one dimension between the reference set and live traffic.",
  fields: (t) => ({
    dimension: t.exposeString("dimension", {
      description:
        "`category` (failure category of feedback), `prompt_length` (query characters, bucketed), `topic` (AUDIT_CONFIG topicPath) or `segment:<name>`.",
    }),
    divergence: t.exposeFloat("divergence", {
      nullable: true,
      description:
        "Jensen–Shannon divergence (base 2, 0 = same distribution, 1 = nothing in common); null when a side has no data.",
    }),
    exceeded: t.exposeBoolean("exceeded", { description: "divergence is above the threshold." }),
    reference: t.field({
      type: [DistributionShareType],
      description: "The reference distribution.",
      resolve: (drift) => [...drift.reference],
    }),
    live: t.field({
      type: [DistributionShareType],
      description: "The live distribution.",
      resolve: (drift) => [...drift.live],
    }),
  }),
});

const DriftReferenceKindEnum = builder.enumType("DriftReferenceKind", {
  description: "What the reference set is.",
  values: {
    WINDOW: { value: "window", description: "People's feedback given in a reference time window." },
    FEEDBACK_IDS: {
      value: "feedbackIds",
      description: "Given feedback ids (e.g. a dataset snapshot's provenance).",
    },
  } as const,
});

const DriftReferenceType = builder.objectRef<DriftReport["reference"]>("DriftReference").implement({
  description: "The reference set a drift report compares against.",
  fields: (t) => ({
    kind: t.field({
      type: DriftReferenceKindEnum,
      description: "Window or feedback ids.",
      resolve: (ref) => ref.kind,
    }),
    window: t.field({
      type: WindowType,
      nullable: true,
      description: "The reference window, for WINDOW.",
      resolve: (ref) => ref.window,
    }),
    feedback: t.exposeInt("feedback", { description: "Reference feedback read." }),
  }),
});

const DriftLiveType = builder.objectRef<DriftReport["live"]>("DriftLive").implement({
  description: "The live traffic a drift report measures.",
  fields: (t) => ({
    window: t.field({
      type: WindowType,
      description: "The live window.",
      resolve: (live) => live.window,
    }),
    interactions: t.exposeInt("interactions", {
      description: "Interactions created in it (prompt length, topic, segments).",
    }),
    feedback: t.exposeInt("feedback", {
      description: "People's feedback given in it (categories).",
    }),
  }),
});

export const DriftReportType = builder.objectRef<DriftReport>("DriftReport").implement({
  description:
    "Distribution shift between training data (the reference) and live traffic: when it exceeds the threshold, the training data stops representing the product's users.",
  fields: (t) => ({
    reference: t.field({
      type: DriftReferenceType,
      description: "The reference set.",
      resolve: (report) => report.reference,
    }),
    live: t.field({
      type: DriftLiveType,
      description: "The live traffic.",
      resolve: (report) => report.live,
    }),
    threshold: t.exposeFloat("threshold", { description: "AUDIT_CONFIG threshold (0..1)." }),
    exceeded: t.exposeBoolean("exceeded", {
      description: "Some dimension is above the threshold.",
    }),
    dimensions: t.field({
      type: [DimensionDriftType],
      description: "Per dimension.",
      resolve: (report) => [...report.dimensions],
    }),
    computedAt: t.expose("computedAt", { type: "DateTime", description: "When it was computed." }),
  }),
});
