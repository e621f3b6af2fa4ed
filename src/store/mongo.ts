import { type Collection, type Db, MongoClient, type MongoClientOptions } from "mongodb";
import type { Logger } from "../observability/logger.js";
import { type CollectionDocuments, collectionNames, indexDeclarations } from "./schema.js";

export type Collections = {
  readonly [Name in keyof CollectionDocuments]: Collection<CollectionDocuments[Name]>;
};

export interface Store {
  readonly client: MongoClient;
  readonly db: Db;
  readonly collections: Collections;
  /**
   * Resolves when the server answers a ping within the readiness bound; rejects otherwise, even
   * while the server hangs (used by /readyz, which must answer quickly).
   */
  ping(): Promise<void>;
  /** Creates every declared index; safe to run at every start (createIndexes is idempotent). */
  ensureIndexes(): Promise<void>;
  close(): Promise<void>;
}

export interface StoreOptions {
  readonly uri: string;
  readonly dbName: string;
  readonly logger?: Logger;
  readonly clientOptions?: MongoClientOptions;
  /**
   * Time limits (the server passes the configured ones). Without `operationMs` round trips are
   * unbounded and selection waits 10 s, the driver's behaviour that seed scripts and test
   * fixtures with long bulk loads rely on.
   */
  readonly timeouts?: Partial<StoreTimeouts>;
}

export interface StoreTimeouts {
  /** A round trip that takes longer fails and its connection is closed (`socketTimeoutMS`). */
  readonly operationMs: number;
  /** How long an operation waits for a reachable server (`serverSelectionTimeoutMS`). */
  readonly serverSelectionMs: number;
  /** Bound of `ping()`. */
  readonly pingMs: number;
}

/** Connects with the official driver: the same code runs against the embedded store and MongoDB. */
export async function connectStore(options: StoreOptions): Promise<Store> {
  const operationMs = options.timeouts?.operationMs;
  const serverSelectionMs = options.timeouts?.serverSelectionMs ?? 10_000;
  const pingMs = options.timeouts?.pingMs ?? 1_500;
  // A stalled or vanished database must turn into a quick, retryable failure instead of requests
  // hanging for the driver's defaults (30 s selection, no socket timeout). Driver v7 has no
  // client-wide operation timeout (`timeoutMS` is ignored), so every round trip is bounded by the
  // socket timeout, and waiting for a server or a pooled connection by the selection timeout.
  const client = new MongoClient(options.uri, {
    appName: "loopgate",
    serverSelectionTimeoutMS: serverSelectionMs,
    ...(options.timeouts?.serverSelectionMs ? { waitQueueTimeoutMS: serverSelectionMs } : {}),
    ...(operationMs
      ? {
          socketTimeoutMS: operationMs,
          // Also bounds the monitor's heartbeat: were it shorter than the longest legitimate
          // operation, a busy embedded store (one thread) would be declared down and every
          // in-flight operation cut.
          connectTimeoutMS: operationMs,
        }
      : {}),
    // Notices a recovered server quickly once it answers again.
    heartbeatFrequencyMS: 2_000,
    // Command events feed the latency histogram and the database spans (observability/).
    monitorCommands: true,
    ...options.clientOptions,
  });
  await client.connect();
  const db = client.db(options.dbName);
  const collections = Object.fromEntries(
    collectionNames.map((name) => [name, db.collection(name)]),
  ) as unknown as Collections;

  return {
    client,
    db,
    collections,
    async ping() {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the database did not answer a ping within ${pingMs} ms`)),
          pingMs,
        );
      });
      try {
        await Promise.race([db.command({ ping: 1 }), bound]);
      } finally {
        clearTimeout(timer);
      }
    },
    async ensureIndexes() {
      for (const name of collectionNames) {
        const declared = indexDeclarations[name];
        if (declared.length === 0) continue;
        await db.collection(name).createIndexes([...declared]);
      }
      options.logger?.debug({ collections: collectionNames.length }, "indexes ensured");
    },
    async close() {
      await client.close();
    },
  };
}
