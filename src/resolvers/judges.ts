import { ValidationError } from "../errors.js";
import { parseId } from "../ids.js";
import type { DriftReport, TimeWindow } from "../pipeline/audit.js";
import { RLAIF_JOB } from "../pipeline/rlaif.js";
import { builder } from "../schema/builder.js";
import { TimeRangeInput } from "../schema/common.js";
import { feedbackTypeNames } from "../schema/feedback.js";
import {
  BiasAuditType,
  DriftReportType,
  JudgeAgreementType,
  JudgeRunType,
  RunJudgesResult,
} from "../schema/judges.js";

/** Reference feedback ids one driftReport accepts (the request body limit allows about this many). */
const MAX_REFERENCE_IDS = 1_000;
const MAX_RUNS = 100;

const window = (
  range: { from?: Date | null; to?: Date | null } | null | undefined,
  fallback: TimeWindow,
): TimeWindow => ({ from: range?.from ?? fallback.from, to: range?.to ?? fallback.to });

builder.queryFields((t) => ({
  judgeRuns: t.field({
    type: [JudgeRunType],
    authScopes: { read: true },
    description: `Automated feedback runs, newest first (at most ${MAX_RUNS}).`,
    args: {
      limit: t.arg.int({ defaultValue: 20, description: `How many (1 to ${MAX_RUNS}).` }),
    },
    resolve: (_root, args, context) => {
      const limit = args.limit ?? 20;
      if (limit < 1 || limit > MAX_RUNS) {
        throw new ValidationError([
          { path: "limit", message: `must be between 1 and ${MAX_RUNS}` },
        ]);
      }
      return context.services.judges.runs(limit);
    },
  }),
  judgeAgreement: t.field({
    type: JudgeAgreementType,
    nullable: true,
    authScopes: { read: true },
    description:
      "Cross-validation over every stored verdict (the newest 20,000) of the two configured judges on one rubric version; null unless two judges are configured.",
    args: {
      rubricId: t.arg.string({ description: "The rubric (default: the configured one)." }),
      rubricVersion: t.arg.string({ description: "Its version (default: the configured one)." }),
    },
    resolve: (_root, args, context) => {
      const { judges } = context.services;
      const rubric = judges.config?.rubric;
      const id = args.rubricId ?? rubric?.id;
      const version = args.rubricVersion ?? (args.rubricId ? undefined : rubric?.version);
      if (!id || !version) {
        if (!judges.config) return null;
        throw new ValidationError([
          { path: "rubricVersion", message: "is required with rubricId" },
        ]);
      }
      return judges.agreement({ id, version });
    },
  }),
  biasAudit: t.field({
    type: BiasAuditType,
    authScopes: { read: true },
    description:
      "Volumes and rates per user segment in a window: segment fields are configured in AUDIT_CONFIG (at most 5, each bounded to its largest maxValues values plus `other`); reads at most maxFeedback interactions and feedback.",
    args: {
      fields: t.arg.stringList({
        description: "Segment fields by name or path (default: every configured one).",
      }),
      window: t.arg({
        type: TimeRangeInput,
        description: "The window (default: the last liveWindowHours).",
      }),
    },
    resolve: (_root, args, context) => {
      const { audit } = context.services;
      return audit.biasAudit({
        ...(args.fields ? { fields: args.fields } : {}),
        window: window(args.window, audit.defaultWindows().live),
      });
    },
  }),
  latestDriftReport: t.field({
    type: DriftReportType,
    nullable: true,
    authScopes: { read: true },
    description:
      "The drift report the refresh job stored last (the one the divergence gauges export); null before the first refresh. Reports are kept 30 days.",
    resolve: async (_root, _args, context) =>
      (await context.services.audit.latest()) as DriftReport | null,
  }),
  driftReport: t.field({
    type: DriftReportType,
    authScopes: { read: true },
    description: `Distribution shift (Jensen–Shannon divergence per dimension) between a reference set and live traffic. The reference is people's feedback in a window (default: referenceDays before the live window) or up to ${MAX_REFERENCE_IDS} feedback ids (a dataset snapshot's).`,
    args: {
      reference: t.arg({ type: TimeRangeInput, description: "Reference window of feedback." }),
      referenceFeedbackIds: t.arg.idList({
        description: `Reference feedback ids instead of a window (at most ${MAX_REFERENCE_IDS}).`,
      }),
      live: t.arg({
        type: TimeRangeInput,
        description: "The live window (default: the last liveWindowHours).",
      }),
    },
    resolve: (_root, args, context) => {
      const { audit } = context.services;
      if (args.reference && args.referenceFeedbackIds) {
        throw new ValidationError([
          {
            path: "referenceFeedbackIds",
            message: "give either reference or referenceFeedbackIds",
          },
        ]);
      }
      if (args.referenceFeedbackIds && args.referenceFeedbackIds.length > MAX_REFERENCE_IDS) {
        throw new ValidationError([
          { path: "referenceFeedbackIds", message: `at most ${MAX_REFERENCE_IDS} ids` },
        ]);
      }
      const defaults = audit.defaultWindows();
      return audit.drift({
        live: window(args.live, defaults.live),
        reference: args.referenceFeedbackIds
          ? {
              kind: "feedbackIds",
              ids: args.referenceFeedbackIds.map((id, index) =>
                parseId(
                  String(id),
                  Object.values(feedbackTypeNames),
                  `referenceFeedbackIds.${index}`,
                ),
              ),
            }
          : { kind: "window", window: window(args.reference, defaults.reference) },
      });
    },
  }),
}));

builder.mutationFields((t) => ({
  runJudges: t.field({
    type: RunJudgesResult,
    authScopes: { admin: true },
    description:
      "Queues the automated feedback job now (rule checks and judges over interactions newer than the last run). While a run is queued, running or dead, the same job is returned. ValidationError when JUDGES_CONFIG is unset.",
    resolve: async (_root, _args, context) => {
      if (!context.services.judges.config) {
        throw new ValidationError([
          {
            path: "JUDGES_CONFIG",
            message: "automated feedback is not configured (set JUDGES_CONFIG)",
          },
        ]);
      }
      const { job } = await context.services.jobs.enqueue(
        RLAIF_JOB,
        { trigger: "manual" },
        { key: RLAIF_JOB },
      );
      return job;
    },
  }),
}));
