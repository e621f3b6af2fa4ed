import { Query } from "mingo";
import type { Filter, ObjectId } from "mongodb";
import { z } from "zod";
import { ValidationError } from "../errors.js";
import { interactionQuery } from "../interactions/filter.js";
import {
  type FeedbackDoc,
  type FeedbackKind,
  failureCategories,
  feedbackKinds,
  feedbackSources,
  flagCategories,
  type InteractionDoc,
  sentiments,
} from "../store/documents.js";
import type { Collections } from "../store/mongo.js";
import { objectIdInput, parseInput } from "../validation.js";

/** A filter list longer than this is a mistake or an attack, not an analyst's question. */
export const MAX_FILTER_VALUES = 100;
export const MAX_SEARCH_LENGTH = 500;

/**
 * Free-text search is answered from the text indexes and then joined by id, because MongoDB only
 * allows `$text` at the top of a query. The id lists are capped so one broad word cannot build an
 * unbounded `$in`; past the cap the search is refused, never silently truncated.
 */
export const SEARCH_MATCH_LIMIT = 10_000;

const list = <Value extends z.ZodType>(value: Value) =>
  z.array(value).max(MAX_FILTER_VALUES, `at most ${MAX_FILTER_VALUES} values`).nullish();

export const timeRangeSchema = z
  .object({ from: z.date().nullish(), to: z.date().nullish() })
  .superRefine((range, ctx) => {
    if (range.from && range.to && range.from >= range.to) {
      ctx.addIssue({ code: "custom", path: ["to"], message: "must be later than from" });
    }
  });

/**
 * The feedback filter, declared once: the GraphQL `FeedbackFilter` input and the live feed's
 * `FeedbackStreamFilter` are derived from this shape (schema/feedback.ts), and `compileFeedbackFilter`
 * turns it into the MongoDB queries every read uses. Descriptions are the API's.
 */
export const feedbackFilterSchema = z.object({
  createdAt: timeRangeSchema.nullish().describe("When the feedback was given."),
  modelId: z.string().nullish().describe("Model id of the judged interaction."),
  modelVersion: z.string().nullish().describe("Model version of the judged interaction."),
  interactionId: objectIdInput.nullish().describe("Only feedback touching this interaction."),
  kinds: list(z.enum(feedbackKinds)).describe("Feedback kinds."),
  keys: list(z.string()).describe("Feedback keys."),
  sentiments: list(z.enum(sentiments)).describe("Derived sentiments."),
  sources: list(z.enum(feedbackSources)).describe("Sources."),
  annotatorId: z.string().nullish().describe("Annotator, judge model or rule id."),
  sessionId: z.string().nullish().describe("Session id of the judged interaction."),
  userId: z.string().nullish().describe("Pseudonymous id of the rater."),
  ratingMin: z.number().nullish().describe("Ratings with at least this score (ratings only)."),
  ratingMax: z.number().nullish().describe("Ratings with at most this score (ratings only)."),
  categories: list(z.enum(failureCategories)).describe("Failure categories."),
  flagCategories: list(z.enum(flagCategories)).describe("Flag categories (flags only)."),
  hasCorrection: z
    .boolean()
    .nullish()
    .describe("Only corrections (true), or everything but corrections (false)."),
  flagged: z.boolean().nullish().describe("Only flags (true), or everything but flags (false)."),
  search: z
    .string()
    .trim()
    .max(MAX_SEARCH_LENGTH, `must be at most ${MAX_SEARCH_LENGTH} characters`)
    .nullish()
    .describe(
      "Words in the feedback's text (comment, correction, reasons) or in its interaction's query and response.",
    ),
  includeSuperseded: z
    .boolean()
    .nullish()
    .describe(
      "Also return feedback replaced by a later opinion of the same rater (default false).",
    ),
});

/** The fields a live subscription may filter on: conditions an event can be tested against. */
export const feedbackStreamFilterSchema = feedbackFilterSchema.pick({
  modelId: true,
  modelVersion: true,
  interactionId: true,
  kinds: true,
  keys: true,
  sentiments: true,
  sources: true,
});

/** A filter as callers give it (ids as ObjectIds or 24-hex strings). */
export type FeedbackFilter = z.input<typeof feedbackFilterSchema>;
type ParsedFilter = z.output<typeof feedbackFilterSchema>;

/** A filter compiled once per request: every query the reads and aggregates derive from it. */
export interface CompiledFeedbackFilter {
  readonly filter: ParsedFilter;
  /** Every condition but free text; only indexed paths. */
  readonly query: Filter<FeedbackDoc>;
  /** Trimmed free text, when given. */
  readonly search: string | undefined;
  /**
   * Interaction-denominated rates: the feedback side counts per-answer feedback (no comparisons)
   * on interactions created in the range, at any time; the interaction side counts interactions
   * created in the range. Free text narrows the feedback counts only.
   */
  readonly rates: {
    readonly feedback: Filter<FeedbackDoc>;
    readonly interactions: Filter<InteractionDoc>;
  };
}

function timeBounds(range: ParsedFilter["createdAt"]) {
  const bounds: { $gte?: Date; $lt?: Date } = {};
  if (range?.from) bounds.$gte = range.from;
  if (range?.to) bounds.$lt = range.to;
  return Object.keys(bounds).length > 0 ? bounds : undefined;
}

/** The conditions on feedback's own fields; `createdAt` is left to the caller. */
function feedbackConditions(filter: ParsedFilter): Filter<FeedbackDoc> {
  const query: Filter<FeedbackDoc> = {};
  if (filter.modelId) query["model.id"] = filter.modelId;
  if (filter.modelVersion) query["model.version"] = filter.modelVersion;
  if (filter.interactionId) query.interactionIds = filter.interactionId;
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
  const score: { $gte?: number; $lte?: number } = {};
  if (filter.ratingMin !== null && filter.ratingMin !== undefined) score.$gte = filter.ratingMin;
  if (filter.ratingMax !== null && filter.ratingMax !== undefined) score.$lte = filter.ratingMax;
  if (Object.keys(score).length > 0) query["rating.score"] = score;
  if (!filter.includeSuperseded) query.status = "active";
  return query;
}

/** Validates the filter (every problem at once) and derives its queries, once. */
export function compileFeedbackFilter(raw: FeedbackFilter = {}): CompiledFeedbackFilter {
  const filter = parseInput(feedbackFilterSchema, raw, "filter");
  const created = timeBounds(filter.createdAt);
  const conditions = feedbackConditions(filter);
  const query: Filter<FeedbackDoc> = created ? { createdAt: created, ...conditions } : conditions;
  const interactionId: ObjectId | null | undefined = filter.interactionId;
  return {
    filter,
    query,
    search: filter.search || undefined,
    rates: {
      feedback: {
        ...conditions,
        // Set only when the range has an end: an `undefined` value would reach the server as
        // null (the driver serializes undefined as null) and match no feedback at all.
        ...(created ? { interactionCreatedAt: created } : {}),
        kind: { ...(conditions.kind as object), $ne: "comparison" },
      },
      // Not the user: a feedback filter's userId is the rater's, so it narrows only feedback.
      interactions: {
        ...interactionQuery({
          createdAt: filter.createdAt ?? null,
          modelId: filter.modelId ?? null,
          modelVersion: filter.modelVersion ?? null,
          sessionId: filter.sessionId ?? null,
        }),
        // One interaction asked for: its rates are about it alone.
        ...(interactionId ? { _id: interactionId } : {}),
      },
    },
  };
}

/** The feedback query without free-text search (the index test checks its paths). */
export function feedbackQuery(filter: FeedbackFilter = {}): Filter<FeedbackDoc> {
  return compileFeedbackFilter(filter).query;
}

/** The full feedback query, with free-text search resolved to ids first (two lookups at most). */
export async function resolveFeedbackMatch(
  collections: Pick<Collections, "feedback" | "interactions">,
  compiled: CompiledFeedbackFilter,
): Promise<Filter<FeedbackDoc>> {
  const { query, search, filter } = compiled;
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

/**
 * Tests a single feedback document (a live-feed event) against a compiled filter's query, with
 * MongoDB's query semantics (mingo), so the live feed and the reads cannot disagree.
 */
export function feedbackEventMatcher(
  compiled: CompiledFeedbackFilter,
): (feedback: FeedbackDoc) => boolean {
  const query = new Query(compiled.query as Record<string, unknown>);
  return (feedback) => query.test(feedback as unknown as Record<string, unknown>);
}
