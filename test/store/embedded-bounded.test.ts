import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { MongoClient } from "mongodb";
import pino from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedMongo } from "../../src/store/embedded/index.js";
import { registerEmbeddedStoreMetrics } from "../../src/store/embedded/metrics.js";
import { STORE_FILE } from "../../src/store/embedded/storage.js";

// Documents and indexes (regular and text) live in SQLite (documents behind a bounded cache),
// so a restart reads nothing; a data directory from before index tables gets them built at its
// first start, while the store holds commands (but answers handshakes) until it is ready.
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "loopgate-bounded-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const COUNT = 4_000;
const docs = Array.from({ length: COUNT }, (_, i) => ({
  _id: i,
  key: `k${i}`,
  group: i % 7,
  text: "x".repeat(200),
}));

describe("bounded document cache", () => {
  it("answers every document correctly while holding at most its budget", async () => {
    const budgetMb = 0.25;
    const store = await startEmbeddedMongo({ port: 0, dbPath: join(dir, "a"), cacheMb: budgetMb });
    const client = await MongoClient.connect(store.uri);
    try {
      const coll = client.db("b").collection<(typeof docs)[number]>("c");
      await coll.createIndex({ key: 1 });
      await coll.insertMany(docs);
      for (let i = 0; i < COUNT; i += 37) {
        expect(await coll.findOne({ key: `k${i}` })).toEqual(docs[i]);
        expect(await coll.findOne({ _id: i })).toEqual(docs[i]);
        // An exclusion works on the decoded document (through the cache); without a projection
        // (or with one of top-level inclusions) the stored bytes are sent as they are.
        expect(await coll.findOne({ _id: i }, { projection: { text: 0 } })).toEqual({
          _id: i,
          key: `k${i}`,
          group: i % 7,
        });
        expect(await coll.findOne({ _id: i }, { projection: { key: 1 } })).toEqual({
          _id: i,
          key: `k${i}`,
        });
      }
      const grouped = await coll
        .aggregate([{ $group: { _id: "$group", n: { $sum: 1 } } }, { $sort: { _id: 1 } }])
        .toArray();
      expect(grouped.map((g) => g.n)).toEqual(
        [0, 1, 2, 3, 4, 5, 6].map((g) => docs.filter((d) => d.group === g).length),
      );
      const stats = store.stats();
      expect(stats.cache.bytes).toBeLessThanOrEqual(budgetMb * 1024 * 1024);
      expect(stats.cache.entries).toBeLessThan(COUNT);
      expect(stats.cache.hits + stats.cache.misses).toBeGreaterThan(0);
      const c = stats.collections.find((x) => x.db === "b" && x.name === "c");
      expect(c?.documents).toBe(COUNT);
      expect(c?.dataBytes).toBeGreaterThan(COUNT * 200);
      expect(stats.fileBytes).toBeGreaterThan(COUNT * 200);
    } finally {
      await client.close();
      await store.close();
    }
  });
});

describe("readiness after a restart", () => {
  const seed = async (dbPath: string, extra: (c: MongoClient) => Promise<void>) => {
    const first = await startEmbeddedMongo({ port: 0, dbPath });
    const c1 = await MongoClient.connect(first.uri);
    await c1.db("b").collection("c").createIndex({ key: 1 });
    await c1.db("b").collection<(typeof docs)[number]>("c").insertMany(docs);
    await extra(c1);
    await c1.close();
    await first.close();
  };

  it("reads no documents to open: indexes (regular and text), counts and multikey flags live in SQLite", async () => {
    const dbPath = join(dir, "s");
    await seed(dbPath, async (c) => {
      const tags = c
        .db("b")
        .collection<{ _id: number; t: number | number[]; note: string }>("tags");
      await tags.createIndex({ t: 1 });
      await tags.createIndex({ note: "text" });
      await tags.insertMany([
        { _id: 1, t: [1, 10], note: "a red apple" },
        { _id: 2, t: 5, note: "green pears" },
      ]);
    });
    // Ready within one event-loop turn: it reads no rows.
    const store = await startEmbeddedMongo({ port: 0, dbPath, cacheMb: 1 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(store.isReady()).toBe(true);
    const client = await MongoClient.connect(store.uri);
    try {
      const before = store.stats().cache;
      const c = store.stats().collections.find((x) => x.name === "c");
      expect(c?.documents).toBe(COUNT);
      expect(c?.dataBytes).toBeGreaterThan(COUNT * 200);
      expect(before.hits + before.misses).toBe(0);
      const coll = client.db("b").collection<(typeof docs)[number]>("c");
      expect(await coll.findOne({ key: "k1234" })).toEqual(docs[1234]);
      const plan = await coll.find({ key: "k77" }).explain("executionStats");
      expect(JSON.stringify(plan.queryPlanner.winningPlan)).toContain("key_1");
      expect(plan.executionStats.totalDocsExamined).toBe(1);
      // The multikey flag survived: both bounds may be met by different elements of t.
      const tags = client.db("b").collection("tags");
      const found = await tags
        .find({ t: { $gt: 3, $lt: 7 } })
        .sort({ _id: 1 })
        .toArray();
      expect(found.map((d) => d._id)).toEqual([1, 2]);
      // The text index is a table too: searchable at once.
      const apples = await tags.find({ $text: { $search: "apple" } }).toArray();
      expect(apples.map((d) => d._id)).toEqual([1]);
    } finally {
      await client.close();
      await store.close();
    }
  });

  it("builds the index tables of a file written before they existed, once", async () => {
    const dbPath = join(dir, "u");
    await seed(dbPath, async (c) => {
      const notes = c.db("b").collection("notes");
      await notes.createIndex({ note: "text" });
      await notes.insertMany([{ note: "a red apple" }, { note: "green pears" }]);
    });
    // Turn the file into its pre-index-table shape: no index tables, no stored counts.
    const sqlite = new Database(join(dbPath, STORE_FILE));
    for (const { ix_id } of sqlite.prepare("SELECT ix_id FROM index_catalog").all() as {
      ix_id: number;
    }[]) {
      sqlite.exec(`DROP TABLE ix_${ix_id}`);
    }
    sqlite.exec(
      "DELETE FROM index_catalog; UPDATE catalog SET doc_count = NULL, data_bytes = NULL",
    );
    sqlite.close();
    // Building yields after every collection, so it spans several event-loop turns.
    const store = await startEmbeddedMongo({ port: 0, dbPath });
    const client = new MongoClient(store.uri, { serverSelectionTimeoutMS: 10_000 });
    try {
      expect(store.isReady()).toBe(false);
      // The handshake is answered while building; the commands wait for the indexes.
      await client.connect();
      const counted = client.db("b").collection("c").countDocuments({ group: 3 });
      const searched = client
        .db("b")
        .collection("notes")
        .countDocuments({ $text: { $search: "pears" } });
      await store.ready;
      expect(await counted).toBe(docs.filter((d) => d.group === 3).length);
      expect(await searched).toBe(1);
      expect(store.stats().collections.find((x) => x.name === "c")?.documents).toBe(COUNT);
      const coll = client.db("b").collection<(typeof docs)[number]>("c");
      const plan = await coll.find({ key: "k77" }).explain("executionStats");
      expect(plan.executionStats.totalDocsExamined).toBe(1);
      expect(await coll.findOne({ key: "k77" })).toEqual(docs[77]);
      expect(await coll.countDocuments({ _id: { $gte: 3990 } })).toBe(10);
      await expect(coll.insertOne(docs[5]!)).rejects.toThrow(/E11000/);
    } finally {
      await client.close();
      await store.close();
    }
  });
});

describe("metrics and the document budget", () => {
  it("exposes counts, sizes and the cache hit ratio, and warns once past the budget", async () => {
    const lines: { level: number; msg: string; documents?: number }[] = [];
    const logger = pino(
      { level: "info" },
      { write: (line: string) => lines.push(JSON.parse(line)) },
    );
    const store = await startEmbeddedMongo({
      port: 0,
      dbPath: join(dir, "m"),
      logger,
      budgetDocuments: 10,
    });
    const client = await MongoClient.connect(store.uri);
    try {
      const coll = client.db("m").collection<(typeof docs)[number]>("c");
      await coll.insertMany(docs.slice(0, 20));
      await coll.findOne({ _id: 3 }, { projection: { text: 0 } });
      store.checkBudget();
      store.checkBudget();
      const warnings = lines.filter((l) => l.level === 40 && /budget/.test(l.msg));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]?.documents).toBe(20);

      const registry = new Registry();
      registerEmbeddedStoreMetrics(registry, () => store.stats());
      const text = await registry.metrics();
      expect(text).toContain('loopgate_embedded_documents{db="m",collection="c"} 20');
      expect(text).toMatch(/loopgate_embedded_data_bytes\{db="m",collection="c"\} \d{4,}/);
      expect(text).toMatch(/^loopgate_embedded_file_bytes \d+$/m);
      const ratio = Number(text.match(/^loopgate_embedded_cache_hit_ratio (\S+)$/m)?.[1]);
      expect(ratio).toBeGreaterThan(0);
      expect(ratio).toBeLessThanOrEqual(1);
      expect(text).toContain("loopgate_embedded_ready 1");
    } finally {
      await client.close();
      await store.close();
    }
  });
});
