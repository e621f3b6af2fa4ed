import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import pino from "pino";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedMongo } from "../../src/store/embedded/index.js";
import { registerEmbeddedStoreMetrics } from "../../src/store/embedded/metrics.js";

// Documents live in SQLite behind a bounded cache; indexes are rebuilt at start while the
// store holds commands (but answers handshakes) until it is ready.
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
  it("holds commands until indexes are rebuilt, then answers them from SQLite", async () => {
    const dbPath = join(dir, "r");
    const first = await startEmbeddedMongo({ port: 0, dbPath });
    const c1 = await MongoClient.connect(first.uri);
    await c1.db("b").collection("c").createIndex({ key: 1 });
    await c1.db("b").collection<(typeof docs)[number]>("c").insertMany(docs);
    await c1.close();
    await first.close();

    // Yield after every page, so loading spans several event-loop turns.
    const store = await startEmbeddedMongo({ port: 0, dbPath, loadSliceMs: 0 });
    const client = new MongoClient(store.uri, { serverSelectionTimeoutMS: 10_000 });
    try {
      expect(store.isReady()).toBe(false);
      expect(store.stats().ready).toBe(false);
      // The handshake is answered while loading; the count waits for the indexes.
      await client.connect();
      const counted = client.db("b").collection("c").countDocuments({ group: 3 });
      const found = client.db("b").collection("c").findOne({ key: "k1234" });
      await store.ready;
      expect(store.isReady()).toBe(true);
      expect(await counted).toBe(docs.filter((d) => d.group === 3).length);
      expect(await found).toEqual(docs[1234]);
      const plan = await client
        .db("b")
        .collection("c")
        .find({ key: "k77" })
        .explain("queryPlanner");
      expect(JSON.stringify(plan.queryPlanner.winningPlan)).toContain("key_1");
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
      await coll.findOne({ _id: 3 });
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
