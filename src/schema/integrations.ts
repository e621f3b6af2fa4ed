import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "../errors.js";
import { MAX_DATASET_NAME } from "../integrations/sync/langsmith-datasets.js";
import type {
  DirectionStatus,
  ExpertAgreement,
  IntegrationStatus,
} from "../integrations/sync/service.js";
import { builder } from "./builder.js";
import { enumOf } from "./common.js";
import { JobRef } from "./jobs.js";

/** Every type of the integrations area: sync status and triggers (src/integrations/sync/). */

export const IntegrationNameEnum = enumOf(
  "IntegrationName",
  "An external service Loopgate syncs with.",
  {
    langsmith:
      "LangSmith (official SDK): feedback pushed to runs; runs, feedback and feedback configs pulled.",
    argilla:
      "Argilla v2: review items pushed as dataset records; submitted responses pulled as expert feedback.",
    labelstudio:
      "Label Studio: review items pushed as tasks with predictions; annotations pulled as expert feedback.",
  },
);

export const SyncDirectionEnum = enumOf("SyncDirection", "Which way a sync moves items.", {
  push: "From Loopgate to the service.",
  pull: "From the service into Loopgate.",
});

interface Counts {
  synced: number;
  skipped: number;
  failed: number;
}

const SyncCountsType = builder.objectRef<Counts>("SyncCounts").implement({
  description: "Items a sync handled.",
  fields: (t) => ({
    synced: t.exposeInt("synced", {
      description: "Items handed over (pushed, or pulled into new Loopgate records).",
    }),
    skipped: t.exposeInt("skipped", {
      description:
        "Items already synced before (replays, duplicates) or with nothing to sync (e.g. feedback on an interaction without a LangSmith run).",
    }),
    failed: t.exposeInt("failed", {
      description:
        "Items the other side or Loopgate's validation refused (e.g. a score outside a key's declared range); logged and left out.",
    }),
  }),
});

const SyncErrorType = builder.objectRef<{ message: string; at: Date }>("SyncError").implement({
  description: "Why the last run of a sync failed (it is retried as a job with backoff).",
  fields: (t) => ({
    message: t.exposeString("message", { description: "The error, at most 1,000 characters." }),
    at: t.field({ type: "DateTime", description: "When the run failed.", resolve: (e) => e.at }),
  }),
});

const DirectionStatusType = builder.objectRef<DirectionStatus>("IntegrationSyncStatus").implement({
  description: "One direction of one integration: its last run, lag, counts and last error.",
  fields: (t) => ({
    direction: t.field({
      type: SyncDirectionEnum,
      description: "Push or pull.",
      resolve: (s) => s.direction,
    }),
    lastRunStartedAt: t.field({
      type: "DateTime",
      nullable: true,
      description: "When the last run started; null before the first.",
      resolve: (s) => s.state?.lastRunStartedAt ?? null,
    }),
    lastRunFinishedAt: t.field({
      type: "DateTime",
      nullable: true,
      description: "When the last run ended, with or without error.",
      resolve: (s) => s.state?.lastRunFinishedAt ?? null,
    }),
    lastSuccessAt: t.field({
      type: "DateTime",
      nullable: true,
      description: "When the last run that finished without error ended.",
      resolve: (s) => s.state?.lastSuccessAt ?? null,
    }),
    lagSeconds: t.float({
      nullable: true,
      description:
        "Seconds since lastSuccessAt (the metric loopgate_integration_sync_lag_seconds); null before the first success.",
      resolve: (s) => s.lagSeconds,
    }),
    lastError: t.field({
      type: SyncErrorType,
      nullable: true,
      description: "The last run's error; null when it succeeded.",
      resolve: (s) => s.state?.lastError ?? null,
    }),
    total: t.field({
      type: SyncCountsType,
      description: "Counts over every run so far.",
      resolve: (s) => s.state?.counts ?? { synced: 0, skipped: 0, failed: 0 },
    }),
    lastRun: t.field({
      type: SyncCountsType,
      nullable: true,
      description: "Counts of the last (or current) run.",
      resolve: (s) => s.state?.lastRun ?? null,
    }),
    lastJobId: t.string({
      nullable: true,
      description: "Database id of the job that ran the last run (see the jobs field).",
      resolve: (s) => s.state?.lastJobId?.toHexString() ?? null,
    }),
  }),
});

export const IntegrationStatusType = builder
  .objectRef<IntegrationStatus>("IntegrationStatus")
  .implement({
    description:
      "One integration: whether it is configured, its HTTP circuit, and each direction's sync state. No credentials are shown.",
    fields: (t) => ({
      name: t.field({
        type: IntegrationNameEnum,
        description: "The service.",
        resolve: (s) => s.name,
      }),
      enabled: t.exposeBoolean("enabled", {
        description:
          "True when its credentials are configured (environment variables; see the README's Integrations section).",
      }),
      circuit: t.exposeString("circuit", {
        description:
          "The circuit breaker of this process's HTTP client: closed, open (calls refused after repeated failures), half_open or isolated.",
      }),
      directions: t.field({
        type: [DirectionStatusType],
        description: "Push and pull, in that order.",
        resolve: (s) => [...s.directions],
      }),
    }),
  });

export const ExpertAgreementType = builder.objectRef<ExpertAgreement>("ExpertAgreement").implement({
  description:
    "Agreement among expert annotators (source EXPERT, e.g. from Argilla or Label Studio) on one feedback key, over interactions at least two of them judged.",
  fields: (t) => ({
    key: t.exposeString("key", { description: "The feedback key." }),
    items: t.exposeInt("items", { description: "Interactions judged by two or more annotators." }),
    annotators: t.exposeInt("annotators", { description: "Distinct annotators on the key." }),
    alpha: t.exposeFloat("alpha", {
      nullable: true,
      description:
        "Krippendorff's alpha (ordinal for ratings, nominal otherwise); null when undefined (no pairable data, or no variation).",
    }),
    pairwise: t.exposeFloat("pairwise", {
      nullable: true,
      description:
        "Share of annotator pairs that gave the same answer (the seed's 80% rule); null without pairs.",
    }),
  }),
});

export const SyncIntegrationResult = builder.errorUnion("SyncIntegrationResult", {
  description: "The queued sync job, or why none was queued.",
  types: [JobRef, ValidationError, ForbiddenError],
});

export const PushDatasetSnapshotInput = builder.inputType("PushDatasetSnapshotToLangSmithInput", {
  description: "Which snapshot to push, and to which LangSmith dataset.",
  fields: (t) => ({
    snapshotId: t.id({
      required: true,
      description: "The dataset snapshot (global ID or database id); it must be READY.",
    }),
    datasetName: t.string({
      description: `The LangSmith dataset (1 to ${MAX_DATASET_NAME} characters), found by name or created; default \`loopgate-<kind>-<snapshot id>\` (underscores of the kind as hyphens, e.g. loopgate-reward-score-<id>).`,
    }),
  }),
});

export const PushDatasetSnapshotResult = builder.errorUnion(
  "PushDatasetSnapshotToLangSmithResult",
  {
    description:
      "The queued push job, or why none was queued: ValidationError (LangSmith not configured, bad name or id), NotFoundError (no such snapshot), ConflictError (the snapshot is not READY).",
    types: [JobRef, ValidationError, NotFoundError, ConflictError, ForbiddenError],
  },
);
