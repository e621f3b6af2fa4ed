import { LRUCache } from "lru-cache";
import type { Clock } from "../clock.js";
import { NotFoundError } from "../errors.js";
import type { FeedbackKeyDoc } from "../store/documents.js";
import type { Collections } from "../store/mongo.js";
import { parseInput } from "../validation.js";
import { type FeedbackKeyInput, feedbackKeyInput, feedbackKeyName } from "./inputs.js";

export interface FeedbackKeyService {
  /** Creates or replaces a key's config; later feedback on the key is validated against it. */
  define(input: FeedbackKeyInput): Promise<FeedbackKeyDoc>;
  /**
   * A key's config as of at most `KEY_CONFIG_TTL_MS` ago: changes made through this process are
   * seen at once, changes made through another process within that time.
   */
  get(key: string): Promise<FeedbackKeyDoc | null>;
  list(): Promise<FeedbackKeyDoc[]>;
  /** Stored feedback keeps its key; only future validation stops. */
  remove(key: string): Promise<FeedbackKeyDoc>;
}

/** How long a process trusts a key config it read (the write path reads it on every feedback). */
export const KEY_CONFIG_TTL_MS = 5_000;
/** Key names cached per process (undeclared names are cached too, as "not declared"). */
const KEY_CONFIG_CACHE_SIZE = 10_000;

export function createFeedbackKeyService(deps: {
  collections: Pick<Collections, "feedbackKeys">;
  clock: Clock;
}): FeedbackKeyService {
  const { collections, clock } = deps;
  // Read on every feedback write, changed by an admin now and then: a short-lived cache saves
  // the write path a round trip. The injected clock judges freshness (testable without sleeping).
  const cache = new LRUCache<string, { config: FeedbackKeyDoc | null; readAt: number }>({
    max: KEY_CONFIG_CACHE_SIZE,
  });
  const remember = (key: string, config: FeedbackKeyDoc | null) =>
    cache.set(key, { config, readAt: clock.now().getTime() });
  return {
    async define(raw) {
      const input = parseInput(feedbackKeyInput, raw);
      const now = clock.now();
      const config: Omit<FeedbackKeyDoc, "_id" | "createdAt"> = {
        kind: input.kind,
        isLowerScoreBetter: input.isLowerScoreBetter,
        updatedAt: now,
        ...(input.description ? { description: input.description } : {}),
        ...(input.rating ? { rating: input.rating } : {}),
        ...(input.categories?.length ? { categories: input.categories } : {}),
      };
      const cleared: Record<string, ""> = {
        ...(input.description ? {} : { description: "" }),
        ...(input.rating ? {} : { rating: "" }),
        ...(input.categories?.length ? {} : { categories: "" }),
      };
      // One atomic upsert: the config is replaced, the first declaration's createdAt is kept.
      const saved = await collections.feedbackKeys.findOneAndUpdate(
        { _id: input.key },
        {
          $set: config,
          // MongoDB refuses an empty $unset, so it is only sent when something is cleared.
          ...(Object.keys(cleared).length > 0 ? { $unset: cleared } : {}),
          $setOnInsert: { createdAt: now },
        },
        { upsert: true, returnDocument: "after" },
      );
      if (!saved) throw new Error(`feedback key ${input.key} was not saved`);
      remember(input.key, saved);
      return saved;
    },
    async get(key) {
      const cached = cache.get(key);
      if (cached && clock.now().getTime() - cached.readAt < KEY_CONFIG_TTL_MS) return cached.config;
      const config = await collections.feedbackKeys.findOne({ _id: key });
      remember(key, config);
      return config;
    },
    list: () => collections.feedbackKeys.find({}, { sort: { _id: 1 } }).toArray(),
    async remove(key) {
      parseInput(feedbackKeyName, key, "key");
      const removed = await collections.feedbackKeys.findOneAndDelete({ _id: key });
      remember(key, null);
      if (!removed) throw new NotFoundError("FeedbackKey", key);
      return removed;
    },
  };
}
