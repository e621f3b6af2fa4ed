import { type Collection, type Filter, ObjectId } from "mongodb";
import { type Actor, actorLabel } from "../auth/actor.js";
import type { Clock } from "../clock.js";
import { ConflictError, NotFoundError, ValidationError } from "../errors.js";
import type {
  FailureCategory,
  FeedbackDoc,
  RoutedItemDoc,
  RoutedItemState,
  RouteName,
} from "../store/documents.js";
import { isDuplicateKeyOn } from "../store/errors.js";
import { type Page, type PageArgs, paginate } from "../store/pagination.js";

/** Feedback and interaction ids an item keeps (the newest); `feedbackCount` has the total. */
export const ROUTED_ITEM_ID_CAP = 100;
/** Longest close note accepted. */
export const MAX_CLOSE_NOTE = 2_000;

export interface RoutedJoin {
  readonly feedback: FeedbackDoc;
  readonly route: RouteName;
  readonly groupKey: string;
  readonly category: FailureCategory | null;
  readonly priority: number;
  readonly reason: string;
}

const openKeyOf = (route: RouteName, groupKey: string) => `${route}|${groupKey}`;

/**
 * Adds routed feedback to the open item of its (route, groupKey), creating the item when there
 * is none: one bulk write that first makes sure each item exists, then adds each feedback unless
 * it is already among the item's ids (so a batch run again after a crash adds nothing twice).
 */
export async function joinRoutedItems(
  collection: Collection<RoutedItemDoc>,
  joins: readonly RoutedJoin[],
  now: Date,
): Promise<void> {
  if (joins.length === 0) return;
  const firsts = new Map<string, RoutedJoin>();
  for (const join of joins) {
    const key = openKeyOf(join.route, join.groupKey);
    if (!firsts.has(key)) firsts.set(key, join);
  }
  const ensure = [...firsts.entries()].map(([openKey, join]) => ({
    updateOne: {
      filter: { openKey },
      update: {
        $setOnInsert: {
          route: join.route,
          state: "open" as const,
          groupKey: join.groupKey,
          category: join.category,
          priority: 0,
          feedbackIds: [],
          feedbackCount: 0,
          interactionIds: [],
          reason: join.reason,
          createdAt: now,
          updatedAt: now,
        },
      },
      upsert: true,
    },
  }));
  try {
    await collection.bulkWrite(ensure, { ordered: false });
  } catch (error) {
    // Another processor created the same item at the same moment: it exists, which is the point.
    if (!isDuplicateKeyOn(error, "openKey")) throw error;
  }
  await collection.bulkWrite(
    joins.map((join) => ({
      updateOne: {
        filter: {
          openKey: openKeyOf(join.route, join.groupKey),
          feedbackIds: { $ne: join.feedback._id },
        },
        update: {
          $push: {
            feedbackIds: { $each: [join.feedback._id], $slice: -ROUTED_ITEM_ID_CAP },
            interactionIds: {
              $each: join.feedback.interactionIds.slice(0, 1),
              $slice: -ROUTED_ITEM_ID_CAP,
            },
          },
          $inc: { feedbackCount: 1 },
          $max: { priority: join.priority },
          $set: { updatedAt: now },
        },
      },
    })),
    { ordered: true },
  );
}

export interface RoutedItemFilter {
  readonly route?: RouteName | null;
  readonly state?: RoutedItemState | null;
}

export interface RoutedItemService {
  list(filter: RoutedItemFilter, page: PageArgs): Promise<Page<RoutedItemDoc>>;
  get(id: ObjectId): Promise<RoutedItemDoc | null>;
  getMany(ids: readonly string[]): Promise<Array<RoutedItemDoc | null>>;
  /** Closes an open item; new feedback of its group then opens a fresh one. */
  close(id: ObjectId, note: string | null, actor: Actor): Promise<RoutedItemDoc>;
}

export function createRoutedItemService(deps: {
  collection: Collection<RoutedItemDoc>;
  clock: Clock;
}): RoutedItemService {
  const { collection } = deps;
  return {
    list(filter, page) {
      const query: Filter<RoutedItemDoc> = {};
      if (filter.route) query.route = filter.route;
      if (filter.state) query.state = filter.state;
      return paginate(collection, query, page);
    },
    get: (id) => collection.findOne({ _id: id }),
    async getMany(ids) {
      const valid = ids.filter((id) => ObjectId.isValid(id) && id.length === 24);
      const found = await collection
        .find({ _id: { $in: valid.map((id) => new ObjectId(id)) } })
        .toArray();
      const byId = new Map(found.map((item) => [item._id.toHexString(), item]));
      return ids.map((id) => byId.get(id) ?? null);
    },
    async close(id, note, actor) {
      if (note !== null && note.length > MAX_CLOSE_NOTE) {
        throw new ValidationError([
          { path: "note", message: `at most ${MAX_CLOSE_NOTE} characters` },
        ]);
      }
      const now = deps.clock.now();
      const closed = await collection.findOneAndUpdate(
        { _id: id, state: "open" },
        {
          $set: {
            state: "closed",
            closedAt: now,
            closedBy: actorLabel(actor),
            updatedAt: now,
            ...(note !== null ? { closeNote: note } : {}),
          },
          $unset: { openKey: "" },
        },
        { returnDocument: "after" },
      );
      if (closed) return closed;
      const existing = await collection.findOne({ _id: id });
      if (!existing) throw new NotFoundError("RoutedItem", id.toHexString());
      throw new ConflictError(`routed item ${id.toHexString()} is already closed`);
    },
  };
}
