import { randomBytes } from "node:crypto";
import { type Db, MongoClient, type MongoClientOptions } from "mongodb";
import { afterAll, beforeAll, inject } from "vitest";

export interface TestDatabase {
  readonly client: MongoClient;
  readonly db: Db;
  readonly uri: string;
  readonly name: string;
  /** False when the suite runs against a real MongoDB (TEST_MONGODB_URI). */
  readonly embedded: boolean;
}

/** A database name no other test file uses; real servers limit names to 63 bytes. */
export function uniqueDbName(prefix = "t"): string {
  return `${prefix}_${randomBytes(6).toString("hex")}`;
}

/**
 * Connects once per test file to the shared store, gives the file its own database and drops it
 * afterwards, so files never see each other's data.
 */
export function useTestDatabase(options: MongoClientOptions = {}, prefix = "t"): TestDatabase {
  const uri = inject("mongoUri");
  const embedded = inject("embedded");
  const name = uniqueDbName(prefix);
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000, ...options });
  const handle: TestDatabase = { client, db: client.db(name), uri, name, embedded };
  beforeAll(async () => {
    await client.connect();
  });
  afterAll(async () => {
    await client.db(name).dropDatabase();
    await client.close();
  });
  return handle;
}
