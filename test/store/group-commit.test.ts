import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { afterEach, describe, expect, it } from "vitest";
import { startEmbeddedMongo } from "../../src/store/embedded/index.js";
import { type StoreProcess, spawnStoreCli, stopProcess } from "./embedded-helpers.js";

/**
 * Group commit: writes that arrive together share one SQLite transaction (one fsync), each is
 * answered only after that commit, a failing write in a group undoes only itself, and every
 * acknowledged write of a concurrent burst survives kill -9.
 */

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length)
    await cleanups
      .pop()?.()
      .catch(() => undefined);
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "loopgate-group-commit-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function connect(uri: string, maxPoolSize = 32): Promise<MongoClient> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000, maxPoolSize });
  await client.connect();
  cleanups.push(() => client.close(true));
  return client;
}

async function cli(dbPath: string): Promise<StoreProcess> {
  const proc = await spawnStoreCli(dbPath);
  cleanups.push(() => stopProcess(proc.child, "SIGKILL"));
  return proc;
}

describe("group commit", () => {
  it("commits a concurrent burst in fewer transactions than writes, each acknowledged write stored", async () => {
    const dbPath = await tempDir();
    const store = await startEmbeddedMongo({ port: 0, dbPath });
    cleanups.push(() => store.close());
    const client = await connect(store.uri);
    const items = client.db("burst").collection<{ _id: number }>("items");
    await items.insertOne({ _id: -1 });
    // Warm the pool so the burst's writes travel on many connections at once.
    await Promise.all(Array.from({ length: 32 }, () => items.findOne({ _id: -1 })));
    const before = store.stats().commits;

    await Promise.all(Array.from({ length: 400 }, (_, i) => items.insertOne({ _id: i })));

    const after = store.stats().commits;
    const writes = after.writes - before.writes;
    const groups = after.groups - before.groups;
    expect(writes).toBe(400);
    // Writes that arrived together shared commits (one fsync each group).
    expect(groups).toBeLessThan(writes);
    expect(await items.countDocuments()).toBe(401);

    // And they are durable: a restart on the same files finds every one.
    await client.close(true);
    await store.close();
    const again = await startEmbeddedMongo({ port: 0, dbPath });
    cleanups.push(() => again.close());
    const reread = await connect(again.uri);
    expect(await reread.db("burst").collection("items").countDocuments()).toBe(401);
  }, 60_000);

  it("a failing write undoes only itself, not the writes committed with it", async () => {
    const dbPath = await tempDir();
    const store = await startEmbeddedMongo({ port: 0, dbPath });
    cleanups.push(() => store.close());
    const client = await connect(store.uri);
    const db = client.db("savepoints");
    const items = db.collection<{ _id: number }>("items");
    await items.insertOne({ _id: -1 });
    await Promise.all(Array.from({ length: 32 }, () => items.findOne({ _id: -1 })));

    // createIndexes on a new collection creates it, then refuses the second index (same name,
    // other key): the command fails as a whole, and its collection must not remain.
    const failing = () =>
      db.command({
        createIndexes: "broken",
        indexes: [
          { key: { a: 1 }, name: "dup" },
          { key: { b: 1 }, name: "dup" },
        ],
      });
    const results = await Promise.allSettled([
      ...Array.from({ length: 50 }, (_, i) => items.insertOne({ _id: i })),
      failing(),
      ...Array.from({ length: 50 }, (_, i) => items.insertOne({ _id: 50 + i })),
      failing(),
    ]);
    const rejected = results.filter((r) => r.status === "rejected");
    expect(rejected).toHaveLength(2);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(100);

    const check = async (c: MongoClient) => {
      const d = c.db("savepoints");
      expect(await d.collection("items").countDocuments()).toBe(101);
      expect(await d.listCollections({ name: "broken" }).toArray()).toEqual([]);
    };
    await check(client);
    await client.close(true);
    await store.close();
    const again = await startEmbeddedMongo({ port: 0, dbPath });
    cleanups.push(() => again.close());
    await check(await connect(again.uri));
  }, 60_000);

  it("every acknowledged write of a concurrent burst survives kill -9", async () => {
    const dir = await tempDir();
    const first = await cli(dir);
    const client = await connect(first.uri, 64);
    const items = client.db("burst").collection<{ _id: number; payload: string }>("items");
    await items.insertOne({ _id: -1, payload: "warm" });
    await Promise.all(Array.from({ length: 64 }, () => items.findOne({ _id: -1 })));

    const acknowledged: number[] = [];
    let killed = false;
    const total = 5_000;
    let next = 0;
    // 64 writers keep the store busy; the process is killed mid-burst, without any warning.
    const writer = async () => {
      while (!killed && next < total) {
        const id = next++;
        try {
          await items.insertOne({ _id: id, payload: `item ${id}`.padEnd(200, ".") });
          acknowledged.push(id);
        } catch {
          return;
        }
        if (acknowledged.length >= 800 && !killed) {
          killed = true;
          first.child.kill("SIGKILL");
        }
      }
    };
    await Promise.all(Array.from({ length: 64 }, writer));
    expect(await stopProcess(first.child, "SIGKILL")).toBeNull();
    await client.close(true);
    expect(acknowledged.length).toBeGreaterThanOrEqual(800);

    const second = await cli(dir);
    const again = await connect(second.uri);
    const stored = new Set(
      (await again.db("burst").collection<{ _id: number }>("items").find().toArray()).map(
        (d) => d._id,
      ),
    );
    const lost = acknowledged.filter((id) => !stored.has(id));
    expect(lost).toEqual([]);
  }, 120_000);
});
