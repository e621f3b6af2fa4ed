import { ValidationError } from "../errors.js";
import { parseId } from "../ids.js";
import { builder } from "../schema/builder.js";
import {
  ExpertAgreementType,
  IntegrationNameEnum,
  IntegrationStatusType,
  PushDatasetSnapshotInput,
  PushDatasetSnapshotResult,
  SyncDirectionEnum,
  SyncIntegrationResult,
} from "../schema/integrations.js";

builder.queryFields((t) => ({
  integrations: t.field({
    type: [IntegrationStatusType],
    authScopes: { $any: { read: true, admin: true } },
    description:
      "Every integration (LangSmith, Argilla, Label Studio): configured or not, and per direction its last run, lag, counts and last error. Readable with the read scope: it shows no credentials.",
    resolve: (_root, _args, context) => context.services.integrations.status(),
  }),
  expertAgreement: t.field({
    type: ExpertAgreementType,
    authScopes: { $any: { read: true, admin: true } },
    description:
      "Agreement among expert annotators on one feedback key (expert_rating, expert_verdict, expert_preference for the review tools' imports), computed from the stored feedback on each call.",
    args: {
      key: t.arg.string({ required: true, description: "The feedback key, e.g. expert_rating." }),
    },
    resolve: (_root, args, context) => context.services.integrations.expertAgreement(args.key),
  }),
}));

builder.mutationFields((t) => ({
  syncIntegration: t.field({
    type: SyncIntegrationResult,
    authScopes: { admin: true },
    description:
      "Queues one sync of an integration now (besides the periodic ones, INTEGRATIONS_SYNC_SECONDS). One job per integration and direction waits at a time: while one is queued or running, that job is returned; a dead one is revived. Refused (ValidationError) for an integration that is not configured.",
    args: {
      name: t.arg({ type: IntegrationNameEnum, required: true, description: "The service." }),
      direction: t.arg({ type: SyncDirectionEnum, required: true, description: "Push or pull." }),
    },
    resolve: async (_root, args, context) => {
      const { integrations } = context.services;
      if (!integrations.isEnabled(args.name))
        throw new ValidationError([
          {
            path: "name",
            message: `${args.name} is not configured: set its URL and API key (see the README's Integrations section)`,
          },
        ]);
      return (await integrations.enqueue(args.name, args.direction)).job;
    },
  }),
  pushDatasetSnapshotToLangSmith: t.field({
    type: PushDatasetSnapshotResult,
    authScopes: { admin: true },
    description:
      "Queues the push of a READY dataset snapshot to a LangSmith dataset (job `integration.langsmith-dataset`): one example per row, its split (train or eval) as the example's split, with an example id derived from the snapshot and row, so a retried, resumed or repeated push adds no duplicate. While a push of the same snapshot is queued or running, that job is returned (with the name it was queued with); a dead one is revived. The job's progress shows datasetId, pushed and skipped.",
    args: {
      input: t.arg({
        type: PushDatasetSnapshotInput,
        required: true,
        description: "The snapshot and the dataset name.",
      }),
    },
    resolve: async (_root, args, context) => {
      const snapshotId = parseId(
        String(args.input.snapshotId),
        ["DatasetSnapshot"],
        "input.snapshotId",
      );
      return (
        await context.services.integrations.enqueueDatasetPush(snapshotId, args.input.datasetName)
      ).job;
    },
  }),
}));
