import type { Principal } from "./auth/actor.js";
import type { Clock } from "./clock.js";
import type { RequestClient } from "./feedback/client.js";
import type { Logger } from "./observability/logger.js";
import type { Services } from "./services.js";
import type { Loaders } from "./store/loaders.js";

/** What every resolver receives. Built fresh per request, so loaders never leak across requests. */
export interface RequestContext {
  readonly requestId: string;
  readonly logger: Logger;
  /** The credential of the request; resolvers hand services its Actor (auth/actor.ts). */
  readonly principal: Principal;
  readonly clock: Clock;
  readonly services: Services;
  readonly loaders: Loaders;
  /** The sender's address and user agent, for the pipeline's spam filter (feedback/client.ts). */
  readonly client: RequestClient;
}
