import type { Collections } from "../store/mongo.js";
import { type Page, type PageArgs, paginate } from "../store/pagination.js";
import { type FeedbackFilter, parseObjectId, resolveFeedbackQuery } from "./filters.js";
import type { FeedbackDoc } from "./model.js";

export interface FeedbackReadService {
  get(id: string): Promise<FeedbackDoc | null>;
  list(filter: FeedbackFilter, page: PageArgs): Promise<Page<FeedbackDoc>>;
}

export function createFeedbackReadService(deps: {
  collections: Pick<Collections, "feedback" | "interactions">;
}): FeedbackReadService {
  const { collections } = deps;
  return {
    get: (id) => collections.feedback.findOne({ _id: parseObjectId(id, "id") }),
    list: async (filter, page) =>
      paginate(collections.feedback, await resolveFeedbackQuery(collections, filter), page),
  };
}
