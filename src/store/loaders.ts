import DataLoader from "dataloader";
import { ObjectId } from "mongodb";
import type { ConflictDoc, FeedbackDoc, InteractionDoc } from "./documents.js";
import type { Collections } from "./mongo.js";

/**
 * Request-scoped DataLoaders: one set per request, so a page of N nodes costs a constant number of
 * database round trips and nothing is cached across requests. Results are re-ordered to match the
 * keys, as DataLoader requires.
 */
export interface Loaders {
  readonly interaction: DataLoader<string, InteractionDoc | null>;
  readonly feedback: DataLoader<string, FeedbackDoc | null>;
  /** Active feedback touching an interaction (both sides of comparisons included), newest first. */
  readonly feedbackOfInteraction: DataLoader<string, FeedbackDoc[]>;
  /** Feedback that a given feedback superseded: the rater's earlier minds. */
  readonly supersededBy: DataLoader<string, FeedbackDoc[]>;
  readonly conflictOfInteraction: DataLoader<string, ConflictDoc | null>;
  readonly conflict: DataLoader<string, ConflictDoc | null>;
}

/** DataLoader.loadMany reports failures as Error entries; a failed batch should fail the field. */
export async function loadAll<T>(
  loader: DataLoader<string, T>,
  keys: readonly string[],
): Promise<T[]> {
  const results = await loader.loadMany(keys);
  const failure = results.find((result): result is Error => result instanceof Error);
  if (failure) throw failure;
  return results as T[];
}

const toObjectIds = (keys: readonly string[]) =>
  keys.filter((key) => /^[0-9a-fA-F]{24}$/.test(key)).map((key) => new ObjectId(key));

function byId<T extends { _id: ObjectId }>(
  keys: readonly string[],
  docs: readonly T[],
): (T | null)[] {
  const found = new Map(docs.map((doc) => [doc._id.toHexString(), doc]));
  return keys.map((key) => found.get(key.toLowerCase()) ?? null);
}

function grouped<T>(
  keys: readonly string[],
  docs: readonly T[],
  keysOf: (doc: T) => string[],
): T[][] {
  const groups = new Map<string, T[]>(keys.map((key) => [key.toLowerCase(), []]));
  for (const doc of docs) for (const key of keysOf(doc)) groups.get(key)?.push(doc);
  return keys.map((key) => groups.get(key.toLowerCase()) ?? []);
}

const newestFirst = { createdAt: -1, _id: -1 } as const;
/**
 * One reply for a whole batch: the driver's default first batch (101 documents) would add a
 * getMore round trip as soon as a page's feedback passes 101 items. Replies stay under 16 MiB.
 */
const oneBatch = { batchSize: 10_000 } as const;

export function createLoaders(collections: Collections): Loaders {
  return {
    interaction: new DataLoader(async (keys) =>
      byId(
        keys,
        await collections.interactions
          .find({ _id: { $in: toObjectIds(keys) } }, oneBatch)
          .toArray(),
      ),
    ),
    feedback: new DataLoader(async (keys) =>
      byId(
        keys,
        await collections.feedback.find({ _id: { $in: toObjectIds(keys) } }, oneBatch).toArray(),
      ),
    ),
    feedbackOfInteraction: new DataLoader(async (keys) => {
      const docs = await collections.feedback
        .find(
          { interactionIds: { $in: toObjectIds(keys) }, status: "active" },
          { sort: newestFirst, ...oneBatch },
        )
        .toArray();
      return grouped(keys, docs, (doc) => doc.interactionIds.map((id) => id.toHexString()));
    }),
    supersededBy: new DataLoader(async (keys) => {
      const docs = await collections.feedback
        .find({ supersededBy: { $in: toObjectIds(keys) } }, { sort: newestFirst, ...oneBatch })
        .toArray();
      return grouped(keys, docs, (doc) =>
        doc.supersededBy ? [doc.supersededBy.toHexString()] : [],
      );
    }),
    conflict: new DataLoader(async (keys) =>
      byId(
        keys,
        await collections.conflicts.find({ _id: { $in: toObjectIds(keys) } }, oneBatch).toArray(),
      ),
    ),
    conflictOfInteraction: new DataLoader(async (keys) => {
      const docs = await collections.conflicts
        .find({ interactionId: { $in: toObjectIds(keys) } }, oneBatch)
        .toArray();
      const found = new Map(docs.map((doc) => [doc.interactionId.toHexString(), doc]));
      return keys.map((key) => found.get(key.toLowerCase()) ?? null);
    }),
  };
}
