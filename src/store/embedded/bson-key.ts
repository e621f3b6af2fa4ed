import type { Binary, Document, ObjectId, Timestamp } from "bson";
import { numericKey } from "./bson-numbers.js";
import { EMPTY_ARRAY_KEY } from "./bson-order.js";
import { bsonTag, isPlainObject } from "./bson-tags.js";

/**
 * Canonical string for a value under MongoDB equality: numbers of every BSON type share one
 * form (so `_id: 1` and `_id: 1.0` collide exactly as in a unique index), objects keep field
 * order (it is significant in MongoDB), strings are JSON-escaped so composites cannot collide.
 */
export function keyOf(value: unknown): string {
  switch (typeof value) {
    case "number":
    case "bigint":
      return `n${numericKey(value)}`;
    case "string":
      return `s${JSON.stringify(value)}`;
    case "boolean":
      return value ? "T" : "F";
    case "undefined":
      return "z";
    case "symbol":
      return value === EMPTY_ARRAY_KEY ? "e" : "z";
    case "function":
      return `f${JSON.stringify(String(value))}`;
  }
  if (value === null) return "z";
  if (Array.isArray(value)) return `[${value.map(keyOf).join(",")}]`;
  if (value instanceof Date) return `d${value.getTime()}`;
  if (value instanceof RegExp) return `r${JSON.stringify([value.source, value.flags])}`;
  if (value instanceof Uint8Array) return `x0:${Buffer.from(value).toString("base64")}`;
  switch (bsonTag(value)) {
    case "ObjectId":
      return `o${(value as ObjectId).toHexString()}`;
    case "Binary": {
      const bin = value as Binary;
      return `x${bin.sub_type}:${Buffer.from(bin.buffer.subarray(0, bin.position)).toString("base64")}`;
    }
    case "Decimal128":
    case "Long":
    case "Double":
    case "Int32":
      return `n${numericKey(value)}`;
    case "Timestamp":
      return `t${(value as Timestamp).toString()}`;
    case "MinKey":
      return "<";
    case "MaxKey":
      return ">";
    default:
      break;
  }
  if (isPlainObject(value)) {
    const parts = Object.keys(value).map((k) => `${JSON.stringify(k)}:${keyOf(value[k])}`);
    return `{${parts.join(",")}}`;
  }
  return `?${JSON.stringify(String(value))}`;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex").toUpperCase();
}

/** Renders a value the way mongod prints BSON in error messages (e.g. dup key: { a: "x" }). */
export function formatValue(value: unknown): string {
  switch (typeof value) {
    case "number":
    case "bigint":
      return String(value);
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return String(value);
    case "undefined":
      return "null";
  }
  if (value === null) return "null";
  if (Array.isArray(value)) {
    return value.length === 0 ? "[]" : `[ ${value.map(formatValue).join(", ")} ]`;
  }
  if (value instanceof Date) return `new Date(${value.getTime()})`;
  if (value instanceof RegExp) return `/${value.source}/${value.flags}`;
  switch (bsonTag(value)) {
    case "ObjectId":
      return `ObjectId('${(value as ObjectId).toHexString()}')`;
    case "Binary": {
      const bin = value as Binary;
      return `BinData(${bin.sub_type}, ${hex(bin.buffer.subarray(0, bin.position))})`;
    }
    case "Decimal128":
      return `NumberDecimal("${String(value)}")`;
    case "Timestamp": {
      const ts = value as Timestamp;
      return `Timestamp(${ts.t}, ${ts.i})`;
    }
    case "MinKey":
      return "MinKey";
    case "MaxKey":
      return "MaxKey";
    default:
      break;
  }
  if (isPlainObject(value)) return formatDocument(value);
  return String(value);
}

export function formatDocument(doc: Document): string {
  const keys = Object.keys(doc);
  if (keys.length === 0) return "{}";
  return `{ ${keys.map((k) => `${k}: ${formatValue(doc[k])}`).join(", ")} }`;
}
