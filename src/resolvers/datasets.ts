import { actorOf } from "../auth/actor.js";
import { ValidationError } from "../errors.js";
import { feedbackKeyName } from "../feedback/inputs.js";
import { parseId } from "../ids.js";
import { AGREEMENT_JOB } from "../pipeline/agreement-reports.js";
import { builder } from "../schema/builder.js";
import { countedConnection, toConnection, withoutNulls } from "../schema/common.js";
import {
  AgreementReportType,
  AgreementScopeEnum,
  agreementLimitDescription,
  agreementScopeOf,
  ComputeAgreementResult,
  CreateDatasetSnapshotInput,
  CreateDatasetSnapshotPayload,
  CreateDatasetSnapshotResult,
  DatasetKindEnum,
  DatasetSnapshotRef,
  DatasetSnapshotStateEnum,
  MAX_AGREEMENT_REPORTS,
} from "../schema/datasets.js";

builder.queryFields((t) => ({
  datasetSnapshots: t.connection(
    {
      type: DatasetSnapshotRef,
      authScopes: { $any: { read: true, admin: true } },
      description: "Training-data snapshots, newest first (pages of at most 200).",
      args: {
        kind: t.arg({ type: DatasetKindEnum, description: "Only snapshots of this kind." }),
        state: t.arg({
          type: DatasetSnapshotStateEnum,
          description: "Only snapshots in this state.",
        }),
      },
      resolve: async (_root, args, context) =>
        toConnection(
          await context.services.datasets.list(
            { kind: args.kind ?? null, state: args.state ?? null },
            args,
          ),
        ),
    },
    countedConnection("DatasetSnapshotConnection", "dataset snapshots", "newest first"),
    { name: "DatasetSnapshotEdge", description: "One snapshot and its cursor." },
  ),
  datasetSnapshot: t.field({
    type: DatasetSnapshotRef,
    nullable: true,
    authScopes: { $any: { read: true, admin: true } },
    description:
      "One snapshot by id (global ID or database id), with its counts and download paths.",
    args: { id: t.arg.id({ required: true, description: "The snapshot's id." }) },
    resolve: (_root, args, context) =>
      context.services.datasets.get(parseId(String(args.id), ["DatasetSnapshot"], "id")),
  }),
  agreementReports: t.field({
    type: [AgreementReportType],
    authScopes: { $any: { read: true, admin: true } },
    description:
      "The latest inter-annotator agreement report of each key, batch and rater pair, lowest consistency first. Reports are recomputed by the `agreement.compute` job (on a schedule and by computeAgreement).",
    args: {
      key: t.arg.string({ description: "Only this feedback key." }),
      scope: t.arg({ type: AgreementScopeEnum, description: "Only this scope." }),
      limit: t.arg.int({ description: agreementLimitDescription }),
    },
    resolve: (_root, args, context) => {
      const limit = args.limit ?? 100;
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AGREEMENT_REPORTS) {
        throw new ValidationError([
          { path: "limit", message: `must be between 1 and ${MAX_AGREEMENT_REPORTS}` },
        ]);
      }
      return context.services.agreement.latest(
        { key: args.key ?? null, scope: args.scope ? agreementScopeOf(args.scope) : null },
        limit,
      );
    },
  }),
}));

builder.mutationFields((t) => ({
  createDatasetSnapshot: t.field({
    type: CreateDatasetSnapshotResult,
    authScopes: { admin: true },
    description:
      "Stores a new versioned snapshot of one dataset kind and queues its build (job `datasets.build`); the snapshot turns READY with its counts and download paths when the build finishes.",
    args: {
      input: t.arg({
        type: CreateDatasetSnapshotInput,
        required: true,
        description: "The kind, filter and options.",
      }),
    },
    resolve: async (_root, args, context) => {
      const { snapshot } = await context.services.datasets.create(
        withoutNulls(args.input) as never,
        actorOf(context.principal),
      );
      return new CreateDatasetSnapshotPayload(snapshot);
    },
  }),
  computeAgreement: t.field({
    type: ComputeAgreementResult,
    authScopes: { admin: true },
    description:
      "Queues a recomputation of the agreement reports of one key (or of every key with thumbs, ratings or comparisons). While one is queued or running for the same key, that job is returned.",
    args: {
      key: t.arg.string({ description: "Only this key; all keys when omitted." }),
    },
    resolve: async (_root, args, context) => {
      if (
        args.key !== null &&
        args.key !== undefined &&
        !feedbackKeyName.safeParse(args.key).success
      ) {
        throw new ValidationError([{ path: "key", message: "is not a valid feedback key name" }]);
      }
      const key = args.key ?? null;
      const { job } = await context.services.jobs.enqueue(AGREEMENT_JOB, key ? { key } : {}, {
        key: key ? `${AGREEMENT_JOB}:${key}` : AGREEMENT_JOB,
      });
      return job;
    },
  }),
}));
