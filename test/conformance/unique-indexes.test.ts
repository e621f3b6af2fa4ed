import { MongoBulkWriteError, MongoServerError, type ObjectId, type WriteError } from "mongodb";
import { describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/mongo.js";

const t = useTestDatabase();

// Loosely typed on purpose: these documents mix shapes and BSON types freely.
// biome-ignore lint/suspicious/noExplicitAny: see above.
type Doc = { _id?: number | string | ObjectId; [field: string]: any };

/** Runs `op`, which must fail, and returns what it threw. */
async function failure(op: () => Promise<unknown>): Promise<unknown> {
  try {
    await op();
  } catch (err) {
    return err;
  }
  throw new Error("expected the operation to fail");
}

function dupPrefix(coll: string, index: string): string {
  return `E11000 duplicate key error collection: ${t.name}.${coll} index: ${index} dup key:`;
}

function writeErrorsOf(err: MongoBulkWriteError): WriteError[] {
  return [err.writeErrors].flat();
}

describe("unique indexes", () => {
  it("a duplicate insertOne fails with E11000, keyPattern and keyValue", async () => {
    const users = t.db.collection<Doc>("users");
    expect(await users.createIndex({ email: 1 }, { unique: true })).toBe("email_1");
    await users.insertOne({ email: "ana@example.com", name: "Ana" });
    const err = await failure(() => users.insertOne({ email: "ana@example.com", name: "Other" }));
    expect(err).toBeInstanceOf(MongoServerError);
    const e = err as MongoServerError;
    expect(e.code).toBe(11000);
    expect(e.message.startsWith(dupPrefix("users", "email_1"))).toBe(true);
    expect(e.message).toContain('dup key: { email: "ana@example.com" }');
    expect(e.keyPattern).toEqual({ email: 1 });
    expect(e.keyValue).toEqual({ email: "ana@example.com" });
    expect(await users.countDocuments({ email: "ana@example.com" })).toBe(1);
  });

  it("the _id index is always unique", async () => {
    const coll = t.db.collection<Doc>("ids");
    await coll.insertOne({ _id: 1 });
    const err = (await failure(() => coll.insertOne({ _id: 1 }))) as MongoServerError;
    expect(err.code).toBe(11000);
    expect(err.message.startsWith(dupPrefix("ids", "_id_"))).toBe(true);
    expect(err.keyValue).toEqual({ _id: 1 });
  });

  it("a compound unique index rejects only the full-key duplicate", async () => {
    const coll = t.db.collection<Doc>("members");
    const name = await coll.createIndex({ tenant: 1, email: -1 }, { unique: true });
    expect(name).toBe("tenant_1_email_-1");
    await coll.insertMany([
      { tenant: "a", email: "x" },
      { tenant: "b", email: "x" },
      { tenant: "a", email: "y" },
    ]);
    const err = (await failure(() =>
      coll.insertOne({ tenant: "a", email: "x" }),
    )) as MongoServerError;
    expect(err.code).toBe(11000);
    expect(err.message.startsWith(dupPrefix("members", "tenant_1_email_-1"))).toBe(true);
    expect(err.keyPattern).toEqual({ tenant: 1, email: -1 });
    expect(err.keyValue).toEqual({ tenant: "a", email: "x" });
    expect(await coll.countDocuments()).toBe(3);
  });

  it("a missing field counts as null, so only one document may lack it", async () => {
    const coll = t.db.collection<Doc>("nulls");
    await coll.createIndex({ sku: 1 }, { unique: true });
    await coll.insertOne({ name: "no sku" });
    const err = (await failure(() => coll.insertOne({ name: "also none" }))) as MongoServerError;
    expect(err.code).toBe(11000);
    expect(err.keyValue).toEqual({ sku: null });
    const explicitNull = (await failure(() => coll.insertOne({ sku: null }))) as MongoServerError;
    expect(explicitNull.code).toBe(11000);
  });

  it("unordered insertMany stores every non-duplicate and reports each failure by index", async () => {
    const coll = t.db.collection<Doc>("unordered");
    await coll.createIndex({ code: 1 }, { unique: true });
    await coll.insertOne({ code: "c1" });
    const batch = [
      { code: "c0" },
      { code: "c1" }, // clashes with the stored document
      { code: "c2" },
      { code: "c2" }, // clashes with an earlier item of this batch
      { code: "c3" },
      { code: "c1" },
      { code: "c4" },
    ];
    const err = await failure(() => coll.insertMany(batch, { ordered: false }));
    expect(err).toBeInstanceOf(MongoBulkWriteError);
    const bulk = err as MongoBulkWriteError;
    expect(bulk.code).toBe(11000);
    const writeErrors = writeErrorsOf(bulk);
    expect(writeErrors.map((w) => w.index)).toEqual([1, 3, 5]);
    for (const w of writeErrors) {
      expect(w.code).toBe(11000);
      expect(w.errmsg?.startsWith(dupPrefix("unordered", "code_1"))).toBe(true);
    }
    expect(bulk.insertedCount).toBe(4);
    expect(Object.keys(bulk.insertedIds).map(Number).sort()).toEqual([0, 2, 4, 6]);
    const stored = (await coll.find().toArray()).map((d) => d.code).sort();
    expect(stored).toEqual(["c0", "c1", "c2", "c3", "c4"]);
  });

  it("ordered insertMany stops at the first duplicate", async () => {
    const coll = t.db.collection<Doc>("ordered");
    await coll.createIndex({ code: 1 }, { unique: true });
    const err = (await failure(() =>
      coll.insertMany([{ code: "a" }, { code: "b" }, { code: "a" }, { code: "c" }]),
    )) as MongoBulkWriteError;
    expect(err).toBeInstanceOf(MongoBulkWriteError);
    expect(writeErrorsOf(err).map((w) => w.index)).toEqual([2]);
    expect(err.insertedCount).toBe(2);
    expect((await coll.find().toArray()).map((d) => d.code).sort()).toEqual(["a", "b"]);
  });

  it("creating a unique index over existing duplicates fails and leaves no index", async () => {
    const coll = t.db.collection<Doc>("predup");
    await coll.insertMany([{ k: 1 }, { k: 2 }, { k: 1 }]);
    const err = (await failure(() =>
      coll.createIndex({ k: 1 }, { unique: true }),
    )) as MongoServerError;
    expect(err).toBeInstanceOf(MongoServerError);
    expect(err.code).toBe(11000);
    expect(err.message).toContain("E11000 duplicate key error");
    const names = (await coll.listIndexes().toArray()).map((ix) => ix.name);
    expect(names).toEqual(["_id_"]);
  });

  it("an update that would create a duplicate fails", async () => {
    const coll = t.db.collection<Doc>("upd");
    await coll.createIndex({ email: 1 }, { unique: true });
    await coll.insertMany([
      { _id: 1, email: "a" },
      { _id: 2, email: "b" },
    ]);
    const err = (await failure(() =>
      coll.updateOne({ _id: 2 }, { $set: { email: "a" } }),
    )) as MongoServerError;
    expect(err).toBeInstanceOf(MongoServerError);
    expect(err.code).toBe(11000);
    expect(err.message.startsWith(dupPrefix("upd", "email_1"))).toBe(true);
    expect(await coll.findOne({ _id: 2 })).toEqual({ _id: 2, email: "b" });
    const many = (await failure(() =>
      coll.updateMany({}, { $set: { email: "same" } }),
    )) as MongoServerError;
    expect(many.code).toBe(11000);
  });

  it("an upsert that would create a duplicate fails", async () => {
    const coll = t.db.collection<Doc>("ups");
    await coll.createIndex({ email: 1 }, { unique: true });
    await coll.insertOne({ name: "first", email: "taken" });
    const err = (await failure(() =>
      coll.updateOne({ name: "second" }, { $set: { email: "taken" } }, { upsert: true }),
    )) as MongoServerError;
    expect(err.code).toBe(11000);
    expect(await coll.countDocuments()).toBe(1);
    const replace = (await failure(() =>
      coll.replaceOne({ name: "third" }, { name: "third", email: "taken" }, { upsert: true }),
    )) as MongoServerError;
    expect(replace.code).toBe(11000);
  });

  it("listIndexes shows name, key, unique and expireAfterSeconds; dropIndex removes one", async () => {
    const coll = t.db.collection<Doc>("specs");
    await coll.createIndex({ email: 1 }, { unique: true });
    await coll.createIndex({ tenant: 1, createdAt: -1 }, { name: "by_tenant_recent" });
    await coll.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 3600 });
    const specs = await coll.listIndexes().toArray();
    const byName = new Map(specs.map((s) => [s.name, s]));
    expect([...byName.keys()].sort()).toEqual(
      ["_id_", "by_tenant_recent", "email_1", "expiresAt_1"].sort(),
    );
    expect(byName.get("_id_")).toMatchObject({ key: { _id: 1 } });
    expect(byName.get("_id_")?.unique).toBeUndefined();
    expect(byName.get("email_1")).toMatchObject({ key: { email: 1 }, unique: true });
    const compound = byName.get("by_tenant_recent");
    expect(compound).toMatchObject({ key: { tenant: 1, createdAt: -1 } });
    expect(Object.keys(compound?.key ?? {})).toEqual(["tenant", "createdAt"]);
    expect(compound?.unique).toBeUndefined();
    expect(byName.get("expiresAt_1")).toMatchObject({
      key: { expiresAt: 1 },
      expireAfterSeconds: 3600,
    });
    expect(await coll.indexExists("email_1")).toBe(true);

    await coll.dropIndex("email_1");
    expect((await coll.listIndexes().toArray()).map((s) => s.name).sort()).toEqual(
      ["_id_", "by_tenant_recent", "expiresAt_1"].sort(),
    );
    await coll.insertMany([{ email: "dup" }, { email: "dup" }]);
    expect(await coll.countDocuments({ email: "dup" })).toBe(2);

    const missing = (await failure(() => coll.dropIndex("nope_1"))) as MongoServerError;
    expect(missing).toBeInstanceOf(MongoServerError);
    expect(missing.code).toBe(27); // IndexNotFound
  });

  it("creating the same index twice is a no-op", async () => {
    const coll = t.db.collection<Doc>("twice");
    expect(await coll.createIndex({ a: 1 }, { unique: true })).toBe("a_1");
    expect(await coll.createIndex({ a: 1 }, { unique: true })).toBe("a_1");
    expect((await coll.listIndexes().toArray()).map((s) => s.name).sort()).toEqual(["_id_", "a_1"]);
  });
});
