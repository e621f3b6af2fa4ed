import { createHash } from "node:crypto";
import { stringify } from "safe-stable-stringify";

/**
 * Fingerprint of a validated input, independent of key order, so a retried request with the same
 * idempotency key is recognised and a different payload under a reused key is refused.
 */
export function payloadHash(value: unknown): string {
  return createHash("sha256")
    .update(stringify(value) ?? "")
    .digest("base64url");
}
