import { bsonTag } from "./bson-tags.js";

/** mongod's name for a value's BSON type, as used in error messages ("string", "objectId"…). */
export function bsonTypeName(value: unknown): string {
  switch (typeof value) {
    case "number":
      return Number.isInteger(value) && Math.abs(value) <= 0x7fffffff ? "int" : "double";
    case "bigint":
      return "long";
    case "string":
      return "string";
    case "boolean":
      return "bool";
    case "undefined":
      return "missing";
    case "function":
      return "javascript";
  }
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (value instanceof Date) return "date";
  if (value instanceof RegExp) return "regex";
  if (value instanceof Uint8Array) return "binData";
  switch (bsonTag(value)) {
    case "ObjectId":
      return "objectId";
    case "Binary":
      return "binData";
    case "Decimal128":
      return "decimal";
    case "Long":
      return "long";
    case "Double":
      return "double";
    case "Int32":
      return "int";
    case "Timestamp":
      return "timestamp";
    case "BSONRegExp":
      return "regex";
    case "MinKey":
      return "minKey";
    case "MaxKey":
      return "maxKey";
    case "Code":
      return "javascript";
    case "BSONSymbol":
      return "symbol";
    default:
      return "object";
  }
}
