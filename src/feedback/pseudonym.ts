import { createHmac } from "node:crypto";

export interface Pseudonymizer {
  /** A stable, keyed pseudonym: the same user always maps to the same value under one secret,
   * and without the secret the raw id cannot be recovered or confirmed by guessing. */
  pseudonymize(userId: string): string;
}

export function createPseudonymizer(secret: string): Pseudonymizer {
  return {
    pseudonymize: (userId) =>
      `u_${createHmac("sha256", secret).update(`user:${userId}`).digest("hex").slice(0, 32)}`,
  };
}
