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
  /** Resolves when the server answers a ping; used by /readyz. */
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
}

/** Connects with the official driver: the same code runs against the embedded store and MongoDB. */
export async function connectStore(options: StoreOptions): Promise<Store> {
  const client = new MongoClient(options.uri, {
    appName: "loopgate",
    serverSelectionTimeoutMS: 10_000,
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
      await db.command({ ping: 1 });
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
