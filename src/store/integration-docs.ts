import type { ObjectId } from "mongodb";

/** The external services Loopgate syncs with (a closed set: metric labels and GraphQL enums). */
export const integrationNames = ["langsmith", "argilla", "labelstudio"] as const;
export type IntegrationName = (typeof integrationNames)[number];

/** push: Loopgate → the service; pull: the service → Loopgate. */
export const syncDirections = ["push", "pull"] as const;
export type SyncDirection = (typeof syncDirections)[number];

/**
 * One document per integration and direction (`_id` = `<integration>:<direction>`): where the
 * last run got to, so the next run (or the same run after a crash) continues from there.
 */
export interface SyncStateDoc {
  _id: string;
  integration: IntegrationName;
  direction: SyncDirection;
  /** Opaque per sync: a watermark (newest item handled), a page or offset of the current pass. */
  cursor: Record<string, unknown>;
  lastRunStartedAt?: Date;
  lastRunFinishedAt?: Date;
  /** End of the last run that finished without error: what "lag" is measured from. */
  lastSuccessAt?: Date;
  lastError?: { message: string; at: Date };
  /** Totals over all runs. */
  counts: { synced: number; skipped: number; failed: number };
  /** The last run's own figures. */
  lastRun?: { synced: number; skipped: number; failed: number };
  lastJobId?: ObjectId;
  updatedAt: Date;
}

/**
 * Our id ↔ their id for one item of one integration. The unique indexes on both sides are what
 * make a replayed sync or a duplicated webhook land on the same item instead of a second one.
 * `kind` names what is linked (e.g. `feedback`, `argilla-record:<dataset>`, `ls-annotation`).
 */
export interface ExternalLinkDoc {
  _id: ObjectId;
  integration: IntegrationName;
  kind: string;
  localId: string;
  externalId: string;
  direction: SyncDirection;
  /** A version of the external item (e.g. its updated_at) when updates are imported too. */
  version?: string;
  createdAt: Date;
  /** Set when the external side deleted the item (Label Studio ANNOTATIONS_DELETED). */
  deletedAt?: Date;
}
