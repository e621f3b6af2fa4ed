import { createRequire } from "node:module";
import type { Clock } from "./clock.js";
import type { Store } from "./store/mongo.js";

const packageJson = createRequire(import.meta.url)("../package.json") as { version: string };

export interface ServerInfo {
  readonly version: string;
  readonly startedAt: Date;
  readonly storeKind: "embedded" | "mongodb";
}

export interface SystemService {
  info(): ServerInfo;
  /** Throws when the database does not answer. */
  checkReady(): Promise<void>;
}

export function createSystemService(deps: {
  store: Store;
  clock: Clock;
  storeKind: "embedded" | "mongodb";
  /** The embedded store's readiness (indexes rebuilt after a restart); absent for MongoDB. */
  storeReady?: (() => boolean) | undefined;
}): SystemService {
  const startedAt = deps.clock.now();
  return {
    info: () => ({
      version: packageJson.version,
      startedAt,
      storeKind: deps.storeKind,
    }),
    checkReady: async () => {
      if (deps.storeReady && !deps.storeReady()) {
        throw new Error("the embedded store is still loading its indexes");
      }
      await deps.store.ping();
    },
  };
}
