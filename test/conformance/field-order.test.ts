import { beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/mongo.js";

// mongod's documented output order: `_id` first, included fields in the document's order,
// computed fields after them in specification order; $addFields keeps existing fields in place
// and appends new ones; $group puts `_id` first, then the accumulators as specified.
const t = useTestDatabase();
const coll = () => t.db.collection<{ _id: number } & Record<string, unknown>>("order");

beforeAll(async () => {
  await coll().insertMany([
    { _id: 1, a: 1, b: { x: 1, y: 2 }, c: 3, d: 4 },
    { _id: 2, a: 2, b: { x: 5, y: 6 }, c: 7, d: 8 },
  ]);
});

async function keysOf(pipeline: object[]): Promise<string[]> {
  const [doc] = await coll()
    .aggregate([{ $match: { _id: 1 } }, ...pipeline])
    .toArray();
  return Object.keys(doc!);
}

describe("$project output field order", () => {
  it("puts _id first, included fields in document order, computed fields last", async () => {
    const [doc] = await coll()
      .aggregate([
        { $match: { _id: 1 } },
        { $project: { z: "$a", d: 1, a: 1, y: { $add: [1, 1] } } },
      ])
      .toArray();
    expect(Object.keys(doc!)).toEqual(["_id", "a", "d", "z", "y"]);
    expect(doc).toEqual({ _id: 1, a: 1, d: 4, z: 1, y: 2 });
  });

  it("keeps the document's order whatever order the specification names fields in", async () => {
    expect(await keysOf([{ $project: { d: 1, c: 1, _id: 1 } }])).toEqual(["_id", "c", "d"]);
  });

  it("moves a field that is recomputed after the included ones", async () => {
    expect(await keysOf([{ $project: { a: { $add: ["$a", 1] }, d: 1 } }])).toEqual([
      "_id",
      "d",
      "a",
    ]);
  });

  it("orders inside sub-documents by the same rule", async () => {
    const [doc] = await coll()
      .aggregate([
        { $match: { _id: 1 } },
        { $project: { q: "$c", d: 1, b: { z: "$a", y: 1, x: 1 } } },
      ])
      .toArray();
    expect(Object.keys(doc!)).toEqual(["_id", "b", "d", "q"]);
    expect(Object.keys(doc!.b as object)).toEqual(["x", "y", "z"]);
  });

  it("places a dotted inclusion at its document position", async () => {
    expect(await keysOf([{ $project: { d: 1, "b.y": 1 } }])).toEqual(["_id", "b", "d"]);
  });

  it("keeps the document's order for exclusions", async () => {
    expect(await keysOf([{ $project: { c: 0, a: 0 } }])).toEqual(["_id", "b", "d"]);
  });

  it("applies to find projections too", async () => {
    const doc = await coll().findOne({ _id: 1 }, { projection: { z: "$a", d: 1, a: 1 } });
    expect(Object.keys(doc!)).toEqual(["_id", "a", "d", "z"]);
  });
});

describe("$addFields / $set output field order", () => {
  it("replaces existing fields in place and appends new ones in specification order", async () => {
    const [doc] = await coll()
      .aggregate([{ $match: { _id: 1 } }, { $addFields: { z: 1, a: 5, y: 2 } }])
      .toArray();
    expect(Object.keys(doc!)).toEqual(["_id", "a", "b", "c", "d", "z", "y"]);
    expect(doc!.a).toBe(5);
  });

  it("appends a new nested field at the end of its sub-document", async () => {
    const [doc] = await coll()
      .aggregate([{ $match: { _id: 1 } }, { $set: { "b.w": 1, "b.x": 9 } }])
      .toArray();
    expect(Object.keys(doc!)).toEqual(["_id", "a", "b", "c", "d"]);
    expect(doc!.b).toEqual({ x: 9, y: 2, w: 1 });
    expect(Object.keys(doc!.b as object)).toEqual(["x", "y", "w"]);
  });
});

describe("$group output field order", () => {
  it("puts _id first and the accumulators in specification order", async () => {
    const docs = await coll()
      .aggregate([
        { $group: { _id: null, total: { $sum: "$d" }, first: { $min: "$a" }, n: { $sum: 1 } } },
      ])
      .toArray();
    expect(docs).toEqual([{ _id: null, total: 12, first: 1, n: 2 }]);
    expect(Object.keys(docs[0]!)).toEqual(["_id", "total", "first", "n"]);
  });

  it("keeps the same order when _id is not named first", async () => {
    const docs = await coll()
      .aggregate([{ $group: { n: { $sum: 1 }, _id: "$a" } }, { $sort: { _id: 1 } }])
      .toArray();
    expect(docs.map((d) => Object.keys(d))).toEqual([
      ["_id", "n"],
      ["_id", "n"],
    ]);
  });
});
