import { type ApiKeyService, createApiKeyService } from "./auth/api-keys.js";
import { type Authenticator, createAuthenticator } from "./auth/authenticate.js";
import type { Clock } from "./clock.js";
import type { Config } from "./config.js";
import { type AnalyticsService, createAnalyticsService } from "./feedback/analytics.js";
import { type ConflictService, createConflictService } from "./feedback/conflicts.js";
import { createErasureService, type ErasureService } from "./feedback/erasure.js";
import { createDomainEvents, type DomainEvents } from "./feedback/events.js";
import { createFeedbackIngestService, type FeedbackIngestService } from "./feedback/ingest.js";
import { createInteractionService, type InteractionService } from "./feedback/interactions.js";
import { createFeedbackKeyService, type FeedbackKeyService } from "./feedback/keys.js";
import { createPayloadHasher } from "./feedback/payload-hash.js";
import { createPseudonymizer } from "./feedback/pseudonym.js";
import { createFeedbackReadService, type FeedbackReadService } from "./feedback/reads.js";
import { createRedactor } from "./feedback/redaction.js";
import { createSummaryService } from "./feedback/summary-service.js";
import { createFeedbackTokens, type FeedbackTokens } from "./feedback/tokens.js";
import type { Logger } from "./observability/logger.js";
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
  /** The embedded store's readiness, for /readyz; absent for MongoDB. */
  readonly storeReady?: (() => boolean) | undefined;
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
  const summaries = createSummaryService({ collections });
  const conflicts = createConflictService({ collections, clock });
  const apiKeys = createApiKeyService({ collections, clock });
  const ingest = createFeedbackIngestService({
    collections,
    clock,
    redactor,
    pseudonymizer,
    fingerprint,
    keys,
    summaries,
    conflicts,
    events,
    enforceDeclaredKeys: config.enforceDeclaredKeys,
  });
  return {
    system: createSystemService(deps),
    interactions: createInteractionService({
      collections,
      clock,
      redactor,
      pseudonymizer,
      fingerprint,
      events,
    }),
    feedback: { ...ingest, ...createFeedbackReadService({ collections }) },
    tokens,
    keys,
    conflicts,
    analytics: createAnalyticsService({ collections }),
    apiKeys,
    erasure: createErasureService({ collections, pseudonymizer, summaries, conflicts, clock }),
    events,
    authenticate: createAuthenticator({ apiKeys, tokens }),
  };
}
