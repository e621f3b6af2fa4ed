import { createHmac } from "node:crypto";

export interface Pseudonymizer {
  /** A stable, keyed pseudonym: the same user always maps to the same value under one secret,
   * and without the secret the raw id cannot be recovered or confirmed by guessing. */
  pseudonymize(userId: string): string;
  /**
   * For identifiers that are usually opaque but sometimes carry PII (session ids built from an
   * email): a keyed pseudonym when `containsPii`, the value itself otherwise. Distinct values stay
   * distinct, which redaction to a placeholder would not keep.
   */
  shieldIdentifier(value: string, containsPii: boolean): string;
}

export function createPseudonymizer(secret: string): Pseudonymizer {
  const hash = (domain: string, value: string) =>
    createHmac("sha256", secret).update(`${domain}:${value}`).digest("hex").slice(0, 32);
  return {
    pseudonymize: (userId) => `u_${hash("user", userId)}`,
    shieldIdentifier: (value, containsPii) =>
      containsPii ? `p_${hash("identifier", value)}` : value,
  };
}
