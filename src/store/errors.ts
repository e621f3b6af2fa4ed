import {
  MongoError,
  MongoNetworkError,
  MongoServerError,
  MongoServerSelectionError,
  MongoTopologyClosedError,
} from "mongodb";

interface DuplicateKeyLike {
  code?: unknown;
  keyPattern?: Record<string, unknown>;
  message?: string;
  errmsg?: string;
  err?: { keyPattern?: Record<string, unknown>; errmsg?: string };
}

/**
 * True when a write hit the unique index on `field` (MongoDB error 11000). Accepts a thrown
 * MongoServerError as well as one entry of a bulk write's `writeErrors`.
 */
export function isDuplicateKeyOn(error: unknown, field: string): boolean {
  if (!error || typeof error !== "object") return false;
  const candidate = error as DuplicateKeyLike;
  if (candidate.code !== 11000) return false;
  const pattern = candidate.keyPattern ?? candidate.err?.keyPattern;
  if (pattern) return field in pattern;
  const message = candidate.errmsg ?? candidate.err?.errmsg ?? candidate.message ?? "";
  return message.includes(`{ ${field}:`) || message.includes(`${field}_1`);
}

/** Server error codes that mean "not now" rather than "wrong request" (shutdown, step-down, time limit). */
const transientServerCodes = new Set([
  6, 7, 50, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436,
]);

const poolErrorNames = new Set([
  "MongoPoolClearedError",
  "MongoPoolClosedError",
  "MongoWaitQueueTimeoutError",
]);

/**
 * Socket errors the driver sometimes lets through unwrapped: writing a command to a connection
 * the server has just closed throws Node's own EPIPE ("This socket has been ended by the other
 * party"), not a MongoNetworkError (seen when the fault suite kills the store under load). They
 * mean what a MongoNetworkError means.
 */
const socketErrorCodes = new Set([
  "EPIPE",
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ENOTCONN",
  "ETIMEDOUT",
]);

/**
 * True when `error` (or an error it wraps) says the database could not be reached or did not
 * answer in time: the request may succeed when retried, so it is answered as UNAVAILABLE (503),
 * never as an internal error.
 */
export function isStoreUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (!(current instanceof MongoError) && typeof code === "string" && socketErrorCodes.has(code))
      return true;
    if (
      current instanceof MongoNetworkError ||
      current instanceof MongoServerSelectionError ||
      current instanceof MongoTopologyClosedError
    ) {
      return true;
    }
    if (current instanceof MongoServerError && transientServerCodes.has(Number(current.code))) {
      return true;
    }
    // The pool's errors are not exported by the driver; their names mark them.
    if (current instanceof MongoError && poolErrorNames.has(current.name)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
