import type { Clock } from "./clock.js";
import type { Logger } from "./observability/logger.js";
import type { Services } from "./services.js";
import type { Loaders } from "./store/loaders.js";

export type Scope = "ingest" | "read" | "admin";
export const allScopes: readonly Scope[] = ["ingest", "read", "admin"];

/** Who is calling. Resolved once per request from the Authorization header. */
export type Principal =
  | { readonly kind: "anonymous"; readonly scopes: ReadonlySet<Scope> }
  | {
      readonly kind: "apiKey";
      readonly scopes: ReadonlySet<Scope>;
      readonly keyId: string;
      readonly keyName: string;
    }
  | {
      readonly kind: "feedbackToken";
      readonly scopes: ReadonlySet<Scope>;
      /** The only interaction this credential may give feedback on. */
      readonly interactionId: string;
      /** The interaction's pseudonymous user, who becomes the feedback's author. */
      readonly userId?: string;
      readonly expiresAt: Date;
    };

export const anonymous: Principal = { kind: "anonymous", scopes: new Set() };

/** What every resolver receives. Built fresh per request, so loaders never leak across requests. */
export interface RequestContext {
  readonly requestId: string;
  readonly logger: Logger;
  readonly principal: Principal;
  readonly clock: Clock;
  readonly services: Services;
  readonly loaders: Loaders;
}
