import type { Clock } from "../clock.js";
import { NotFoundError } from "../errors.js";
import type { FeedbackKeyDoc } from "../store/documents.js";
import type { Collections } from "../store/mongo.js";
import { parseInput } from "../validation.js";
import { type FeedbackKeyInput, feedbackKeyInput, feedbackKeyName } from "./inputs.js";

export interface FeedbackKeyService {
  /** Creates or replaces a key's config; later feedback on the key is validated against it. */
  define(input: FeedbackKeyInput): Promise<FeedbackKeyDoc>;
  get(key: string): Promise<FeedbackKeyDoc | null>;
  list(): Promise<FeedbackKeyDoc[]>;
  /** Stored feedback keeps its key; only future validation stops. */
  remove(key: string): Promise<FeedbackKeyDoc>;
}

export function createFeedbackKeyService(deps: {
  collections: Pick<Collections, "feedbackKeys">;
  clock: Clock;
}): FeedbackKeyService {
  const { collections, clock } = deps;
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
      return saved;
    },
    get: (key) => collections.feedbackKeys.findOne({ _id: key }),
    list: () => collections.feedbackKeys.find({}, { sort: { _id: 1 } }).toArray(),
    async remove(key) {
      parseInput(feedbackKeyName, key, "key");
      const removed = await collections.feedbackKeys.findOneAndDelete({ _id: key });
      if (!removed) throw new NotFoundError("FeedbackKey", key);
      return removed;
    },
  };
}
