import type { Collection, Document, Filter, ObjectId } from "mongodb";
import { ValidationError } from "../errors.js";
import { hexToObjectId } from "../ids.js";

/** Relay's connection arguments. */
export interface PageArgs {
  readonly first?: number | null;
  readonly after?: string | null;
  readonly last?: number | null;
  readonly before?: string | null;
}

export interface Page<T> {
  readonly nodes: T[];
  readonly cursors: string[];
  readonly hasNextPage: boolean;
  readonly hasPreviousPage: boolean;
  /** Counts every match of the filter; only run when a client asks for it. */
  readonly totalCount: () => Promise<number>;
}

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 200;

function encodeCursor(time: Date, id: ObjectId): string {
  return Buffer.from(`${time.getTime()}:${id.toHexString()}`).toString("base64url");
}

function decodeCursor(cursor: string, path: string): { time: Date; id: ObjectId } {
  const [time, hex, ...rest] = Buffer.from(cursor, "base64url").toString("utf8").split(":");
  const millis = Number(time);
  const id = hexToObjectId(hex ?? "");
  if (rest.length > 0 || !id || !Number.isSafeInteger(millis)) {
    throw new ValidationError([{ path, message: "is not a cursor returned by this connection" }]);
  }
  return { time: new Date(millis), id };
}

function pageSize(value: number | null | undefined, path: string): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 0 || value > MAX_PAGE_SIZE) {
    throw new ValidationError([{ path, message: `must be between 0 and ${MAX_PAGE_SIZE}` }]);
  }
  return value;
}

/** Newest first by `createdAt`: the order of every listing. */
export function paginate<T extends { _id: ObjectId; createdAt: Date } & Document>(
  collection: Collection<T>,
  filter: Filter<T>,
  args: PageArgs,
): Promise<Page<T>> {
  return paginateBy(collection, filter, args, "createdAt");
}

/**
 * Keyset pagination over (field desc, _id desc): stable while new documents arrive and cheap at
 * any depth, because every page is an index range scan rather than a skip. `field` must be an
 * immutable Date so that a document never moves between pages.
 */
export async function paginateBy<T extends { _id: ObjectId } & Document>(
  collection: Collection<T>,
  filter: Filter<T>,
  args: PageArgs,
  field: string,
): Promise<Page<T>> {
  const first = pageSize(args.first, "first");
  const last = pageSize(args.last, "last");
  const after = args.after ? decodeCursor(args.after, "after") : undefined;
  const before = args.before ? decodeCursor(args.before, "before") : undefined;

  const bounds: Filter<Document>[] = [];
  if (after) {
    bounds.push({
      $or: [{ [field]: { $lt: after.time } }, { [field]: after.time, _id: { $lt: after.id } }],
    });
  }
  if (before) {
    bounds.push({
      $or: [{ [field]: { $gt: before.time } }, { [field]: before.time, _id: { $gt: before.id } }],
    });
  }
  const bounded = (bounds.length > 0 ? { $and: [filter, ...bounds] } : filter) as Filter<T>;

  // Paging backwards reads the index the other way and flips the page afterwards.
  const backwards = last !== undefined && first === undefined;
  const limit = backwards ? last : (first ?? DEFAULT_PAGE_SIZE);
  const direction = backwards ? 1 : -1;
  const fetched = (await collection
    .find(bounded, { sort: { [field]: direction, _id: direction }, limit: limit + 1 })
    .toArray()) as T[];
  const more = fetched.length > limit;
  let nodes = fetched.slice(0, limit);
  if (backwards) nodes.reverse();
  let trimmedFront = false;
  if (!backwards && last !== undefined && nodes.length > last) {
    nodes = nodes.slice(nodes.length - last);
    trimmedFront = true;
  }

  return {
    nodes,
    cursors: nodes.map((node) => encodeCursor(node[field] as Date, node._id)),
    hasNextPage: backwards ? Boolean(before) : more,
    hasPreviousPage: backwards ? more : Boolean(after) || trimmedFront,
    totalCount: () => collection.countDocuments(filter),
  };
}
