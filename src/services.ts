import type { ObjectId } from "mongodb";
import { type AnalyticsService, createAnalyticsService } from "./analytics/service.js";
import { type ApiKeyService, createApiKeyService } from "./auth/api-keys.js";
import { type Authenticator, createAuthenticator } from "./auth/authenticate.js";
import { createFeedbackTokens, type FeedbackTokens } from "./auth/feedback-tokens.js";
import type { Clock } from "./clock.js";
import type { Config } from "./config.js";
import { type ConflictService, createConflictService } from "./conflicts/service.js";
import { BUILD_JOB, createDatasetService, type DatasetService } from "./datasets/snapshots.js";
import { createDomainEvents, type DomainEvents } from "./events.js";
import { createFeedbackIngestService, type FeedbackIngestService } from "./feedback/ingest.js";
import { createFeedbackKeyService, type FeedbackKeyService } from "./feedback/keys.js";
import { createFeedbackOutbox, type FeedbackOutbox, POST_WRITE_JOB } from "./feedback/outbox.js";
import type { PostWriteContext } from "./feedback/post-write.js";
import { createFeedbackReadService, type FeedbackReadService } from "./feedback/reads.js";
import { createSummaryService } from "./feedback/summary-service.js";
import { type AlertIntakeService, createAlertIntakeService } from "./integrations/alerts/intake.js";
import {
  type AlertRecordsService,
  createAlertRecordsService,
} from "./integrations/alerts/records.js";
import { createIntegrationService, type IntegrationService } from "./integrations/sync/service.js";
import { createExternalLinks, createSyncStateStore } from "./integrations/sync/state.js";
import { createInteractionCache, type InteractionCache } from "./interactions/cache.js";
import { createInteractionService, type InteractionService } from "./interactions/service.js";
import { createJobQueue, type JobQueue } from "./jobs/queue.js";
import type { JobTypePolicy } from "./jobs/types.js";
import type { Logger } from "./observability/logger.js";
import {
  type AgreementReportService,
  createAgreementReportService,
} from "./pipeline/agreement-reports.js";
import { type AuditService, createAuditService } from "./pipeline/audit.js";
import type { Categorizer } from "./pipeline/categorize.js";
import { createJudgeCategorizer } from "./pipeline/judge-categorizer.js";
import { buildJudges, createRlaifService, type RlaifService } from "./pipeline/rlaif.js";
import { createPipelineService, type PipelineService } from "./pipeline/service.js";
import { createErasureService, type ErasureService } from "./privacy/erasure.js";
import { createPayloadHasher } from "./privacy/payload-hash.js";
import { createPseudonymizer } from "./privacy/pseudonym.js";
import { createRedactor } from "./privacy/redaction.js";
import type { Store } from "./store/mongo.js";
import { createSystemService, type SystemService } from "./system.js";

/** Everything resolvers, jobs and the CLI may call. Built once by the composition root. */
export interface Services {
  readonly system: SystemService;
  readonly interactions: InteractionService;
  readonly feedback: FeedbackIngestService & FeedbackReadService;
  readonly tokens: FeedbackTokens;
  readonly keys: FeedbackKeyService;
  readonly conflicts: ConflictService;
  readonly analytics: AnalyticsService;
  readonly apiKeys: ApiKeyService;
  readonly erasure: ErasureService;
  readonly events: DomainEvents;
  readonly authenticate: Authenticator;
  readonly jobs: JobQueue;
  /** Post-write steps of feedback whose inline run did not finish (crash, failed step). */
  readonly outbox: FeedbackOutbox;
  /**
   * What `postWriteSteps` (feedback/post-write.ts) run with: a job that re-reads a stored feedback
   * by id runs `runPostWriteSteps(services.postWrite, feedback)` with the same wiring as a request.
   */
  readonly postWrite: PostWriteContext;
  /** Immutable interaction facts the feedback write path validates against (one per process). */
  readonly interactionCache: InteractionCache;
  /** Alert notifications (Alertmanager, Grafana) → retraining requests and incidents. */
  readonly alerts: AlertIntakeService & AlertRecordsService;
  /** Automated feedback: rule checks and LLM judges (pipeline/rlaif.ts). */
  readonly judges: RlaifService;
  /** Bias and drift audit of feedback against live traffic (pipeline/audit.ts). */
  readonly audit: AuditService;
  /** The feedback processing pipeline and its routed items (src/pipeline/). */
  readonly pipeline: PipelineService;
  /** Annotator agreement reports and training-data snapshots. */
  readonly agreement: AgreementReportService;
  readonly datasets: DatasetService;
  /** LangSmith, Argilla and Label Studio syncs: status, queueing, the jobs' handlers. */
  readonly integrations: IntegrationService;
}

export interface ServiceDeps {
  readonly config: Config;
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  /** LOOPGATE_SECRET, or the generated local one (see secret.ts). */
  readonly secret: string;
  /** "embedded" when Loopgate started its own store, "mongodb" for an external MONGODB_URI. */
  readonly storeKind: "embedded" | "mongodb";
  /** The closed set of job types (src/job-catalog.ts in production). */
  readonly jobTypes: readonly JobTypePolicy[];
  /** The embedded store's readiness, for /readyz; absent for MongoDB. */
  readonly storeReady?: (() => boolean) | undefined;
  /** Categorizers the pipeline asks after its rules (e.g. an LLM judge). */
  readonly categorizers?: readonly Categorizer[] | undefined;
}

export function createServices(deps: ServiceDeps): Services {
  const { config, clock, logger } = deps;
  const { collections } = deps.store;
  const events = createDomainEvents((error) =>
    logger.error({ err: error }, "event listener failed"),
  );
  const redactor = createRedactor(config.piiRedact);
  const pseudonymizer = createPseudonymizer(deps.secret);
  const fingerprint = createPayloadHasher(deps.secret);
  const tokens = createFeedbackTokens({
    secret: deps.secret,
    clock,
    defaultTtlSeconds: config.feedbackTokenTtlSeconds,
  });
  const keys = createFeedbackKeyService({ collections, clock });
  const summaries = createSummaryService({ collections, clock });
  const conflicts = createConflictService({ collections, clock });
  const apiKeys = createApiKeyService({
    collections,
    clock,
    bookkeepingFailed: (error) => logger.warn({ err: error }, "recording an API key's use failed"),
  });
  // Sized for the interactions feedback arrives on while they are fresh; ~200 bytes an entry.
  const interactionCache = createInteractionCache({ max: 50_000 });
  const postWrite: PostWriteContext = { collections, clock, summaries, conflicts };
  const jobs = createJobQueue({
    collection: collections.jobs,
    clock,
    types: deps.jobTypes,
    keepFinishedMs: config.jobs.keepFinishedMs,
  });
  const deferred = (error: unknown, id: ObjectId) =>
    logger.warn(
      { err: error, feedbackId: id.toHexString() },
      "post-write steps failed after the feedback was stored; the outbox sweeper will finish them",
    );
  const outbox = createFeedbackOutbox({
    collections,
    postWrite,
    clock,
    enqueue: (id) =>
      jobs.enqueue(
        POST_WRITE_JOB,
        { feedbackId: id.toHexString() },
        { key: `${POST_WRITE_JOB}:${id.toHexString()}` },
      ),
    deferred,
    graceMs: config.jobs.sweepIntervalMs,
  });
  const ingest = createFeedbackIngestService({
    collections,
    clock,
    redactor,
    pseudonymizer,
    fingerprint,
    keys,
    interactionCache,
    outbox,
    events,
    conflicts,
    deferred,
    enforceDeclaredKeys: config.enforceDeclaredKeys,
  });
  const feedback = { ...ingest, ...createFeedbackReadService({ collections }) };
  const agreement = createAgreementReportService({
    collections,
    clock,
    minItems: config.datasets.agreementMinItems,
  });
  const datasets = createDatasetService({
    collections,
    clock,
    agreement,
    enqueue: async (id) =>
      (
        await jobs.enqueue(
          BUILD_JOB,
          { snapshotId: id.toHexString() },
          { key: `${BUILD_JOB}:${id}` },
        )
      ).job._id,
  });
  const interactions = createInteractionService({
    collections,
    clock,
    redactor,
    pseudonymizer,
    fingerprint,
    events,
    interactionCache,
  });
  return {
    system: createSystemService(deps),
    interactions,
    feedback,
    tokens,
    keys,
    conflicts,
    analytics: createAnalyticsService({ collections }),
    apiKeys,
    erasure: createErasureService({
      collections,
      pseudonymizer,
      summaries,
      conflicts,
      clock,
      forgetInteraction: interactionCache.forget,
    }),
    events,
    authenticate: createAuthenticator({ apiKeys, tokens }),
    jobs,
    outbox,
    postWrite,
    interactionCache,
    alerts: {
      ...createAlertIntakeService({ collections, clock }),
      ...createAlertRecordsService({ collections }),
    },
    judges: createRlaifService({ collections, feedback, keys, clock, config: config.judges }),
    audit: createAuditService({ collections, clock, config: config.audit }),
    pipeline: createPipelineService({
      collections,
      clock,
      config: config.pipeline,
      jobs,
      categorizers: [...(deps.categorizers ?? []), ...judgeCategorizers(config.judges)],
      warn: (message, error) => logger.warn({ err: error }, message),
    }),
    agreement,
    datasets,
    integrations: createIntegrationService({
      config: config.integrations,
      collections,
      db: deps.store.db,
      clock,
      logger,
      feedback: ingest,
      interactions,
      keys,
      jobs,
      links: createExternalLinks({ collections, clock }),
      state: createSyncStateStore({ collections, clock }),
    }),
  };
}

/** The first configured judge as a categorizer, when JUDGES_CONFIG asks for it (`categorize`). */
function judgeCategorizers(config: Config["judges"]): Categorizer[] {
  if (!config?.categorize) return [];
  const first = buildJudges(config)[0];
  return first ? [createJudgeCategorizer(first.judge, config.rubric)] : [];
}
