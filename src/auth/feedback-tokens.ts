import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { ObjectId } from "mongodb";
import { z } from "zod";
import type { Clock } from "../clock.js";
import { hexToObjectId } from "../ids.js";

/**
 * Short-lived, signed, browser-safe credentials bound to one interaction (Loopgate's version of
 * LangSmith's presigned feedback tokens). Stateless: an HMAC over the claims, so verifying one
 * costs no database round trip and any instance sharing LOOPGATE_SECRET accepts it.
 */
export interface FeedbackTokenClaims {
  readonly interactionId: ObjectId;
  /** The interaction's pseudonymous user, who becomes the feedback's author. */
  readonly userId?: string;
  readonly expiresAt: Date;
}

export interface FeedbackTokens {
  issue(claims: { interactionId: ObjectId; userId?: string; ttlSeconds?: number }): {
    token: string;
    expiresAt: Date;
  };
  /** The claims, or null when the token is malformed, forged, tampered with or expired. */
  verify(token: string): FeedbackTokenClaims | null;
}

export const FEEDBACK_TOKEN_PREFIX = "lgt_";

const payloadSchema = z.object({
  v: z.literal(1),
  iid: z.string().min(1),
  uid: z.string().optional(),
  exp: z.number().int(),
  jti: z.string(),
});

export function createFeedbackTokens(deps: {
  secret: string;
  clock: Clock;
  defaultTtlSeconds: number;
}): FeedbackTokens {
  // A key derived for this one purpose, so a token signature can never double as anything else.
  const key = createHmac("sha256", deps.secret).update("loopgate feedback token v1").digest();
  const sign = (payload: string) => createHmac("sha256", key).update(payload).digest();

  return {
    issue({ interactionId, userId, ttlSeconds }) {
      const nowSeconds = Math.floor(deps.clock.now().getTime() / 1000);
      const exp = nowSeconds + (ttlSeconds ?? deps.defaultTtlSeconds);
      const payload = Buffer.from(
        JSON.stringify({
          v: 1,
          iid: interactionId.toHexString(),
          ...(userId ? { uid: userId } : {}),
          exp,
          jti: randomBytes(9).toString("base64url"),
        }),
      ).toString("base64url");
      const token = `${FEEDBACK_TOKEN_PREFIX}${payload}.${sign(payload).toString("base64url")}`;
      return { token, expiresAt: new Date(exp * 1000) };
    },
    verify(token) {
      if (!token.startsWith(FEEDBACK_TOKEN_PREFIX)) return null;
      const [payload, signature, ...rest] = token.slice(FEEDBACK_TOKEN_PREFIX.length).split(".");
      if (!payload || !signature || rest.length > 0) return null;
      // Compared as text in the canonical encoding: decoding first would accept other spellings of
      // the same bytes (base64url's last character carries unused bits), i.e. altered tokens.
      const expected = Buffer.from(sign(payload).toString("base64url"));
      const given = Buffer.from(signature);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
      let claims: z.infer<typeof payloadSchema>;
      try {
        claims = payloadSchema.parse(
          JSON.parse(Buffer.from(payload, "base64url").toString("utf8")),
        );
      } catch {
        return null;
      }
      if (claims.exp * 1000 <= deps.clock.now().getTime()) return null;
      const interactionId = hexToObjectId(claims.iid);
      if (!interactionId) return null;
      return {
        interactionId,
        ...(claims.uid ? { userId: claims.uid } : {}),
        expiresAt: new Date(claims.exp * 1000),
      };
    },
  };
}
