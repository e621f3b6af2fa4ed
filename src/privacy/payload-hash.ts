import { createHmac } from "node:crypto";
import { stringify } from "safe-stable-stringify";

/**
 * Fingerprint of a validated input, independent of key order, so a retried request with the same
 * idempotency key is recognised and a different payload under a reused key is refused. Keyed with
 * the instance secret: the input holds the raw user id and unredacted text, and a plain hash would
 * let anyone who can read the database confirm a guess of either.
 */
export type PayloadHasher = (value: unknown) => string;

export function createPayloadHasher(secret: string): PayloadHasher {
  const key = createHmac("sha256", secret).update("loopgate payload fingerprint v1").digest();
  return (value) =>
    createHmac("sha256", key)
      .update(stringify(value) ?? "")
      .digest("base64url");
}
