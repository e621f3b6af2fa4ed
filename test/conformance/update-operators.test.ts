import {
  type Document,
  type Filter,
  MongoServerError,
  type ObjectId,
  Timestamp,
  type UpdateFilter,
  type UpdateOptions,
  type UpdateResult,
} from "mongodb";
import { beforeEach, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/mongo.js";

const t = useTestDatabase();

// Loosely typed on purpose: updates here reshape documents freely.
// biome-ignore lint/suspicious/noExplicitAny: see above.
type Doc = { _id?: number | string | ObjectId; [field: string]: any };

const coll = () => t.db.collection<Doc>("updates");

// The driver's UpdateFilter type rejects valid $push/$pull/$pop specs on loosely typed documents.
function updateOne(
  filter: Filter<Doc>,
  update: Document,
  options?: UpdateOptions,
): Promise<UpdateResult<Doc>> {
  return coll().updateOne(filter, update as UpdateFilter<Doc>, options);
}

function updateMany(
  filter: Filter<Doc>,
  update: Document,
  options?: UpdateOptions,
): Promise<UpdateResult<Doc>> {
  return coll().updateMany(filter, update as UpdateFilter<Doc>, options);
}

const WIDGET: Doc = {
  _id: 1,
  name: "widget",
  qty: 10,
  price: 2.5,
  tags: ["a", "b"],
  scores: [3, 7, 9],
  dims: { h: 10, w: 5 },
  low: 50,
  high: 50,
  seen: new Date("2025-01-10T00:00:00Z"),
  items: [
    { sku: "x", qty: 1 },
    { sku: "y", qty: 6 },
    { sku: "z", qty: 9 },
  ],
};

async function widget(): Promise<Doc> {
  const doc = await coll().findOne({ _id: 1 });
  if (!doc) throw new Error("widget vanished");
  return doc;
}

beforeEach(async () => {
  await coll().deleteMany({});
  await coll().insertOne(structuredClone(WIDGET));
});

describe("field operators", () => {
  it("$set replaces values and creates missing nested paths", async () => {
    const res = await updateOne(
      { _id: 1 },
      { $set: { name: "gadget", "dims.d": 3, "meta.source.kind": "api", "scores.1": 70 } },
    );
    expect(res).toMatchObject({ matchedCount: 1, modifiedCount: 1, upsertedCount: 0 });
    const doc = await widget();
    expect(doc.name).toBe("gadget");
    expect(doc.dims).toEqual({ h: 10, w: 5, d: 3 });
    expect(doc.meta).toEqual({ source: { kind: "api" } });
    expect(doc.scores).toEqual([3, 70, 9]);
  });

  it("$inc adds to numbers and creates a missing field with the increment", async () => {
    await updateOne({ _id: 1 }, { $inc: { qty: 5, price: -0.5, views: 3, "dims.h": 1 } });
    const doc = await widget();
    expect(doc.qty).toBe(15);
    expect(doc.price).toBe(2);
    expect(doc.views).toBe(3);
    expect(doc.dims.h).toBe(11);
  });

  it("$inc on a non-numeric field fails and leaves the document alone", async () => {
    const err = await updateOne({ _id: 1 }, { $inc: { name: 1 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MongoServerError);
    expect((err as MongoServerError).code).toBe(14); // TypeMismatch
    expect((await widget()).name).toBe("widget");
  });

  it("$unset removes fields; unsetting a missing field is a no-op", async () => {
    await updateOne({ _id: 1 }, { $unset: { price: "", "dims.w": 1, absent: "" } });
    const doc = await widget();
    expect("price" in doc).toBe(false);
    expect(doc.dims).toEqual({ h: 10 });
    const noop = await updateOne({ _id: 1 }, { $unset: { absent: "" } });
    expect(noop).toMatchObject({ matchedCount: 1, modifiedCount: 0 });
  });

  it("$rename moves top-level and nested fields", async () => {
    await updateOne({ _id: 1 }, { $rename: { name: "title", "dims.h": "dims.height" } });
    const doc = await widget();
    expect(doc.title).toBe("widget");
    expect("name" in doc).toBe(false);
    expect(doc.dims).toEqual({ w: 5, height: 10 });
  });

  it("$min and $max only move a value in their direction (numbers and dates)", async () => {
    await updateOne({ _id: 1 }, { $min: { low: 40 }, $max: { high: 70 } });
    expect(await widget()).toMatchObject({ low: 40, high: 70 });
    const noop = await updateOne({ _id: 1 }, { $min: { low: 45 }, $max: { high: 60 } });
    expect(noop.modifiedCount).toBe(0);
    expect(await widget()).toMatchObject({ low: 40, high: 70 });
    await updateOne(
      { _id: 1 },
      { $min: { seen: new Date("2024-12-01T00:00:00Z") }, $max: { created: 5 } },
    );
    const doc = await widget();
    expect(doc.seen).toEqual(new Date("2024-12-01T00:00:00Z"));
    // $max on a missing field sets it.
    expect(doc.created).toBe(5);
  });

  it("$mul multiplies and sets a missing field to zero", async () => {
    await updateOne({ _id: 1 }, { $mul: { price: 2, qty: 0.5, missing: 3 } });
    expect(await widget()).toMatchObject({ price: 5, qty: 5, missing: 0 });
  });

  it("$currentDate sets a Date (or a Timestamp) from the server clock", async () => {
    // Bounds are loose: a real server's clock may differ a little from this machine's.
    const before = Date.now() - 10 * 60_000;
    await updateOne(
      { _id: 1 },
      {
        $currentDate: {
          updatedAt: true,
          "audit.at": { $type: "date" },
          ts: { $type: "timestamp" },
        },
      },
    );
    const after = Date.now() + 10 * 60_000;
    const doc = await widget();
    expect(doc.updatedAt).toBeInstanceOf(Date);
    expect(doc.updatedAt.getTime()).toBeGreaterThan(before);
    expect(doc.updatedAt.getTime()).toBeLessThan(after);
    expect(doc.audit.at).toBeInstanceOf(Date);
    expect(doc.ts).toBeInstanceOf(Timestamp);
    expect(doc.ts.t * 1000).toBeGreaterThan(before);
    expect(doc.ts.t * 1000).toBeLessThan(after);
  });

  it("several operators apply together in one update", async () => {
    await updateOne(
      { _id: 1 },
      { $set: { name: "combo" }, $inc: { qty: 1 }, $unset: { price: "" }, $push: { tags: "c" } },
    );
    const doc = await widget();
    expect(doc).toMatchObject({ name: "combo", qty: 11, tags: ["a", "b", "c"] });
    expect("price" in doc).toBe(false);
  });

  it("an aggregation-pipeline update computes fields from the document", async () => {
    const res = await coll().updateOne({ _id: 1 }, [
      { $set: { total: { $multiply: ["$qty", "$price"] }, tagCount: { $size: "$tags" } } },
      { $unset: "seen" },
    ]);
    expect(res.modifiedCount).toBe(1);
    const doc = await widget();
    expect(doc).toMatchObject({ total: 25, tagCount: 2 });
    expect("seen" in doc).toBe(false);
  });

  it("updating _id is refused (ImmutableField)", async () => {
    const err = await updateOne({ _id: 1 }, { $set: { _id: 2 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MongoServerError);
    expect((err as MongoServerError).code).toBe(66);
    expect(await coll().countDocuments({ _id: 1 })).toBe(1);
  });
});

describe("array operators", () => {
  it("$push appends, creating the array when missing", async () => {
    await updateOne({ _id: 1 }, { $push: { tags: "c", fresh: 1 } });
    expect(await widget()).toMatchObject({ tags: ["a", "b", "c"], fresh: [1] });
  });

  it("$push with $each, $position, $sort and $slice", async () => {
    await updateOne({ _id: 1 }, { $push: { tags: { $each: ["y", "z"], $position: 0 } } });
    expect((await widget()).tags).toEqual(["y", "z", "a", "b"]);
    await updateOne({ _id: 1 }, { $push: { scores: { $each: [1, 8], $sort: -1, $slice: 3 } } });
    expect((await widget()).scores).toEqual([9, 8, 7]);
    await updateOne(
      { _id: 1 },
      { $push: { items: { $each: [{ sku: "w", qty: 4 }], $sort: { qty: -1 }, $slice: 2 } } },
    );
    expect((await widget()).items).toEqual([
      { sku: "z", qty: 9 },
      { sku: "y", qty: 6 },
    ]);
  });

  it("$addToSet adds only values not already present", async () => {
    const noop = await updateOne({ _id: 1 }, { $addToSet: { tags: "a" } });
    expect(noop.modifiedCount).toBe(0);
    await updateOne({ _id: 1 }, { $addToSet: { tags: { $each: ["b", "c", "c", "d"] } } });
    expect((await widget()).tags).toEqual(["a", "b", "c", "d"]);
    await updateOne({ _id: 1 }, { $addToSet: { items: { sku: "x", qty: 1 } } });
    expect((await widget()).items).toHaveLength(3);
  });

  it("$pull removes values equal to, or matching a condition on, the elements", async () => {
    await updateOne({ _id: 1 }, { $pull: { tags: "a", scores: { $gte: 7 } } });
    expect(await widget()).toMatchObject({ tags: ["b"], scores: [3] });
    // A document condition is a query on each element, not an exact-match.
    await updateOne({ _id: 1 }, { $pull: { items: { qty: { $gt: 5 } } } });
    expect((await widget()).items).toEqual([{ sku: "x", qty: 1 }]);
  });

  it("$pop removes the first or last element", async () => {
    await updateOne({ _id: 1 }, { $pop: { scores: 1, tags: -1 } });
    expect(await widget()).toMatchObject({ scores: [3, 7], tags: ["b"] });
  });

  it("the positional $ updates the first element the query matched", async () => {
    await updateOne({ _id: 1, "items.sku": "y" }, { $set: { "items.$.qty": 60 } });
    expect((await widget()).items).toEqual([
      { sku: "x", qty: 1 },
      { sku: "y", qty: 60 },
      { sku: "z", qty: 9 },
    ]);
  });

  it("$[] updates every element", async () => {
    await updateOne({ _id: 1 }, { $inc: { "scores.$[]": 1, "items.$[].qty": 100 } });
    const doc = await widget();
    expect(doc.scores).toEqual([4, 8, 10]);
    expect(doc.items.map((i: { qty: number }) => i.qty)).toEqual([101, 106, 109]);
  });

  it("arrayFilters ($[name]) update only the elements that match", async () => {
    await updateOne(
      { _id: 1 },
      { $set: { "items.$[big].flag": true }, $inc: { "scores.$[low]": 100 } },
      { arrayFilters: [{ "big.qty": { $gte: 5 } }, { low: { $lt: 5 } }] },
    );
    const doc = await widget();
    expect(doc.items).toEqual([
      { sku: "x", qty: 1 },
      { sku: "y", qty: 6, flag: true },
      { sku: "z", qty: 9, flag: true },
    ]);
    expect(doc.scores).toEqual([103, 7, 9]);
  });

  it("arrayFilters reach into nested arrays and across many documents", async () => {
    await coll().insertMany([
      {
        _id: 2,
        grades: [
          { term: 1, marks: [50, 95] },
          { term: 2, marks: [99, 40] },
        ],
      },
      { _id: 3, grades: [{ term: 1, marks: [91] }] },
    ]);
    const res = await updateMany(
      { grades: { $exists: true } },
      { $set: { "grades.$[g].marks.$[m]": 100 } },
      { arrayFilters: [{ "g.term": 1 }, { m: { $gte: 90 } }] },
    );
    expect(res).toMatchObject({ matchedCount: 2, modifiedCount: 2 });
    expect((await coll().findOne({ _id: 2 }))?.grades).toEqual([
      { term: 1, marks: [50, 100] },
      { term: 2, marks: [99, 40] },
    ]);
    expect((await coll().findOne({ _id: 3 }))?.grades).toEqual([{ term: 1, marks: [100] }]);
  });
});

describe("updateOne and updateMany", () => {
  beforeEach(async () => {
    await coll().insertMany([
      { _id: 2, group: "g", n: 1 },
      { _id: 3, group: "g", n: 2 },
      { _id: 4, group: "g", n: 2 },
      { _id: 5, group: "h", n: 2 },
    ]);
  });

  it("updateOne changes only one of several matches", async () => {
    const res = await updateOne({ group: "g" }, { $set: { touched: true } });
    expect(res).toMatchObject({ matchedCount: 1, modifiedCount: 1, upsertedId: null });
    expect(await coll().countDocuments({ touched: true })).toBe(1);
  });

  it("updateMany counts matched and really modified documents separately", async () => {
    const res = await updateMany({ group: "g" }, { $set: { n: 2 } });
    // _id 3 and 4 already had n: 2, so only _id 2 changed.
    expect(res).toMatchObject({
      acknowledged: true,
      matchedCount: 3,
      modifiedCount: 1,
      upsertedCount: 0,
      upsertedId: null,
    });
    expect(await coll().countDocuments({ n: 2 })).toBe(4);
  });

  it("an update that matches nothing reports zero", async () => {
    const res = await updateMany({ group: "none" }, { $set: { n: 0 } });
    expect(res).toMatchObject({ matchedCount: 0, modifiedCount: 0, upsertedCount: 0 });
  });
});
