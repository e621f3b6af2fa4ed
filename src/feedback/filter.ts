import { type Filter, ObjectId } from "mongodb";
import { ValidationError } from "../errors.js";
import {
  interactionQuery,
  searchTerms,
  type TimeRange,
  timeRange,
} from "../interactions/filter.js";
import type {
  FailureCategory,
  FeedbackDoc,
  FeedbackKind,
  FeedbackSource,
  FlagCategory,
  InteractionDoc,
  Sentiment,
} from "../store/documents.js";
import type { Collections } from "../store/mongo.js";

export interface FeedbackFilter {
  readonly createdAt?: TimeRange | null;
  readonly modelId?: string | null;
  readonly modelVersion?: string | null;
  readonly interactionId?: string | null;
  readonly kinds?: readonly FeedbackKind[] | null;
  readonly keys?: readonly string[] | null;
  readonly sentiments?: readonly Sentiment[] | null;
  readonly sources?: readonly FeedbackSource[] | null;
  readonly annotatorId?: string | null;
  readonly sessionId?: string | null;
  readonly userId?: string | null;
  readonly ratingMin?: number | null;
  readonly ratingMax?: number | null;
  readonly categories?: readonly FailureCategory[] | null;
  readonly flagCategories?: readonly FlagCategory[] | null;
  /** Only corrections (true) or everything but corrections (false). */
  readonly hasCorrection?: boolean | null;
  /** Only flags (true) or everything but flags (false). */
  readonly flagged?: boolean | null;
  /** Free text over the feedback's own text and its interaction's query and response. */
  readonly search?: string | null;
  /** Superseded feedback (a rater's earlier mind) is left out unless asked for. */
  readonly includeSuperseded?: boolean | null;
}

/**
 * Free-text search is answered from the text indexes and then joined by id, because MongoDB only
 * allows `$text` at the top of a query. The id lists are capped so one broad word cannot build an
 * unbounded `$in`; past the cap the search is refused, never silently truncated.
 */
export const SEARCH_MATCH_LIMIT = 10_000;

export function parseObjectId(value: string, path: string): ObjectId {
  if (!/^[0-9a-fA-F]{24}$/.test(value)) {
    throw new ValidationError([
      { path, message: "must be an id returned by Loopgate (24 hexadecimal characters)" },
    ]);
  }
  return new ObjectId(value);
}

/** A filter list longer than this is a mistake or an attack, not an analyst's question. */
export const MAX_FILTER_VALUES = 100;

function checkListSizes(filter: FeedbackFilter) {
  const lists = {
    kinds: filter.kinds,
    keys: filter.keys,
    sentiments: filter.sentiments,
    sources: filter.sources,
    categories: filter.categories,
    flagCategories: filter.flagCategories,
  };
  const problems = Object.entries(lists)
    .filter(([, values]) => (values?.length ?? 0) > MAX_FILTER_VALUES)
    .map(([name]) => ({ path: `filter.${name}`, message: `at most ${MAX_FILTER_VALUES} values` }));
  if (problems.length > 0) throw new ValidationError(problems);
}

/** The feedback query without free-text search (shared with the aggregates). */
export function feedbackQuery(filter: FeedbackFilter = {}): Filter<FeedbackDoc> {
  checkListSizes(filter);
  const query: Filter<FeedbackDoc> = {};
  const created = timeRange(filter.createdAt, "filter.createdAt");
  if (created) query.createdAt = created;
  if (filter.modelId) query["model.id"] = filter.modelId;
  if (filter.modelVersion) query["model.version"] = filter.modelVersion;
  if (filter.interactionId)
    query.interactionIds = parseObjectId(filter.interactionId, "filter.interactionId");
  // hasCorrection/flagged true narrow `kinds` (all conditions must hold): with kinds [binary],
  // "only corrections" leaves nothing rather than adding corrections to the binary feedback.
  let kinds: FeedbackKind[] | null = filter.kinds?.length ? [...new Set(filter.kinds)] : null;
  const only = (kind: FeedbackKind) => {
    kinds = kinds ? kinds.filter((allowed) => allowed === kind) : [kind];
  };
  if (filter.hasCorrection === true) only("correction");
  if (filter.flagged === true) only("flag");
  const excludedKinds: FeedbackKind[] = [];
  if (filter.hasCorrection === false) excludedKinds.push("correction");
  if (filter.flagged === false) excludedKinds.push("flag");
  if (kinds || excludedKinds.length > 0) {
    query.kind = {
      ...(kinds ? { $in: kinds } : {}),
      ...(excludedKinds.length > 0 ? { $nin: excludedKinds } : {}),
    };
  }
  if (filter.keys?.length) query.key = { $in: [...filter.keys] };
  if (filter.sentiments?.length) query.sentiment = { $in: [...filter.sentiments] };
  if (filter.sources?.length) query.source = { $in: [...filter.sources] };
  if (filter.annotatorId) query.annotatorId = filter.annotatorId;
  if (filter.sessionId) query.sessionId = filter.sessionId;
  if (filter.userId) query.userId = filter.userId;
  if (filter.categories?.length) query.category = { $in: [...filter.categories] };
  if (filter.flagCategories?.length) query["flag.category"] = { $in: [...filter.flagCategories] };
  if (filter.ratingMin !== null && filter.ratingMin !== undefined) {
    query["rating.score"] = { ...(query["rating.score"] as object), $gte: filter.ratingMin };
  }
  if (filter.ratingMax !== null && filter.ratingMax !== undefined) {
    query["rating.score"] = { ...(query["rating.score"] as object), $lte: filter.ratingMax };
  }
  if (!filter.includeSuperseded) query.status = "active";
  return query;
}

/** The full feedback query, with free-text search resolved to ids first. */
export async function resolveFeedbackQuery(
  collections: Pick<Collections, "feedback" | "interactions">,
  filter: FeedbackFilter = {},
): Promise<Filter<FeedbackDoc>> {
  const query = feedbackQuery(filter);
  const search = searchTerms(filter.search);
  if (!search) return query;
  // Each side is narrowed by what it can check itself, then capped: a broad word must be
  // narrowed by the analyst rather than silently cut.
  const interactionSide = interactionQuery({
    modelId: filter.modelId ?? null,
    modelVersion: filter.modelVersion ?? null,
    sessionId: filter.sessionId ?? null,
  });
  const [ownMatches, interactionMatches] = await Promise.all([
    collections.feedback
      .find({ ...query, $text: { $search: search } } as Filter<FeedbackDoc>, {
        projection: { _id: 1 },
        limit: SEARCH_MATCH_LIMIT + 1,
      })
      .toArray(),
    collections.interactions
      .find({ ...interactionSide, $text: { $search: search } } as Filter<InteractionDoc>, {
        projection: { _id: 1 },
        limit: SEARCH_MATCH_LIMIT + 1,
      })
      .toArray(),
  ]);
  if (ownMatches.length > SEARCH_MATCH_LIMIT || interactionMatches.length > SEARCH_MATCH_LIMIT) {
    throw new ValidationError([
      {
        path: "filter.search",
        message: `matches more than ${SEARCH_MATCH_LIMIT} items; add words or narrow the model, session, kind or time range`,
      },
    ]);
  }
  return {
    $and: [
      query,
      {
        $or: [
          { _id: { $in: ownMatches.map((match) => match._id) } },
          { interactionIds: { $in: interactionMatches.map((match) => match._id) } },
        ],
      },
    ],
  } as Filter<FeedbackDoc>;
}
