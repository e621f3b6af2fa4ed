import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Decimal128, Long, MongoClient } from "mongodb";
import { afterEach, describe, expect, it } from "vitest";
import { StoreLockedError, startEmbeddedMongo } from "../../src/store/embedded/index.js";
import { type StoreProcess, spawnStoreCli, stopProcess } from "./embedded-helpers.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length)
    await cleanups
      .pop()?.()
      .catch(() => undefined);
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "loopgate-embedded-proc-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function cli(dbPath: string): Promise<StoreProcess> {
  const proc = await spawnStoreCli(dbPath);
  cleanups.push(() => stopProcess(proc.child, "SIGKILL"));
  return proc;
}

async function connect(uri: string): Promise<MongoClient> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
  await client.connect();
  cleanups.push(() => client.close(true));
  return client;
}

describe("dbPath lock", () => {
  it("a second store on the same dbPath fails clearly until the first closes", async () => {
    const dir = await tempDir();
    const first = await startEmbeddedMongo({ port: 0, dbPath: dir });
    cleanups.push(() => first.close());
    const second = startEmbeddedMongo({ port: 0, dbPath: dir });
    await expect(second).rejects.toBeInstanceOf(StoreLockedError);
    await expect(second).rejects.toThrow(/already in use/);
    await first.close();
    const third = await startEmbeddedMongo({ port: 0, dbPath: dir });
    await third.close();
  });
});

describe("CLI process", () => {
  it("prints only its URI, survives kill -9 with every acknowledged write, and locks its dbPath", async () => {
    const dir = await tempDir();
    const first = await cli(dir);
    expect(first.uri).toMatch(/^mongodb:\/\/127\.0\.0\.1:\d+$/);

    // The running process holds the lock, across processes too.
    await expect(startEmbeddedMongo({ port: 0, dbPath: dir })).rejects.toBeInstanceOf(
      StoreLockedError,
    );

    const client = await connect(first.uri);
    const items = client
      .db("persist")
      .collection<{ _id: number; email: string; big: Long; price: Decimal128 }>("items");
    await items.createIndex({ email: 1 }, { unique: true });
    await items.insertMany(
      Array.from({ length: 200 }, (_, i) => ({
        _id: i,
        email: `u${i}@x`,
        big: Long.fromString(`90071992547409${String(i % 100).padStart(2, "0")}`),
        price: Decimal128.fromString(`${i}.50`),
      })),
    );
    await items.updateOne({ _id: 7 }, { $set: { email: "seven@x" } });
    await items.deleteOne({ _id: 8 });
    await client.close(true);

    expect(await stopProcess(first.child, "SIGKILL")).toBeNull();
    expect(first.stdout()).toBe(`${first.uri}\n`);

    const second = await cli(dir);
    const again = await connect(second.uri);
    const back = again
      .db("persist")
      .collection<{ _id: number; email: string; big?: Long; price?: Decimal128 }>("items");
    expect(await back.countDocuments()).toBe(199);
    expect(await back.findOne({ _id: 7 })).toMatchObject({ email: "seven@x" });
    expect(await back.findOne({ _id: 8 })).toBeNull();
    const typed = await back.findOne({ _id: 42 }, { promoteLongs: false });
    expect(typed?.big).toBeInstanceOf(Long);
    expect(typed?.big?.toString()).toBe("9007199254740942");
    expect(typed?.price?.toString()).toBe("42.50");
    // Indexes come back with the data, constraints included.
    expect((await back.indexes()).map((i) => i.name)).toEqual(["_id_", "email_1"]);
    await expect(back.insertOne({ _id: 1000, email: "u1@x" })).rejects.toMatchObject({
      code: 11000,
    });
  }, 120_000);

  it("exits 0 on SIGTERM and on SIGINT", async () => {
    const dir = await tempDir();
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      const proc = await cli(dir);
      const client = await connect(proc.uri);
      await client.db("x").collection("y").insertOne({ signal });
      expect(await stopProcess(proc.child, signal)).toBe(0);
      expect(proc.stdout()).toBe(`${proc.uri}\n`);
    }
    // The clean shutdown released the lock and kept the data.
    const store = await startEmbeddedMongo({ port: 0, dbPath: dir });
    cleanups.push(() => store.close());
    const client = await connect(store.uri);
    expect(await client.db("x").collection("y").countDocuments()).toBe(2);
  }, 120_000);
});
