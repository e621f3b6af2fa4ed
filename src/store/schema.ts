import type { IndexDescription } from "mongodb";
import type { IncidentDoc, RetrainingRequestDoc } from "./alert-docs.js";
import type { AgreementReportDoc, DatasetRowDoc, DatasetSnapshotDoc } from "./dataset-docs.js";
import type {
  ApiKeyDoc,
  ConflictDoc,
  ErasureDoc,
  FeedbackDoc,
  FeedbackKeyDoc,
  InteractionDoc,
  RaterTrustDoc,
  RaterVoteDoc,
  RoutedItemDoc,
} from "./documents.js";
import type { ExternalLinkDoc, SyncStateDoc } from "./integration-docs.js";
import type { JobDoc } from "./job-doc.js";
import type {
  DriftReportDoc,
  JudgeRubricDoc,
  JudgeRunDoc,
  JudgeWatermarkDoc,
} from "./judge-docs.js";

/**
 * The one place that declares Loopgate's collections, the shape of their documents and their
 * indexes. Every filter the services build must be served by an index listed here (a test checks
 * that each filter field leads some index).
 */
export type CollectionDocuments = {
  interactions: InteractionDoc;
  feedback: FeedbackDoc;
  feedbackKeys: FeedbackKeyDoc;
  conflicts: ConflictDoc;
  apiKeys: ApiKeyDoc;
  erasures: ErasureDoc;
  jobs: JobDoc;
  retrainingRequests: RetrainingRequestDoc;
  incidents: IncidentDoc;
  judgeRuns: JudgeRunDoc;
  judgeRubrics: JudgeRubricDoc;
  judgeWatermarks: JudgeWatermarkDoc;
  driftReports: DriftReportDoc;
  routedItems: RoutedItemDoc;
  raterTrust: RaterTrustDoc;
  raterVotes: RaterVoteDoc;
  agreementReports: AgreementReportDoc;
  datasetSnapshots: DatasetSnapshotDoc;
  datasetRows: DatasetRowDoc;
  syncState: SyncStateDoc;
  externalLinks: ExternalLinkDoc;
};

export const collectionNames = [
  "interactions",
  "feedback",
  "feedbackKeys",
  "conflicts",
  "apiKeys",
  "erasures",
  "jobs",
  "retrainingRequests",
  "incidents",
  "judgeRuns",
  "judgeRubrics",
  "judgeWatermarks",
  "driftReports",
  "routedItems",
  "raterTrust",
  "raterVotes",
  "agreementReports",
  "datasetSnapshots",
  "datasetRows",
  "syncState",
  "externalLinks",
] as const satisfies ReadonlyArray<keyof CollectionDocuments>;

export type IndexDeclaration = IndexDescription & { readonly name: string };

/** Newest first, ties broken by id: the order of every listing and of its cursors. */
const recent = { createdAt: -1, _id: -1 } as const;

export const indexDeclarations: {
  readonly [Name in keyof CollectionDocuments]: readonly IndexDeclaration[];
} = {
  interactions: [
    { name: "recent", key: recent },
    { name: "model_recent", key: { "model.id": 1, "model.version": 1, ...recent } },
    // Analysts filter by version alone too (versions are often unique tags).
    { name: "version_recent", key: { "model.version": 1, ...recent } },
    { name: "session_recent", key: { sessionId: 1, ...recent } },
    { name: "user_recent", key: { userId: 1, ...recent } },
    { name: "trace_run", key: { "trace.runId": 1 } },
    { name: "corrected_recent", key: { "feedbackSummary.hasCorrection": 1, ...recent } },
    { name: "flagged_recent", key: { "feedbackSummary.flagged": 1, ...recent } },
    { name: "idempotency", key: { idempotencyKey: 1 }, unique: true, sparse: true },
    {
      name: "text",
      key: { query: "text", response: "text", "messages.content": "text" },
      weights: { query: 3, response: 1, "messages.content": 1 },
      default_language: "none",
    },
  ],
  feedback: [
    { name: "recent", key: recent },
    { name: "interaction_recent", key: { interactionIds: 1, ...recent } },
    { name: "rater", key: { subject: 1, key: 1, raterKey: 1, status: 1 } },
    { name: "model_recent", key: { "model.id": 1, "model.version": 1, ...recent } },
    { name: "version_recent", key: { "model.version": 1, ...recent } },
    { name: "interaction_time", key: { interactionCreatedAt: -1 } },
    { name: "kind_recent", key: { kind: 1, ...recent } },
    { name: "key_recent", key: { key: 1, ...recent } },
    { name: "sentiment_recent", key: { sentiment: 1, ...recent } },
    { name: "source_recent", key: { source: 1, ...recent } },
    { name: "annotator_recent", key: { annotatorId: 1, ...recent } },
    { name: "session_recent", key: { sessionId: 1, ...recent } },
    { name: "user_recent", key: { userId: 1, ...recent } },
    { name: "rating_score", key: { "rating.score": 1 } },
    { name: "category_recent", key: { category: 1, ...recent } },
    { name: "flag_recent", key: { "flag.category": 1, ...recent } },
    { name: "status_recent", key: { status: 1, ...recent } },
    { name: "superseded_by", key: { supersededBy: 1 } },
    { name: "idempotency", key: { idempotencyKey: 1 }, unique: true, sparse: true },
    // Sparse: only feedback whose post-write steps are unconfirmed carries the outbox marker.
    { name: "pending", key: { pendingSince: 1, _id: 1 }, sparse: true },
    // The pipeline's marker and the windows of its spam filter (per user, key, address, text).
    { name: "pipeline_pending", key: { pipelinePendingSince: 1, _id: 1 }, sparse: true },
    { name: "user_received", key: { userId: 1, receivedAt: 1 } },
    { name: "submitter_received", key: { submittedBy: 1, receivedAt: 1 } },
    { name: "ip_received", key: { "client.ip": 1, receivedAt: 1 }, sparse: true },
    { name: "text_received", key: { textHash: 1, receivedAt: 1 }, sparse: true },
    {
      name: "text",
      key: {
        comment: "text",
        "correction.correctedResponse": "text",
        "comparison.reason": "text",
        "flag.reason": "text",
      },
      default_language: "none",
    },
  ],
  feedbackKeys: [],
  conflicts: [
    { name: "interaction", key: { interactionId: 1 }, unique: true },
    { name: "status_detected", key: { status: 1, detectedAt: -1, _id: -1 } },
    { name: "model_detected", key: { "model.id": 1, detectedAt: -1, _id: -1 } },
    { name: "detected", key: { detectedAt: -1, _id: -1 } },
  ],
  apiKeys: [{ name: "hash", key: { hash: 1 }, unique: true }],
  erasures: [
    { name: "recent", key: { createdAt: -1 } },
    { name: "user_status", key: { userId: 1, status: 1 } },
  ],
  jobs: [
    // The claim: equality on state, then the sort (priority, runAt), so the next job is the first
    // entry of an index range whatever the set of types asked for (an $in on a key before the
    // sort keys would make it a sorted scan of the whole backlog).
    { name: "claim", key: { state: 1, priority: -1, runAt: 1 } },
    // Queue lag (oldest runnable job) and runAt bounds without a type.
    { name: "runnable", key: { state: 1, runAt: 1 } },
    // Expired leases: a crashed worker's jobs are claimed again from here.
    { name: "lease", key: { state: 1, leaseExpiresAt: 1 } },
    // Always present (never null), so a plain unique index works on the embedded store too.
    { name: "dedup", key: { dedupKey: 1 }, unique: true },
    { name: "recent", key: recent },
    { name: "type_recent", key: { type: 1, ...recent } },
    { name: "state_recent", key: { state: 1, ...recent } },
    // Finished jobs (succeeded, cancelled) are removed once purgeAt passes.
    { name: "purge", key: { purgeAt: 1 }, expireAfterSeconds: 0 },
  ],
  // One document per alert firing period (`alertKey`); the others serve the listings, newest
  // firing period first.
  retrainingRequests: [
    { name: "alert", key: { alertKey: 1 }, unique: true },
    { name: "recent", key: { startsAt: -1, _id: -1 } },
    { name: "state_recent", key: { state: 1, startsAt: -1, _id: -1 } },
    { name: "action_recent", key: { action: 1, startsAt: -1, _id: -1 } },
    { name: "model_recent", key: { model: 1, startsAt: -1, _id: -1 } },
  ],
  incidents: [
    { name: "alert", key: { alertKey: 1 }, unique: true },
    { name: "recent", key: { startsAt: -1, _id: -1 } },
    { name: "status_recent", key: { status: 1, startsAt: -1, _id: -1 } },
    { name: "model_recent", key: { model: 1, startsAt: -1, _id: -1 } },
  ],
  // Automated feedback (pipeline/rlaif.ts): runs newest first; rubrics and the watermark by _id.
  judgeRuns: [{ name: "recent", key: { startedAt: -1, _id: -1 } }],
  judgeRubrics: [],
  judgeWatermarks: [],
  // The newest report (the gauges, latestDriftReport) walks this backwards; reports expire.
  driftReports: [{ name: "computed", key: { computedAt: 1 }, expireAfterSeconds: 30 * 86_400 }],
  routedItems: [
    // One open item per (route, groupKey); closed items drop openKey and leave the index.
    { name: "open", key: { openKey: 1 }, unique: true, sparse: true },
    { name: "group_state", key: { groupKey: 1, state: 1 } },
    { name: "recent", key: recent },
    { name: "route_state_recent", key: { route: 1, state: 1, ...recent } },
    { name: "state_recent", key: { state: 1, ...recent } },
  ],
  raterTrust: [],
  raterVotes: [{ name: "rater", key: { rater: 1 } }],
  // One document per report and computation; readers take each key's latest computation.
  agreementReports: [{ name: "key_recent", key: { key: 1, computedAt: -1 } }],
  datasetSnapshots: [
    { name: "kind_version", key: { kind: 1, version: -1 }, unique: true },
    { name: "recent", key: recent },
    { name: "kind_recent", key: { kind: 1, ...recent } },
    { name: "state_recent", key: { state: 1, ...recent } },
  ],
  // Rows are read in `_id` order (`<snapshot>:<split>:<ordinal>`): the _id index alone serves
  // exports and provenance, so bulk inserts maintain no second index.
  datasetRows: [],
  // One document per integration and direction, read by _id.
  syncState: [],
  // Both sides unique: one external item maps to one of ours and back, whatever replays.
  externalLinks: [
    { name: "external", key: { integration: 1, kind: 1, externalId: 1 }, unique: true },
    { name: "local", key: { integration: 1, kind: 1, localId: 1 }, unique: true },
  ],
};
