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
