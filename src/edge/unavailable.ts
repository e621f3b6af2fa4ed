import { GraphQLError } from "graphql";

/** What clients are told to wait before retrying while the database is unreachable. */
export const STORE_RETRY_AFTER_SECONDS = 5;

/**
 * The one answer to a database outage or stall: code UNAVAILABLE with a retry hint. When it leaves
 * the response without data the HTTP status is 503 with `Retry-After` (see `resultStatusPlugin`).
 * A write that timed out may still have been applied; retrying with the same idempotency key is
 * safe, so the message says so.
 */
export function storeUnavailableError(requestId: string | undefined): GraphQLError {
  return new GraphQLError(
    `The database is unavailable or did not answer in time; retry after ${STORE_RETRY_AFTER_SECONDS} s (retrying a write with the same idempotencyKey never duplicates it).`,
    {
      extensions: {
        code: "UNAVAILABLE",
        retryAfterSeconds: STORE_RETRY_AFTER_SECONDS,
        requestId,
        http: { status: 503, headers: { "Retry-After": String(STORE_RETRY_AFTER_SECONDS) } },
      },
    },
  );
}
