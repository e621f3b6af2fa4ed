import DataLoader from "dataloader";
import type { ObjectId } from "mongodb";
import { hexToObjectId } from "../ids.js";
import type { ConflictDoc, FeedbackDoc, InteractionDoc } from "./documents.js";
import type { Collections } from "./mongo.js";

/** Loaders are keyed by ObjectId (ids are decoded at the edge) and cache by its hex form. */
type IdLoader<T> = DataLoader<ObjectId, T, string>;

/**
 * Request-scoped DataLoaders: one set per request, so a page of N nodes costs a constant number of
 * database round trips and nothing is cached across requests. Results are re-ordered to match the
 * keys, as DataLoader requires.
 */
export interface Loaders {
  readonly interaction: IdLoader<InteractionDoc | null>;
  readonly feedback: IdLoader<FeedbackDoc | null>;
  /** Active feedback touching an interaction (both sides of comparisons included), newest first. */
  readonly feedbackOfInteraction: IdLoader<FeedbackDoc[]>;
  /** Feedback that a given feedback superseded: the rater's earlier minds. */
  readonly supersededBy: IdLoader<FeedbackDoc[]>;
  readonly conflictOfInteraction: IdLoader<ConflictDoc | null>;
  readonly conflict: IdLoader<ConflictDoc | null>;
}

/** DataLoader.loadMany reports failures as Error entries; a failed batch should fail the field. */
export async function loadAll<T>(loader: IdLoader<T>, keys: readonly ObjectId[]): Promise<T[]> {
  const results = await loader.loadMany(keys);
  const failure = results.find((result): result is Error => result instanceof Error);
  if (failure) throw failure;
  return results as T[];
}

/**
 * For Relay's node resolution, which hands over the id part of global ids as strings: a string
 * that is no database id loads nothing.
 */
export async function loadByHex<T>(
  loader: IdLoader<T | null>,
  ids: readonly string[],
): Promise<Array<T | null>> {
  const parsed = ids.map(hexToObjectId);
  const loaded = await loadAll(
    loader,
    parsed.filter((id): id is ObjectId => id !== null),
  );
  let next = 0;
  return parsed.map((id) => (id ? (loaded[next++] ?? null) : null));
}

const hex = (id: ObjectId) => id.toHexString();
const options = { cacheKeyFn: hex };

function byId<T extends { _id: ObjectId }>(
  keys: readonly ObjectId[],
  docs: readonly T[],
): (T | null)[] {
  const found = new Map(docs.map((doc) => [hex(doc._id), doc]));
  return keys.map((key) => found.get(hex(key)) ?? null);
}

function grouped<T>(
  keys: readonly ObjectId[],
  docs: readonly T[],
  keysOf: (doc: T) => readonly ObjectId[],
): T[][] {
  const groups = new Map<string, T[]>(keys.map((key) => [hex(key), []]));
  for (const doc of docs) for (const key of keysOf(doc)) groups.get(hex(key))?.push(doc);
  return keys.map((key) => groups.get(hex(key)) ?? []);
}

const newestFirst = { createdAt: -1, _id: -1 } as const;
/**
 * One reply for a whole batch: the driver's default first batch (101 documents) would add a
 * getMore round trip as soon as a page's feedback passes 101 items. Replies stay under 16 MiB.
 */
const oneBatch = { batchSize: 10_000 } as const;

export function createLoaders(collections: Collections): Loaders {
  return {
    interaction: new DataLoader(
      async (keys) =>
        byId(
          keys,
          await collections.interactions.find({ _id: { $in: [...keys] } }, oneBatch).toArray(),
        ),
      options,
    ),
    feedback: new DataLoader(
      async (keys) =>
        byId(
          keys,
          await collections.feedback.find({ _id: { $in: [...keys] } }, oneBatch).toArray(),
        ),
      options,
    ),
    feedbackOfInteraction: new DataLoader(async (keys) => {
      const docs = await collections.feedback
        .find(
          { interactionIds: { $in: [...keys] }, status: "active" },
          { sort: newestFirst, ...oneBatch },
        )
        .toArray();
      return grouped(keys, docs, (doc) => doc.interactionIds);
    }, options),
    supersededBy: new DataLoader(async (keys) => {
      const docs = await collections.feedback
        .find({ supersededBy: { $in: [...keys] } }, { sort: newestFirst, ...oneBatch })
        .toArray();
      return grouped(keys, docs, (doc) => (doc.supersededBy ? [doc.supersededBy] : []));
    }, options),
    conflict: new DataLoader(
      async (keys) =>
        byId(
          keys,
          await collections.conflicts.find({ _id: { $in: [...keys] } }, oneBatch).toArray(),
        ),
      options,
    ),
    conflictOfInteraction: new DataLoader(async (keys) => {
      const docs = await collections.conflicts
        .find({ interactionId: { $in: [...keys] } }, oneBatch)
        .toArray();
      const found = new Map(docs.map((doc) => [hex(doc.interactionId), doc]));
      return keys.map((key) => found.get(hex(key)) ?? null);
    }, options),
  };
}
