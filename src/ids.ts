import { decodeGlobalID, encodeGlobalID } from "@pothos/plugin-relay";
import { ObjectId } from "mongodb";
import { ValidationError } from "./errors.js";

/**
 * Ids are decoded once, at the edge: an id argument (a Relay global id as every `id` field returns
 * it, or the raw 24-hex database id kept for compatibility) becomes an ObjectId here, and the
 * domain only ever sees ObjectIds. Every id the API returns is a global id (`toGlobalId`).
 */
const HEX_ID = /^[0-9a-fA-F]{24}$/;

/** The ObjectId of a 24-hex string, or null for anything else. */
export function hexToObjectId(value: string): ObjectId | null {
  return HEX_ID.test(value) ? new ObjectId(value) : null;
}

/**
 * The one id parser: a global id of one of `typenames`, or a raw 24-hex id, to an ObjectId.
 * Anything else is a ValidationError naming `path`.
 */
export function parseId(value: string, typenames: readonly string[], path: string): ObjectId {
  const raw = hexToObjectId(value);
  if (raw) return raw;
  try {
    const decoded = decodeGlobalID(value);
    const id = typenames.includes(decoded.typename) ? hexToObjectId(decoded.id) : null;
    if (id) return id;
  } catch {
    // not base64 of "Type:id": reported below
  }
  throw new ValidationError([{ path, message: `must be the id of a ${typenames.join(" or ")}` }]);
}

/** The Relay global id of a stored object, as `id` fields return it. */
export function toGlobalId(typename: string, id: ObjectId): string {
  return encodeGlobalID(typename, id.toHexString());
}
