/**
 * What every sync works with, and the one way pulled annotations become Loopgate feedback:
 * through the same ingest service the GraphQL mutations use (validation, redaction, supersede,
 * conflicts), under the integration's system actor, idempotently twice over — the link (their id
 * → our feedback id) is checked first, and the ingest's idempotency key makes a crash between the
 * write and the link harmless: the retry gets the stored feedback back and links it.
 */
import { createHash } from "node:crypto";
import type { Db } from "mongodb";
import { type SystemActor, systemActor } from "../../auth/actor.js";
import type { Clock } from "../../clock.js";
import { ConflictError, NotFoundError, ValidationError } from "../../errors.js";
import type { FeedbackIngestService, FeedbackSubmission } from "../../feedback/ingest.js";
import type { FeedbackKeyService } from "../../feedback/keys.js";
import type { InteractionService } from "../../interactions/service.js";
import type { Logger } from "../../observability/logger.js";
import type { IntegrationName, SyncDirection } from "../../store/integration-docs.js";
import type { Collections } from "../../store/mongo.js";
import type { ExternalLinks, RunCounts, SyncStateStore } from "./state.js";

export interface SyncDeps {
  readonly collections: Collections;
  /** For collections another area declares (the pipeline's `routedItems`). */
  readonly db: Db;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly feedback: FeedbackIngestService;
  readonly interactions: InteractionService;
  readonly keys: FeedbackKeyService;
  readonly links: ExternalLinks;
  readonly state: SyncStateStore;
}

/** One run of one sync: its resume point and how it saves progress. */
export interface SyncRun {
  readonly cursor: Record<string, unknown>;
  /** Saves the new cursor (job checkpoint and sync state) and the batch's counts. */
  save(cursor: Record<string, unknown>, batch: RunCounts): Promise<void>;
  readonly signal: AbortSignal;
}

export type SyncFunction = (run: SyncRun) => Promise<void>;

export const actorFor = (integration: IntegrationName): SystemActor =>
  systemActor(`integration:${integration}`);

export const emptyCounts = (): RunCounts => ({ synced: 0, skipped: 0, failed: 0 });

/** A stable idempotency key (letters, digits, `:`) for one imported external item. */
export function importKey(integration: IntegrationName, kind: string, externalId: string): string {
  const digest = createHash("sha256").update(`${kind}\n${externalId}`).digest("hex").slice(0, 48);
  return `${integration}:${digest}`;
}

export type ImportOutcome = "imported" | "known" | "refused";

/**
 * Imports one external annotation as feedback unless it is linked already. "refused" means the
 * ingest rejected it (e.g. a rating outside the key's declared range): counted, logged, skipped.
 */
export async function importFeedback(
  deps: SyncDeps,
  item: {
    integration: IntegrationName;
    kind: string;
    externalId: string;
    version?: string;
    submission: FeedbackSubmission;
  },
  known?: ReadonlySet<string>,
): Promise<ImportOutcome> {
  if (known?.has(item.externalId)) return "known";
  const submission = {
    kind: item.submission.kind,
    input: {
      ...item.submission.input,
      idempotencyKey: importKey(item.integration, item.kind, item.externalId),
    },
  } as FeedbackSubmission;
  let feedbackId: string;
  try {
    const result = await deps.feedback.submit(submission, actorFor(item.integration));
    feedbackId = result.feedback._id.toHexString();
  } catch (error) {
    if (
      error instanceof ValidationError ||
      error instanceof ConflictError ||
      error instanceof NotFoundError
    ) {
      deps.logger.warn(
        { integration: item.integration, kind: item.kind, externalId: item.externalId, err: error },
        "integration: external annotation refused by feedback validation; skipped",
      );
      return "refused";
    }
    throw error;
  }
  const created = await deps.links.link({
    integration: item.integration,
    kind: item.kind,
    localId: feedbackId,
    externalId: item.externalId,
    direction: "pull" satisfies SyncDirection,
    ...(item.version ? { version: item.version } : {}),
  });
  return created ? "imported" : "known";
}

/** Adds an outcome to batch counts. */
export function count(counts: RunCounts, outcome: ImportOutcome | "pushed" | "skipped"): void {
  if (outcome === "imported" || outcome === "pushed") counts.synced += 1;
  else if (outcome === "refused") counts.failed += 1;
  else counts.skipped += 1;
}
