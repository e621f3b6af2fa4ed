import { ObjectId } from "mongodb";
import { beforeEach, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/mongo.js";

const t = useTestDatabase();

interface Person {
  _id: number;
  name: string;
  age?: number;
  city: string;
  address?: { zip: string; street: string };
  langs: string[];
}

const PEOPLE: Person[] = [
  {
    _id: 1,
    name: "ana",
    age: 31,
    city: "Lisbon",
    address: { zip: "1000", street: "Rua A" },
    langs: ["pt", "en"],
  },
  {
    _id: 2,
    name: "bruno",
    age: 25,
    city: "Porto",
    address: { zip: "4000", street: "Rua B" },
    langs: ["pt"],
  },
  { _id: 3, name: "carla", age: 31, city: "Lisbon", langs: ["en", "fr", "de"] },
  {
    _id: 4,
    name: "dan",
    age: 42,
    city: "Berlin",
    address: { zip: "10115", street: "Str C" },
    langs: ["de", "en"],
  },
  { _id: 5, name: "eve", city: "Lisbon", langs: [] },
];

function people() {
  return t.db.collection<Person>("people");
}

describe("insert", () => {
  it("insertOne generates an ObjectId _id, returns it and stores the document", async () => {
    const coll = t.db.collection<{ name: string; n: number }>("insert_one");
    const res = await coll.insertOne({ name: "ana", n: 1 });
    expect(res.acknowledged).toBe(true);
    expect(res.insertedId).toBeInstanceOf(ObjectId);
    const stored = await coll.findOne({ _id: res.insertedId });
    expect(stored).toEqual({ _id: res.insertedId, name: "ana", n: 1 });
  });

  it("insertOne keeps a caller-supplied _id of any type", async () => {
    const coll = t.db.collection<{ _id: string | { tenant: string; seq: number }; v: number }>(
      "insert_custom_id",
    );
    await coll.insertOne({ _id: "string-id", v: 1 });
    await coll.insertOne({ _id: { tenant: "a", seq: 7 }, v: 2 });
    expect(await coll.findOne({ _id: "string-id" })).toEqual({ _id: "string-id", v: 1 });
    expect(await coll.findOne({ _id: { tenant: "a", seq: 7 } })).toEqual({
      _id: { tenant: "a", seq: 7 },
      v: 2,
    });
  });

  it("insertMany returns one distinct ObjectId per document, keyed by position", async () => {
    const coll = t.db.collection<{ i: number }>("insert_many");
    const docs = Array.from({ length: 25 }, (_, i) => ({ i }));
    const res = await coll.insertMany(docs);
    expect(res.insertedCount).toBe(25);
    const ids = Object.entries(res.insertedIds).sort(([a], [b]) => Number(a) - Number(b));
    expect(ids.map(([index]) => Number(index))).toEqual(docs.map((_, i) => i));
    for (const [, id] of ids) expect(id).toBeInstanceOf(ObjectId);
    expect(new Set(ids.map(([, id]) => id.toHexString())).size).toBe(25);

    const stored = await coll.find().sort({ i: 1 }).toArray();
    expect(stored).toHaveLength(25);
    for (const doc of stored) {
      expect(doc._id).toBeInstanceOf(ObjectId);
      expect(doc._id.equals(res.insertedIds[doc.i]!)).toBe(true);
    }
  });

  it("the server puts _id first in a stored document", async () => {
    const coll = t.db.collection<{ _id: number; a: number; b: number }>("id_first");
    await coll.insertOne({ a: 1, _id: 7, b: 2 });
    const doc = await coll.findOne({ _id: 7 });
    expect(Object.keys(doc ?? {})).toEqual(["_id", "a", "b"]);
  });
});

describe("find", () => {
  beforeEach(async () => {
    await people().deleteMany({});
    await people().insertMany(PEOPLE);
  });

  const ids = (docs: { _id: number }[]) => docs.map((d) => d._id);

  it("filters on equality, ranges and nested fields", async () => {
    expect(ids(await people().find({ city: "Lisbon" }).sort({ _id: 1 }).toArray())).toEqual([
      1, 3, 5,
    ]);
    expect(
      ids(
        await people()
          .find({ age: { $gte: 30, $lt: 42 } })
          .sort({ _id: 1 })
          .toArray(),
      ),
    ).toEqual([1, 3]);
    expect(ids(await people().find({ "address.zip": "4000" }).toArray())).toEqual([2]);
    expect(await people().find({ city: "Nowhere" }).toArray()).toEqual([]);
  });

  it("an empty filter returns every document; a missing collection returns none", async () => {
    expect(await people().find({}).toArray()).toHaveLength(5);
    expect(await t.db.collection("never_created").find({}).toArray()).toEqual([]);
    expect(await t.db.collection("never_created").countDocuments()).toBe(0);
  });

  it("findOne returns the first match or null", async () => {
    expect(await people().findOne({ _id: 4 })).toEqual(PEOPLE[3]);
    expect(await people().findOne({ _id: 99 })).toBeNull();
  });

  it("projection: inclusion keeps _id unless excluded", async () => {
    const docs = await people()
      .find({ _id: { $in: [1, 2] } }, { projection: { name: 1 } })
      .sort({ _id: 1 })
      .toArray();
    expect(docs).toEqual([
      { _id: 1, name: "ana" },
      { _id: 2, name: "bruno" },
    ]);
    const noId = await people().findOne({ _id: 1 }, { projection: { name: 1, city: 1, _id: 0 } });
    expect(noId).toEqual({ name: "ana", city: "Lisbon" });
  });

  it("projection: exclusion drops only the named fields", async () => {
    const doc = await people().findOne({ _id: 1 }, { projection: { address: 0, langs: 0 } });
    expect(doc).toEqual({ _id: 1, name: "ana", age: 31, city: "Lisbon" });
  });

  it("projection: dotted paths select inside embedded documents", async () => {
    const docs = await people()
      .find({}, { projection: { "address.zip": 1, _id: 0 } })
      .sort({ _id: 1 })
      .toArray();
    // Documents without the embedded document come back empty, not dropped.
    expect(docs).toEqual([
      { address: { zip: "1000" } },
      { address: { zip: "4000" } },
      {},
      { address: { zip: "10115" } },
      {},
    ]);
  });

  it("projection: $slice trims an array and keeps the other fields", async () => {
    const doc = await people().findOne({ _id: 3 }, { projection: { langs: { $slice: 2 } } });
    expect(doc).toEqual({ _id: 3, name: "carla", age: 31, city: "Lisbon", langs: ["en", "fr"] });
    const last = await people().findOne(
      { _id: 3 },
      { projection: { langs: { $slice: -1 }, name: 1 } },
    );
    expect(last).toEqual({ _id: 3, name: "carla", langs: ["de"] });
  });

  it("projection: $elemMatch returns only the first matching element", async () => {
    const doc = await people().findOne(
      { _id: 4 },
      { projection: { langs: { $elemMatch: { $in: ["en", "de"] } } } },
    );
    expect(doc).toEqual({ _id: 4, langs: ["de"] });
  });

  it("sorts on several keys, ascending and descending", async () => {
    const docs = await people().find().sort({ age: -1, name: 1 }).toArray();
    // A missing field sorts like null, i.e. below every number, so eve comes last descending.
    expect(ids(docs)).toEqual([4, 1, 3, 2, 5]);
    const asc = await people().find().sort({ age: 1, _id: -1 }).toArray();
    expect(ids(asc)).toEqual([5, 2, 3, 1, 4]);
  });

  it("sorts on a nested field", async () => {
    const docs = await people()
      .find({ address: { $exists: true } })
      .sort({ "address.street": -1 })
      .toArray();
    expect(ids(docs)).toEqual([4, 2, 1]);
  });

  it("sorting on an array field uses its smallest element ascending, largest descending", async () => {
    const asc = await people()
      .find({ langs: { $ne: [] } })
      .sort({ langs: 1, _id: 1 })
      .toArray();
    // Smallest elements: ana "en", bruno "pt", carla "de", dan "de".
    expect(ids(asc)).toEqual([3, 4, 1, 2]);
    const desc = await people()
      .find({ langs: { $ne: [] } })
      .sort({ langs: -1, _id: 1 })
      .toArray();
    // Largest elements: ana "pt", bruno "pt", carla "fr", dan "en".
    expect(ids(desc)).toEqual([1, 2, 3, 4]);
  });

  it("$in with an empty list matches nothing", async () => {
    expect(
      await people()
        .find({ city: { $in: [] } })
        .toArray(),
    ).toEqual([]);
    expect(await people().countDocuments({ city: { $nin: [] } })).toBe(5);
  });

  it("skip and limit page through a sorted result", async () => {
    const page = await people().find().sort({ _id: 1 }).skip(1).limit(2).toArray();
    expect(ids(page)).toEqual([2, 3]);
    const past = await people().find().sort({ _id: 1 }).skip(10).toArray();
    expect(past).toEqual([]);
    const all = await people().find().sort({ _id: 1 }).limit(0).toArray();
    expect(ids(all)).toEqual([1, 2, 3, 4, 5]);
  });
});

describe("replace and delete", () => {
  beforeEach(async () => {
    await people().deleteMany({});
    await people().insertMany(PEOPLE);
  });

  it("replaceOne swaps the whole document but keeps _id", async () => {
    const res = await people().replaceOne({ _id: 1 }, { name: "ANA", city: "Faro", langs: [] });
    expect(res).toMatchObject({ matchedCount: 1, modifiedCount: 1, upsertedCount: 0 });
    expect(await people().findOne({ _id: 1 })).toEqual({
      _id: 1,
      name: "ANA",
      city: "Faro",
      langs: [],
    });
  });

  it("replaceOne with no match changes nothing", async () => {
    const res = await people().replaceOne({ _id: 99 }, { name: "x", city: "y", langs: [] });
    expect(res).toMatchObject({ matchedCount: 0, modifiedCount: 0, upsertedCount: 0 });
    expect(await people().countDocuments()).toBe(5);
  });

  it("deleteOne removes a single match even when several match", async () => {
    const res = await people().deleteOne({ city: "Lisbon" });
    expect(res).toEqual({ acknowledged: true, deletedCount: 1 });
    expect(await people().countDocuments({ city: "Lisbon" })).toBe(2);
  });

  it("deleteMany removes every match and reports the count", async () => {
    expect((await people().deleteMany({ langs: "en" })).deletedCount).toBe(3);
    expect((await people().deleteMany({ langs: "en" })).deletedCount).toBe(0);
    expect((await people().find().sort({ _id: 1 }).toArray()).map((d) => d._id)).toEqual([2, 5]);
    expect((await people().deleteMany({})).deletedCount).toBe(2);
    expect(await people().countDocuments()).toBe(0);
  });
});

describe("counting and distinct", () => {
  beforeEach(async () => {
    await people().deleteMany({});
    await people().insertMany(PEOPLE);
  });

  it("countDocuments honours filter, skip and limit", async () => {
    expect(await people().countDocuments()).toBe(5);
    expect(await people().countDocuments({ city: "Lisbon" })).toBe(3);
    expect(await people().countDocuments({ city: "Lisbon" }, { skip: 1 })).toBe(2);
    expect(await people().countDocuments({}, { limit: 2 })).toBe(2);
    expect(await people().countDocuments({ age: { $gt: 100 } })).toBe(0);
  });

  it("estimatedDocumentCount reports the collection size", async () => {
    expect(await people().estimatedDocumentCount()).toBe(5);
    await people().insertOne({ _id: 6, name: "fil", city: "Faro", langs: [] });
    expect(await people().estimatedDocumentCount()).toBe(6);
  });

  it("distinct returns each value once, flattening arrays", async () => {
    expect((await people().distinct("city")).sort()).toEqual(["Berlin", "Lisbon", "Porto"]);
    expect((await people().distinct("langs")).sort()).toEqual(["de", "en", "fr", "pt"]);
    expect((await people().distinct("address.zip", { city: { $ne: "Porto" } })).sort()).toEqual([
      "1000",
      "10115",
    ]);
    expect((await people().distinct("age")).sort((a, b) => Number(a) - Number(b))).toEqual([
      25, 31, 42,
    ]);
    expect(await people().distinct("nope")).toEqual([]);
  });
});
