import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedMongo, startEmbeddedMongo } from "../../src/store/embedded/index.js";
import { fingerprint, MigrationError, migrate } from "../../src/store/embedded/migrate.js";
import {
  type EmbeddedProcess,
  killProcess,
  spawnEmbeddedStore,
} from "../support/embedded-process.js";

// The move to MongoDB, into a second embedded store started as a separate server.
let dir: string;
let sourceStore: EmbeddedMongo;
let targetProcess: EmbeddedProcess;
let source: MongoClient;
let target: MongoClient;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "loopgate-migrate-"));
  sourceStore = await startEmbeddedMongo({ port: 0, dbPath: join(dir, "source") });
  targetProcess = await spawnEmbeddedStore(join(dir, "target"));
  source = await MongoClient.connect(sourceStore.uri);
  target = await MongoClient.connect(targetProcess.uri);
  const feedback = source.db("loopgate").collection<{ _id: number }>("feedback");
  await feedback.createIndex({ interactionId: 1, createdAt: -1 });
  await feedback.createIndex({ key: 1 }, { unique: true, name: "key_unique" });
  await feedback.insertMany(
    Array.from({ length: 2_500 }, (_, i) => ({
      _id: i,
      key: `k${i}`,
      interactionId: `int${i % 50}`,
      createdAt: new Date(Date.UTC(2026, 0, 1) + i * 1000),
      rating: i % 5,
    })),
  );
  await source
    .db("other")
    .collection("keys")
    .insertMany([{ name: "a" }, { name: "b" }]);
}, 120_000);

afterAll(async () => {
  await source?.close();
  await target?.close();
  await sourceStore?.close();
  if (targetProcess) await killProcess(targetProcess.child, "SIGTERM");
  await rm(dir, { recursive: true, force: true });
});

describe("migrate", () => {
  it("resumes an interrupted run and verifies counts, checksums and indexes", async () => {
    const progressFile = join(dir, "progress.json");
    const first = await migrate({
      source,
      target,
      progressFile,
      batchSize: 500,
      stopAfterBatches: 2,
    });
    expect(first.complete).toBe(false);
    expect(await target.db("loopgate").collection("feedback").countDocuments()).toBe(1_000);

    const seen: number[] = [];
    const second = await migrate({
      source,
      target,
      progressFile,
      batchSize: 500,
      onProgress: (p) => seen.push(p.copied),
    });
    expect(second.complete).toBe(true);
    expect(seen[0]).toBe(1_500);
    const byNs = Object.fromEntries(second.collections.map((c) => [c.ns, c]));
    expect(byNs["loopgate.feedback"]?.documents).toBe(2_500);
    expect(byNs["other.keys"]?.documents).toBe(2);
    for (const [db, coll] of [
      ["loopgate", "feedback"],
      ["other", "keys"],
    ] as const) {
      expect(await fingerprint(target, db, coll)).toEqual(await fingerprint(source, db, coll));
    }
    const indexes = await target.db("loopgate").collection("feedback").listIndexes().toArray();
    expect(indexes.map((ix) => ix.name).sort()).toEqual(
      ["_id_", "interactionId_1_createdAt_-1", "key_unique"].sort(),
    );
    expect(indexes.find((ix) => ix.name === "key_unique")?.unique).toBe(true);
  }, 120_000);

  it("refuses a non-empty target unless forced", async () => {
    const progressFile = join(dir, "fresh-progress.json");
    await expect(migrate({ source, target, progressFile })).rejects.toBeInstanceOf(MigrationError);
    await target.db("other").collection("keys").insertOne({ name: "extra" });
    const forced = await migrate({ source, target, progressFile, force: true });
    expect(forced.complete).toBe(true);
    expect(await target.db("other").collection("keys").countDocuments()).toBe(2);
  }, 120_000);
});
