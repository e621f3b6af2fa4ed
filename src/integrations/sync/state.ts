/**
 * Sync state (where each integration's push or pull got to) and external links (our id ↔ theirs).
 * A sync reads its cursor at start, saves it after every batch, and records the run's outcome; a
 * crashed run's successor starts from the last saved cursor, and the links' unique indexes turn any
 * item it handles a second time into a no-op.
 */
import type { ObjectId } from "mongodb";
import type { Clock } from "../../clock.js";
import { isDuplicateKeyOn } from "../../store/errors.js";
import type {
  ExternalLinkDoc,
  IntegrationName,
  SyncDirection,
  SyncStateDoc,
} from "../../store/integration-docs.js";
import type { Collections } from "../../store/mongo.js";

export interface RunCounts {
  synced: number;
  skipped: number;
  failed: number;
}

export interface SyncStateStore {
  get(integration: IntegrationName, direction: SyncDirection): Promise<SyncStateDoc | null>;
  list(): Promise<SyncStateDoc[]>;
  started(integration: IntegrationName, direction: SyncDirection, jobId?: ObjectId): Promise<void>;
  /** Saves the cursor and adds the batch's counts, in one write. */
  saveCursor(
    integration: IntegrationName,
    direction: SyncDirection,
    cursor: Record<string, unknown>,
    counts: RunCounts,
  ): Promise<void>;
  finished(
    integration: IntegrationName,
    direction: SyncDirection,
    run: RunCounts,
    error?: unknown,
  ): Promise<void>;
}

export interface LinkInput {
  integration: IntegrationName;
  kind: string;
  localId: string;
  externalId: string;
  direction: SyncDirection;
  version?: string;
}

export interface ExternalLinks {
  /** External ids among `externalIds` already linked (one query). */
  knownExternal(
    integration: IntegrationName,
    kind: string,
    externalIds: readonly string[],
  ): Promise<Map<string, ExternalLinkDoc>>;
  /** Local ids among `localIds` already linked (one query). */
  knownLocal(
    integration: IntegrationName,
    kind: string,
    localIds: readonly string[],
  ): Promise<Map<string, ExternalLinkDoc>>;
  /** Stores the link; true when it is new, false when the same link was already there. */
  link(input: LinkInput): Promise<boolean>;
  markDeleted(integration: IntegrationName, kind: string, externalId: string): Promise<boolean>;
  /** Every link of one integration, direction and kind prefix: for status counts and tests. */
  count(integration: IntegrationName, direction?: SyncDirection): Promise<number>;
}

const stateId = (integration: IntegrationName, direction: SyncDirection) =>
  `${integration}:${direction}`;

export function createSyncStateStore(deps: {
  collections: Pick<Collections, "syncState">;
  clock: Clock;
}): SyncStateStore {
  const { collections, clock } = deps;
  const base = (integration: IntegrationName, direction: SyncDirection) => ({
    integration,
    direction,
  });
  return {
    get: (integration, direction) =>
      collections.syncState.findOne({ _id: stateId(integration, direction) }),
    list: () => collections.syncState.find({}, { sort: { _id: 1 } }).toArray(),
    async started(integration, direction, jobId) {
      const now = clock.now();
      await collections.syncState.updateOne(
        { _id: stateId(integration, direction) },
        {
          $set: {
            lastRunStartedAt: now,
            updatedAt: now,
            lastRun: { synced: 0, skipped: 0, failed: 0 },
            ...(jobId ? { lastJobId: jobId } : {}),
          },
          $setOnInsert: {
            ...base(integration, direction),
            cursor: {},
            counts: { synced: 0, skipped: 0, failed: 0 },
          },
        },
        { upsert: true },
      );
    },
    async saveCursor(integration, direction, cursor, counts) {
      await collections.syncState.updateOne(
        { _id: stateId(integration, direction) },
        {
          $set: { cursor, updatedAt: clock.now() },
          $inc: {
            "counts.synced": counts.synced,
            "counts.skipped": counts.skipped,
            "counts.failed": counts.failed,
            "lastRun.synced": counts.synced,
            "lastRun.skipped": counts.skipped,
            "lastRun.failed": counts.failed,
          },
          $setOnInsert: base(integration, direction),
        },
        { upsert: true },
      );
    },
    async finished(integration, direction, _run, error) {
      const now = clock.now();
      await collections.syncState.updateOne(
        { _id: stateId(integration, direction) },
        error === undefined
          ? {
              $set: { lastRunFinishedAt: now, lastSuccessAt: now, updatedAt: now },
              $unset: { lastError: "" },
            }
          : {
              $set: {
                lastRunFinishedAt: now,
                updatedAt: now,
                lastError: {
                  message: (error instanceof Error ? error.message : String(error)).slice(0, 1000),
                  at: now,
                },
              },
            },
      );
    },
  };
}

export function createExternalLinks(deps: {
  collections: Pick<Collections, "externalLinks">;
  clock: Clock;
}): ExternalLinks {
  const { collections, clock } = deps;
  const byField = async (
    field: "externalId" | "localId",
    integration: IntegrationName,
    kind: string,
    ids: readonly string[],
  ) => {
    if (ids.length === 0) return new Map<string, ExternalLinkDoc>();
    const found = await collections.externalLinks
      .find({ integration, kind, [field]: { $in: [...new Set(ids)] } })
      .toArray();
    return new Map(found.map((link) => [link[field], link]));
  };
  return {
    knownExternal: (integration, kind, ids) => byField("externalId", integration, kind, ids),
    knownLocal: (integration, kind, ids) => byField("localId", integration, kind, ids),
    async link(input) {
      try {
        await collections.externalLinks.insertOne({
          ...(input as Omit<ExternalLinkDoc, "_id" | "createdAt">),
          createdAt: clock.now(),
        } as ExternalLinkDoc);
        return true;
      } catch (error) {
        if (isDuplicateKeyOn(error, "externalId") || isDuplicateKeyOn(error, "localId"))
          return false;
        throw error;
      }
    },
    async markDeleted(integration, kind, externalId) {
      const result = await collections.externalLinks.updateOne(
        { integration, kind, externalId, deletedAt: { $exists: false } },
        { $set: { deletedAt: clock.now() } },
      );
      return result.modifiedCount > 0;
    },
    count: (integration, direction) =>
      collections.externalLinks.countDocuments({
        integration,
        ...(direction ? { direction } : {}),
      }),
  };
}
