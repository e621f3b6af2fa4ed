import type { Filter } from "mongodb";
import { beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/mongo.js";

const t = useTestDatabase();

// Loosely typed on purpose: these documents mix shapes and BSON types freely.
// biome-ignore lint/suspicious/noExplicitAny: see above.
type Doc = { _id: number; [field: string]: any };

const DOCS: Doc[] = [
  {
    _id: 1,
    name: "alpha",
    tags: ["red", "blue"],
    scores: [1, 5, 9],
    items: [
      { sku: "a", qty: 1 },
      { sku: "b", qty: 10 },
    ],
    meta: { a: 1, b: 2 },
    owner: { name: "Ana", team: { id: 7 } },
    note: "Hello World",
  },
  {
    _id: 2,
    name: "beta",
    tags: ["red"],
    scores: [3, 8],
    items: [{ sku: "a", qty: 10 }],
    meta: { b: 2, a: 1 },
    owner: { name: "bob", team: { id: 8 } },
    note: null,
  },
  {
    _id: 3,
    name: "gamma",
    tags: [],
    scores: [],
    items: [],
    meta: { a: 1 },
    owner: { name: "Cleo" },
  },
  {
    _id: 4,
    name: "delta",
    tags: ["blue", "green", "red"],
    scores: [2],
    items: [
      { sku: "c", qty: 3 },
      { sku: "a", qty: 2 },
    ],
    note: "hello there",
    count: 5,
  },
  { _id: 5, name: "Epsilon", tags: "red", scores: 4, note: 42, count: 2 },
];

const coll = () => t.db.collection<Doc>("query_ops");

async function ids(filter: Filter<Doc>): Promise<number[]> {
  const docs = await coll()
    .find(filter, { projection: { _id: 1 } })
    .sort({ _id: 1 })
    .toArray();
  return docs.map((d) => d._id);
}

beforeAll(async () => {
  await coll().insertMany(DOCS);
});

describe("nested fields and embedded documents", () => {
  it("dot notation reaches into embedded documents", async () => {
    expect(await ids({ "owner.name": "Ana" })).toEqual([1]);
    expect(await ids({ "owner.team.id": { $gte: 8 } })).toEqual([2]);
    expect(await ids({ "meta.a": 1 })).toEqual([1, 2, 3]);
  });

  it("equality on a whole embedded document is exact, including field order", async () => {
    expect(await ids({ meta: { a: 1, b: 2 } })).toEqual([1]);
    expect(await ids({ meta: { b: 2, a: 1 } })).toEqual([2]);
    expect(await ids({ meta: { a: 1 } })).toEqual([3]);
  });

  it("dot notation through an array of documents matches any element", async () => {
    expect(await ids({ "items.sku": "b" })).toEqual([1]);
    expect(await ids({ "items.qty": 10 })).toEqual([1, 2]);
  });

  it("a numeric path component indexes into an array", async () => {
    expect(await ids({ "tags.0": "blue" })).toEqual([4]);
    expect(await ids({ "items.1.sku": "a" })).toEqual([4]);
  });
});

describe("arrays", () => {
  it("a scalar condition matches any element; an array value matches the whole array", async () => {
    expect(await ids({ tags: "red" })).toEqual([1, 2, 4, 5]);
    expect(await ids({ tags: ["red", "blue"] })).toEqual([1]);
    expect(await ids({ tags: ["blue", "red"] })).toEqual([]);
    expect(await ids({ scores: 9 })).toEqual([1]);
  });

  it("range conditions on an array may be met by different elements unless $elemMatch", async () => {
    expect(await ids({ scores: { $gt: 4, $lt: 6 } })).toEqual([1, 2]);
    expect(await ids({ scores: { $elemMatch: { $gt: 4, $lt: 6 } } })).toEqual([1]);
  });

  it("$elemMatch requires one array element to meet every condition", async () => {
    expect(await ids({ items: { $elemMatch: { sku: "a", qty: { $gte: 5 } } } })).toEqual([2]);
    expect(await ids({ "items.sku": "a", "items.qty": { $gte: 5 } })).toEqual([1, 2]);
  });

  it("$all requires every listed value", async () => {
    expect(await ids({ tags: { $all: ["red", "blue"] } })).toEqual([1, 4]);
    // A single-value $all is an equality match, so a non-array "red" matches too.
    expect(await ids({ tags: { $all: ["red"] } })).toEqual([1, 2, 4, 5]);
    expect(
      await ids({ items: { $all: [{ $elemMatch: { sku: "a" } }, { $elemMatch: { qty: 3 } }] } }),
    ).toEqual([4]);
  });

  it("$size matches arrays of exactly that length", async () => {
    expect(await ids({ tags: { $size: 0 } })).toEqual([3]);
    expect(await ids({ tags: { $size: 1 } })).toEqual([2]);
    expect(await ids({ tags: { $size: 3 } })).toEqual([4]);
  });
});

describe("element operators", () => {
  it("$exists distinguishes a null value from a missing field", async () => {
    expect(await ids({ note: { $exists: true } })).toEqual([1, 2, 4, 5]);
    expect(await ids({ note: { $exists: false } })).toEqual([3]);
    expect(await ids({ count: { $exists: true } })).toEqual([4, 5]);
  });

  it("equality with null matches null and missing fields", async () => {
    expect(await ids({ note: null })).toEqual([2, 3]);
    expect(await ids({ note: { $in: [null] } })).toEqual([2, 3]);
    expect(await ids({ note: { $ne: null } })).toEqual([1, 4, 5]);
  });

  it("$type matches by BSON type, by alias and number, including array elements", async () => {
    expect(await ids({ note: { $type: "string" } })).toEqual([1, 4]);
    expect(await ids({ note: { $type: 2 } })).toEqual([1, 4]);
    expect(await ids({ note: { $type: "null" } })).toEqual([2]);
    expect(await ids({ note: { $type: "number" } })).toEqual([5]);
    expect(await ids({ note: { $type: ["null", "number"] } })).toEqual([2, 5]);
    expect(await ids({ tags: { $type: "array" } })).toEqual([1, 2, 3, 4]);
    expect(await ids({ tags: { $type: "string" } })).toEqual([1, 2, 4, 5]);
    expect(await ids({ owner: { $type: "object" } })).toEqual([1, 2, 3]);
  });
});

describe("comparison, set and string operators", () => {
  it("$in and $nin; $nin and $ne also match missing fields", async () => {
    expect(await ids({ tags: { $in: ["green", "nope"] } })).toEqual([4]);
    expect(await ids({ name: { $nin: ["alpha", "beta"] } })).toEqual([3, 4, 5]);
    expect(await ids({ tags: { $nin: ["red"] } })).toEqual([3]);
    expect(await ids({ count: { $ne: 5 } })).toEqual([1, 2, 3, 5]);
  });

  it("$in accepts regular expressions", async () => {
    expect(await ids({ name: { $in: [/^a/, "beta"] } })).toEqual([1, 2]);
  });

  it("$regex with options, anchors and regex literals; non-strings never match", async () => {
    expect(await ids({ note: { $regex: "^hello", $options: "i" } })).toEqual([1, 4]);
    expect(await ids({ note: { $regex: "^hello" } })).toEqual([4]);
    expect(await ids({ note: /World$/ })).toEqual([1]);
    expect(await ids({ name: /^e/i })).toEqual([5]);
    expect(await ids({ note: /4/ })).toEqual([]);
    expect(await ids({ tags: /^gr/ })).toEqual([4]);
  });

  it("$gt/$lt compare only within the same type bracket", async () => {
    // note holds strings, null and a number; a numeric bound only ever matches the number.
    expect(await ids({ note: { $gt: 0 } })).toEqual([5]);
    expect(await ids({ note: { $gte: "hello" } })).toEqual([4]);
    expect(await ids({ count: { $lte: 2 } })).toEqual([5]);
  });

  it("$mod and $expr", async () => {
    expect(await ids({ count: { $mod: [2, 1] } })).toEqual([4]);
    expect(await ids({ $expr: { $eq: ["$name", { $toLower: "$name" }] } })).toEqual([1, 2, 3, 4]);
  });
});

describe("logical operators", () => {
  it("$or and $and", async () => {
    expect(await ids({ $or: [{ name: "alpha" }, { "owner.team.id": 8 }] })).toEqual([1, 2]);
    expect(await ids({ $and: [{ tags: "red" }, { tags: "blue" }] })).toEqual([1, 4]);
    expect(await ids({ $and: [{ $or: [{ count: 5 }, { count: 2 }] }, { note: 42 }] })).toEqual([5]);
  });

  it("$nor matches documents failing every clause, including ones missing the fields", async () => {
    expect(await ids({ $nor: [{ name: "alpha" }, { scores: { $size: 0 } }] })).toEqual([2, 4, 5]);
    expect(await ids({ $nor: [{ count: { $gt: 1 } }] })).toEqual([1, 2, 3]);
  });

  it("$not negates an operator expression and matches missing fields", async () => {
    expect(await ids({ name: { $not: /^[a-d]/ } })).toEqual([3, 5]);
    expect(await ids({ count: { $not: { $gt: 3 } } })).toEqual([1, 2, 3, 5]);
  });
});
