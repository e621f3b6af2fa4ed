import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Decimal128, Long, MongoClient, MongoServerError, ObjectId } from "mongodb";
import { afterEach, describe, expect, inject, it } from "vitest";
import { startEmbeddedMongo } from "../../src/store/embedded/index.js";
import { killProcess, spawnEmbeddedStore } from "../support/embedded-process.js";
import { useTestDatabase } from "../support/mongo.js";

// Not used for data here: it only makes this file follow the one-database-per-file rule.
useTestDatabase();

const embedded = inject("embedded");

// Resources of the running test, released in reverse order even when an assertion fails.
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0)
    await cleanups
      .pop()?.()
      .catch(() => undefined);
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "loopgate-persist-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function connect(uri: string): Promise<MongoClient> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  await client.connect();
  cleanups.push(() => client.close(true));
  return client;
}

interface Item {
  _id: number;
  email: string;
  n: number;
  at: Date;
  big: Long;
  price: Decimal128;
  tags: string[];
  note?: string;
}

function item(i: number): Item {
  return {
    _id: i,
    email: `user${i}@example.com`,
    n: i,
    at: new Date(Date.UTC(2025, 0, 1) + i * 60_000),
    big: Long.fromString(`90071992547409${String(i).padStart(2, "0")}`),
    price: Decimal128.fromString(`${i}.10`),
    tags: i % 2 === 0 ? ["even"] : ["odd", "x"],
  };
}

describe.skipIf(!embedded)("persistence of the embedded store", () => {
  it("keeps data and indexes across close() and a restart on the same dbPath", async () => {
    const dbPath = await tempDir();
    const first = await startEmbeddedMongo({ port: 0, dbPath });
    cleanups.push(() => first.close());
    expect(first.host).toBe("127.0.0.1");
    expect(first.uri).toBe(`mongodb://127.0.0.1:${first.port}`);
    expect(first.dbPath).toBe(dbPath);

    const expected = new Map<number, Item>();
    {
      const client = await connect(first.uri);
      const items = client.db("persist").collection<Item>("items");
      await items.createIndex({ email: 1 }, { unique: true });
      await items.createIndex({ at: 1 }, { expireAfterSeconds: 86_400 * 365 * 100 });
      await items.createIndex({ n: -1, tags: 1 }, { name: "n_tags" });
      const docs = Array.from({ length: 300 }, (_, i) => item(i));
      await items.insertMany(docs);
      for (const d of docs) expected.set(d._id, d);
      await items.updateMany({ n: { $lt: 50 } }, { $set: { note: "early" } });
      for (const d of docs) if (d.n < 50) d.note = "early";
      await items.deleteMany({ n: { $gte: 250 } });
      for (const id of [...expected.keys()]) if (id >= 250) expected.delete(id);
      await client.db("persist_other").collection("log").insertOne({ _id: new ObjectId(), x: 1 });
      await client.close();
    }
    await first.close();
    await first.close(); // idempotent

    const second = await startEmbeddedMongo({ port: 0, dbPath });
    cleanups.push(() => second.close());
    const client = await connect(second.uri);
    const items = client.db("persist").collection<Item>("items");
    const stored = await items.find({}, { promoteLongs: false }).sort({ _id: 1 }).toArray();
    expect(stored).toEqual([...expected.values()].sort((a, b) => a._id - b._id));

    const indexes = await items.listIndexes().toArray();
    expect(indexes.map((ix) => ix.name).sort()).toEqual(["_id_", "at_1", "email_1", "n_tags"]);
    expect(indexes.find((ix) => ix.name === "email_1")).toMatchObject({
      key: { email: 1 },
      unique: true,
    });
    expect(indexes.find((ix) => ix.name === "at_1")).toMatchObject({
      expireAfterSeconds: 86_400 * 365 * 100,
    });
    expect(indexes.find((ix) => ix.name === "n_tags")?.key).toEqual({ n: -1, tags: 1 });

    const dup = await items.insertOne({ ...item(999), email: "user1@example.com" }).catch((e) => e);
    expect(dup).toBeInstanceOf(MongoServerError);
    expect((dup as MongoServerError).code).toBe(11000);

    const dbs = (await client.db().admin().listDatabases()).databases.map((d) => d.name);
    expect(dbs).toEqual(expect.arrayContaining(["persist", "persist_other"]));
    expect(await client.db("persist_other").collection("log").countDocuments()).toBe(1);
  }, 120_000);

  it("keeps every acknowledged write when the process is killed with SIGKILL", async () => {
    const dbPath = await tempDir();
    const first = await spawnEmbeddedStore(dbPath);
    cleanups.push(() => killProcess(first.child));
    expect(first.uri).toMatch(/^mongodb:\/\/127\.0\.0\.1:\d+$/);

    const expected = new Map<number, Item>();
    const client = await connect(first.uri);
    const items = client.db("killed").collection<Item>("items");
    await items.createIndex({ email: 1 }, { unique: true });

    // One acknowledged write after another, each mirrored into `expected` once acknowledged.
    for (let i = 0; i < 150; i++) {
      await items.insertOne(item(i));
      expected.set(i, item(i));
    }
    const batch = Array.from({ length: 500 }, (_, k) => item(150 + k));
    await items.insertMany(batch);
    for (const d of batch) expected.set(d._id, d);
    for (let i = 0; i < 650; i += 3) {
      await items.updateOne({ _id: i }, { $inc: { n: 1000 }, $set: { note: "bumped" } });
      const d = expected.get(i)!;
      d.n += 1000;
      d.note = "bumped";
    }
    await items.updateMany({ _id: { $gte: 600 } }, { $push: { tags: "late" } });
    for (const d of expected.values()) if (d._id >= 600) d.tags.push("late");
    for (let i = 1; i < 650; i += 7) {
      await items.deleteOne({ _id: i });
      expected.delete(i);
    }
    await items.deleteMany({ _id: { $gte: 640 } });
    for (const id of [...expected.keys()]) if (id >= 640) expected.delete(id);
    await items.replaceOne({ _id: 2 }, { ...item(2), email: "replaced@example.com" });
    expected.set(2, { ...item(2), email: "replaced@example.com" });
    // Concurrent writes too: all of them are acknowledged before the kill.
    await Promise.all(
      Array.from({ length: 50 }, (_, k) => {
        const d = item(1000 + k);
        expected.set(d._id, d);
        return items.insertOne(d);
      }),
    );
    await items.updateOne({ _id: 0 }, { $set: { note: "last write" } });
    expected.get(0)!.note = "last write";

    await killProcess(first.child, "SIGKILL");
    expect(first.child.signalCode).toBe("SIGKILL");
    await client.close(true);

    const second = await spawnEmbeddedStore(dbPath);
    cleanups.push(() => killProcess(second.child));
    const after = await connect(second.uri);
    const stored = await after
      .db("killed")
      .collection<Item>("items")
      .find({}, { promoteLongs: false })
      .sort({ _id: 1 })
      .toArray();
    const want = [...expected.values()].sort((a, b) => a._id - b._id);
    expect(stored.length).toBe(want.length);
    expect(stored).toEqual(want);

    const dup = await after
      .db("killed")
      .collection<Item>("items")
      .insertOne({ ...item(5000), email: "replaced@example.com" })
      .catch((e) => e);
    expect((dup as MongoServerError).code).toBe(11000);
  }, 180_000);
});
