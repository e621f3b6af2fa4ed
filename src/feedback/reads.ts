import type { FeedbackDoc } from "../store/documents.js";
import type { Collections } from "../store/mongo.js";
import { type Page, type PageArgs, paginate } from "../store/pagination.js";
import { compileFeedbackFilter, type FeedbackFilter, resolveFeedbackMatch } from "./filter.js";

export interface FeedbackReadService {
  list(filter: FeedbackFilter, page: PageArgs): Promise<Page<FeedbackDoc>>;
}

export function createFeedbackReadService(deps: {
  collections: Pick<Collections, "feedback" | "interactions">;
}): FeedbackReadService {
  const { collections } = deps;
  return {
    list: async (filter, page) =>
      paginate(
        collections.feedback,
        await resolveFeedbackMatch(collections, compileFeedbackFilter(filter)),
        page,
      ),
  };
}
