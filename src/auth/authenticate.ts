import { anonymous, type Principal, type Scope } from "./actor.js";
import type { ApiKeyService } from "./api-keys.js";
import { FEEDBACK_TOKEN_PREFIX, type FeedbackTokens } from "./feedback-tokens.js";

/** A credential was presented but is not valid (unknown, revoked, forged, tampered or expired). */
export class AuthenticationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AuthenticationError";
  }
}

export type Authenticator = (headers: Headers) => Promise<Principal>;

/** Reads `Authorization: Bearer <credential>` (or `X-Api-Key`): an API key or a feedback token. */
export function createAuthenticator(deps: {
  apiKeys: ApiKeyService;
  tokens: FeedbackTokens;
}): Authenticator {
  return async (headers) => {
    const authorization = headers.get("authorization");
    const bearer = authorization?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
    if (authorization && !bearer) {
      throw new AuthenticationError("the Authorization header must be 'Bearer <credential>'");
    }
    const credential = bearer ?? headers.get("x-api-key")?.trim();
    if (!credential) return anonymous;

    if (credential.startsWith(FEEDBACK_TOKEN_PREFIX)) {
      const claims = deps.tokens.verify(credential);
      if (!claims) throw new AuthenticationError("the feedback token is invalid or has expired");
      return {
        kind: "feedbackToken",
        scopes: new Set<Scope>(),
        interactionId: claims.interactionId,
        ...(claims.userId ? { userId: claims.userId } : {}),
        expiresAt: claims.expiresAt,
      };
    }
    const apiKey = await deps.apiKeys.authenticate(credential);
    if (!apiKey) throw new AuthenticationError("the API key is unknown or has been revoked");
    return {
      kind: "apiKey",
      scopes: new Set(apiKey.scopes),
      keyId: apiKey._id,
      keyName: apiKey.name,
    };
  };
}
