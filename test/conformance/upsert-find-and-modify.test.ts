import { ObjectId } from "mongodb";
import { beforeEach, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/mongo.js";

const t = useTestDatabase();

// Loosely typed on purpose: these documents mix shapes and BSON types freely.
// biome-ignore lint/suspicious/noExplicitAny: see above.
type Doc = { _id?: number | string | ObjectId; [field: string]: any };

describe("upserts", () => {
  const coll = () => t.db.collection<Doc>("upserts");
  beforeEach(async () => {
    await coll().deleteMany({});
  });

  it("inserts when nothing matches, with $setOnInsert and the filter's equality fields", async () => {
    const res = await coll().updateOne(
      { tenant: "acme", "profile.email": "a@acme.io", score: { $gt: 5 } },
      { $set: { name: "Ana" }, $setOnInsert: { createdBy: "signup" }, $inc: { visits: 1 } },
      { upsert: true },
    );
    expect(res).toMatchObject({ matchedCount: 0, modifiedCount: 0, upsertedCount: 1 });
    expect(res.upsertedId).toBeInstanceOf(ObjectId);
    const doc = await coll().findOne({ _id: res.upsertedId! });
    // Equality conditions are copied into the new document; the $gt condition is not.
    expect(doc).toEqual({
      _id: res.upsertedId,
      tenant: "acme",
      profile: { email: "a@acme.io" },
      name: "Ana",
      createdBy: "signup",
      visits: 1,
    });
  });

  it("updates when a document matches and then ignores $setOnInsert", async () => {
    await coll().insertOne({ _id: 1, key: "k", visits: 1, createdBy: "seed" });
    const res = await coll().updateOne(
      { key: "k" },
      { $inc: { visits: 1 }, $setOnInsert: { createdBy: "upsert" } },
      { upsert: true },
    );
    expect(res).toMatchObject({
      matchedCount: 1,
      modifiedCount: 1,
      upsertedCount: 0,
      upsertedId: null,
    });
    expect(await coll().findOne({ _id: 1 })).toEqual({
      _id: 1,
      key: "k",
      visits: 2,
      createdBy: "seed",
    });
  });

  it("an _id in the filter becomes the new document's _id", async () => {
    const res = await coll().updateOne(
      { _id: "fixed-id", $and: [{ region: "eu" }] },
      { $set: { n: 1 } },
      { upsert: true },
    );
    expect(res.upsertedId).toBe("fixed-id");
    expect(await coll().findOne({ _id: "fixed-id" })).toEqual({
      _id: "fixed-id",
      region: "eu",
      n: 1,
    });
  });

  it("updateMany and replaceOne upsert too", async () => {
    const many = await coll().updateMany({ batch: 7 }, { $set: { seen: true } }, { upsert: true });
    expect(many.upsertedCount).toBe(1);
    expect(await coll().findOne({ batch: 7 }, { projection: { _id: 0 } })).toEqual({
      batch: 7,
      seen: true,
    });
    const rep = await coll().replaceOne(
      { slug: "hello" },
      { slug: "hello", body: "world" },
      { upsert: true },
    );
    expect(rep.upsertedCount).toBe(1);
    expect(rep.upsertedId).toBeInstanceOf(ObjectId);
    expect(await coll().countDocuments()).toBe(2);
  });
});

describe("findOneAndUpdate", () => {
  const coll = () => t.db.collection<Doc>("famu");
  beforeEach(async () => {
    await coll().deleteMany({});
    await coll().insertMany([
      { _id: 1, queue: "q", priority: 2, state: "ready" },
      { _id: 2, queue: "q", priority: 9, state: "ready" },
      { _id: 3, queue: "q", priority: 5, state: "ready" },
    ]);
  });

  it("returns the document before the update by default", async () => {
    const before = await coll().findOneAndUpdate({ _id: 1 }, { $set: { state: "taken" } });
    expect(before).toEqual({ _id: 1, queue: "q", priority: 2, state: "ready" });
    expect((await coll().findOne({ _id: 1 }))?.state).toBe("taken");
  });

  it("returnDocument: after returns the updated document", async () => {
    const after = await coll().findOneAndUpdate(
      { _id: 1 },
      { $inc: { priority: 1 } },
      { returnDocument: "after" },
    );
    expect(after).toEqual({ _id: 1, queue: "q", priority: 3, state: "ready" });
  });

  it("sort picks which of several matches is modified", async () => {
    const top = await coll().findOneAndUpdate(
      { queue: "q", state: "ready" },
      { $set: { state: "taken" } },
      { sort: { priority: -1 }, returnDocument: "after" },
    );
    expect(top?._id).toBe(2);
    const next = await coll().findOneAndUpdate(
      { queue: "q", state: "ready" },
      { $set: { state: "taken" } },
      { sort: { priority: -1 }, returnDocument: "after" },
    );
    expect(next?._id).toBe(3);
    const lowest = await coll().findOneAndUpdate(
      { queue: "q" },
      { $set: { touched: true } },
      { sort: { priority: 1 } },
    );
    expect(lowest?._id).toBe(1);
  });

  it("projection shapes the returned document", async () => {
    const doc = await coll().findOneAndUpdate(
      { _id: 3 },
      { $set: { state: "done" } },
      { projection: { state: 1, _id: 0 }, returnDocument: "after" },
    );
    expect(doc).toEqual({ state: "done" });
  });

  it("returns null when nothing matches", async () => {
    expect(await coll().findOneAndUpdate({ _id: 99 }, { $set: { x: 1 } })).toBeNull();
    expect(await coll().countDocuments({ x: 1 })).toBe(0);
  });

  it("upsert: null before, the new document after", async () => {
    const before = await coll().findOneAndUpdate(
      { _id: 10 },
      { $set: { queue: "q2" }, $setOnInsert: { priority: 0 } },
      { upsert: true },
    );
    expect(before).toBeNull();
    expect(await coll().findOne({ _id: 10 })).toEqual({ _id: 10, queue: "q2", priority: 0 });
    const after = await coll().findOneAndUpdate(
      { _id: 11 },
      { $set: { queue: "q3" } },
      { upsert: true, returnDocument: "after" },
    );
    expect(after).toEqual({ _id: 11, queue: "q3" });
  });

  it("includeResultMetadata: true returns the raw result with lastErrorObject", async () => {
    const res = await coll().findOneAndUpdate(
      { _id: 12 },
      { $set: { v: 1 } },
      { upsert: true, returnDocument: "after", includeResultMetadata: true },
    );
    expect(res.ok).toBe(1);
    expect(res.value).toEqual({ _id: 12, v: 1 });
    expect(res.lastErrorObject).toMatchObject({ n: 1, updatedExisting: false, upserted: 12 });
  });
});

describe("findOneAndDelete and findOneAndReplace", () => {
  const coll = () => t.db.collection<Doc>("famr");
  beforeEach(async () => {
    await coll().deleteMany({});
    await coll().insertMany([
      { _id: 1, kind: "a", n: 1 },
      { _id: 2, kind: "a", n: 2 },
      { _id: 3, kind: "b", n: 3 },
    ]);
  });

  it("findOneAndDelete returns the deleted document, honouring sort", async () => {
    const deleted = await coll().findOneAndDelete({ kind: "a" }, { sort: { n: -1 } });
    expect(deleted).toEqual({ _id: 2, kind: "a", n: 2 });
    expect(await coll().countDocuments()).toBe(2);
    expect(await coll().findOneAndDelete({ kind: "zzz" })).toBeNull();
  });

  it("findOneAndDelete with a projection", async () => {
    expect(await coll().findOneAndDelete({ _id: 3 }, { projection: { n: 1 } })).toEqual({
      _id: 3,
      n: 3,
    });
  });

  it("findOneAndReplace returns before or after and keeps _id", async () => {
    const before = await coll().findOneAndReplace({ _id: 1 }, { kind: "c", replaced: true });
    expect(before).toEqual({ _id: 1, kind: "a", n: 1 });
    expect(await coll().findOne({ _id: 1 })).toEqual({ _id: 1, kind: "c", replaced: true });
    const after = await coll().findOneAndReplace(
      { kind: "b" },
      { kind: "b", v: 2 },
      { returnDocument: "after" },
    );
    expect(after).toEqual({ _id: 3, kind: "b", v: 2 });
  });

  it("findOneAndReplace upserts", async () => {
    const doc = await coll().findOneAndReplace(
      { _id: 9 },
      { kind: "new" },
      { upsert: true, returnDocument: "after" },
    );
    expect(doc).toEqual({ _id: 9, kind: "new" });
    expect(await coll().findOneAndReplace({ _id: 99 }, { kind: "x" })).toBeNull();
    expect(await coll().countDocuments({ kind: "x" })).toBe(0);
  });
});
