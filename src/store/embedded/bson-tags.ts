import type { Document } from "bson";

export type BsonTag =
  | "Binary"
  | "BSONRegExp"
  | "BSONSymbol"
  | "Code"
  | "DBRef"
  | "Decimal128"
  | "Double"
  | "Int32"
  | "Long"
  | "MaxKey"
  | "MinKey"
  | "ObjectId"
  | "Timestamp";

/** The bson class of a value (by its `_bsontype` tag, so it works across bson copies). */
export function bsonTag(value: unknown): BsonTag | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const tag = (value as { _bsontype?: unknown })._bsontype;
  return typeof tag === "string" ? (tag as BsonTag) : undefined;
}

export function isPlainObject(value: unknown): value is Document {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
