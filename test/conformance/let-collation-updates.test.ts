import type { Document } from "mongodb";
import { beforeEach, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/mongo.js";

// Behaviour documented by MongoDB for `let`, collation, update pipelines and `_id` rules.
const t = useTestDatabase();
type Doc = { _id: number } & Document;
const coll = () => t.db.collection<Doc>("cases");

beforeEach(async () => {
  await coll().deleteMany({});
  await coll().insertMany([
    { _id: 1, x: "ping", n: "10", name: "Étienne" },
    { _id: 2, x: "PING", n: "9", name: "etienne" },
    { _id: 3, x: "pong", n: "100", name: "Etienne" },
  ]);
});

const all = () =>
  coll()
    .find({}, { sort: { _id: 1 } })
    .toArray();

describe("let variables", () => {
  it("are visible to $expr in find, aggregate, count and distinct filters", async () => {
    const expr = { $expr: { $eq: ["$_id", "$$id"] } };
    expect(
      await coll()
        .find(expr, { let: { id: 2 } })
        .toArray(),
    ).toEqual([{ _id: 2, x: "PING", n: "9", name: "etienne" }]);
    const agg = await coll()
      .aggregate([{ $match: expr }, { $project: { _id: 0, x: 1, v: "$$v" } }], {
        let: { id: 3, v: { $concat: ["a", "b"] } },
      })
      .toArray();
    expect(agg).toEqual([{ x: "pong", v: "ab" }]);
  });

  it("are expressions evaluated once, e.g. $literal", async () => {
    await coll().updateMany({ $expr: { $lte: ["$_id", "$$max"] } }, [{ $set: { y: "$$y" } }], {
      let: { max: 2, y: { $literal: "$notAPath" } },
    });
    const docs = await all();
    expect(docs.map((d) => d.y)).toEqual(["$notAPath", "$notAPath", undefined]);
  });

  it("apply to updateOne, deleteOne, deleteMany and findOneAndUpdate/Delete", async () => {
    await coll().updateOne(
      { $expr: { $eq: ["$_id", "$$id"] } },
      { $set: { hit: true } },
      {
        let: { id: 3 },
      },
    );
    expect((await all()).filter((d) => d.hit).map((d) => d._id)).toEqual([3]);
    const updated = await coll().findOneAndUpdate(
      { $expr: { $eq: ["$_id", "$$id"] } },
      [{ $set: { z: "$$z" } }],
      { let: { id: 1, z: 5 }, returnDocument: "after" },
    );
    expect(updated?.z).toBe(5);
    const removed = await coll().findOneAndDelete(
      { $expr: { $eq: ["$x", "$$x"] } },
      {
        let: { x: "pong" },
      },
    );
    expect(removed?._id).toBe(3);
    expect(
      (await coll().deleteOne({ $expr: { $eq: ["$_id", "$$id"] } }, { let: { id: 2 } }))
        .deletedCount,
    ).toBe(1);
    expect(
      (await coll().deleteMany({ $expr: { $gte: ["$_id", "$$min"] } }, { let: { min: 0 } }))
        .deletedCount,
    ).toBe(1);
  });

  it("an undefined variable is an error", async () => {
    await expect(
      coll()
        .find({ $expr: { $eq: ["$_id", "$$nope"] } })
        .toArray(),
    ).rejects.toThrow(/undefined variable/i);
  });
});

describe("collation", () => {
  const caseInsensitive = { locale: "en_US", strength: 2 };

  it("strength 2 matches regardless of case in find, count and aggregate", async () => {
    const found = await coll().find({ x: "PING" }, { collation: caseInsensitive }).toArray();
    expect(found.map((d) => d._id)).toEqual([1, 2]);
    expect(await coll().countDocuments({ x: "ping" }, { collation: caseInsensitive })).toBe(2);
    const agg = await coll()
      .aggregate([{ $match: { x: { $in: ["PING"] } } }, { $count: "n" }], {
        collation: caseInsensitive,
      })
      .toArray();
    expect(agg).toEqual([{ n: 2 }]);
    // Without a collation strings compare byte-wise.
    expect(await coll().countDocuments({ x: "PING" })).toBe(1);
  });

  it("strength 1 ignores accents and case; strength 3 (the default) tells them apart", async () => {
    const base = await coll()
      .find({ name: "etienne" }, { collation: { locale: "fr", strength: 1 } })
      .toArray();
    expect(base.map((d) => d._id)).toEqual([1, 2, 3]);
    const tertiary = await coll()
      .find({ name: "etienne" }, { collation: { locale: "fr" } })
      .toArray();
    expect(tertiary.map((d) => d._id)).toEqual([2]);
  });

  it("caseLevel with strength 1 ignores accents but not case", async () => {
    const docs = await coll()
      .find({ name: "etienne" }, { collation: { locale: "fr", strength: 1, caseLevel: true } })
      .toArray();
    expect(docs.map((d) => d._id)).toEqual([2]);
  });

  it("numericOrdering sorts digit strings by number", async () => {
    const sorted = await coll()
      .find({}, { sort: { n: 1 }, collation: { locale: "en", numericOrdering: true } })
      .toArray();
    expect(sorted.map((d) => d.n)).toEqual(["9", "10", "100"]);
    const binary = await coll()
      .find({}, { sort: { n: 1 } })
      .toArray();
    expect(binary.map((d) => d.n)).toEqual(["10", "100", "9"]);
  });

  it("applies to updates, deletes and distinct", async () => {
    const r = await coll().updateMany(
      { x: "ping" },
      { $set: { seen: 1 } },
      {
        collation: caseInsensitive,
      },
    );
    expect(r.matchedCount).toBe(2);
    expect(await coll().distinct("x", {}, { collation: caseInsensitive })).toHaveLength(2);
    const d = await coll().deleteMany({ x: "PONG" }, { collation: caseInsensitive });
    expect(d.deletedCount).toBe(1);
  });

  it("refuses what it cannot honour instead of ignoring it", async () => {
    await expect(
      coll()
        .find({ x: "ping" }, { collation: { locale: "en", strength: 4 } })
        .toArray(),
    ).rejects.toThrow();
    await expect(
      coll()
        .find({}, { collation: { locale: "en", bogus: 1 } as never })
        .toArray(),
    ).rejects.toMatchObject({ code: 40415 });
    await expect(
      coll()
        .find({}, { collation: { locale: "xx_NOT_A_LOCALE" } })
        .toArray(),
    ).rejects.toThrow(/locale/);
  });
});

describe("update pipelines", () => {
  it("$setField writes $-prefixed and dotted field names", async () => {
    await coll().updateOne({ _id: 1 }, [
      { $replaceWith: { $setField: { field: { $literal: "$a" }, value: 1, input: "$$ROOT" } } },
    ]);
    await coll().updateOne({ _id: 2 }, [
      { $set: { sub: { $setField: { field: "a.b", value: 2, input: {} } } } },
    ]);
    const [one, two] = await all();
    expect(one).toEqual({ _id: 1, x: "ping", n: "10", name: "Étienne", $a: 1 });
    expect(two!.sub).toEqual({ "a.b": 2 });
  });

  it("keeps _id when the pipeline's result has none", async () => {
    const r = await coll().updateOne({ _id: 3 }, [{ $replaceWith: { only: "$x" } }]);
    expect(r.modifiedCount).toBe(1);
    const doc = await coll().findOne({ _id: 3 });
    expect(doc).toEqual({ _id: 3, only: "pong" });
    expect(Object.keys(doc!)).toEqual(["_id", "only"]);
  });

  it("refuses stages that cannot run in an update", async () => {
    await expect(coll().updateOne({ _id: 1 }, [{ $match: {} }])).rejects.toThrow(
      /not allowed to be used within an update/,
    );
  });
});

describe("unknown fields in write statements", () => {
  it("refuses an update statement with an unknown field and changes nothing", async () => {
    const error = await t.db
      .command({
        update: "cases",
        updates: [{ q: { _id: 1 }, u: { $set: { y: 1 } }, sort: { _id: 1 } }],
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 40415 });
    expect(String((error as Error).message)).toContain("update.updates.sort");
    expect((await coll().findOne({ _id: 1 }))?.y).toBeUndefined();
  });

  it("refuses a delete statement with a made-up field", async () => {
    const error = await t.db
      .command({ delete: "cases", deletes: [{ q: {}, limit: 0, madeUp: true }] })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 40415 });
    expect(await coll().countDocuments()).toBe(3);
  });
});

describe("_id field names", () => {
  it("refuses a $-prefixed key inside _id", async () => {
    await expect(coll().insertOne({ _id: { $a: 1 } } as never)).rejects.toMatchObject({
      code: 52,
    });
    await expect(coll().insertOne({ _id: { nested: { $b: 1 } } } as never)).rejects.toMatchObject({
      code: 52,
    });
  });

  it("accepts dotted keys inside _id", async () => {
    await coll().insertOne({ _id: { "a.b": 1 } } as never);
    expect(await coll().countDocuments({ _id: { "a.b": 1 } } as never)).toBe(1);
  });
});

describe.runIf(t.embedded)("collation on collections and indexes (embedded store)", () => {
  it("refuses a default collection collation and a collated index rather than ignoring them", async () => {
    await expect(
      t.db.createCollection("collated", { collation: { locale: "en", strength: 2 } }),
    ).rejects.toThrow(/collation/);
    await expect(
      coll().createIndex({ x: 1 }, { collation: { locale: "en", strength: 2 } }),
    ).rejects.toThrow(/collation/);
    expect(await coll().createIndex({ x: 1 }, { collation: { locale: "simple" } })).toBe("x_1");
  });
});

describe.runIf(t.embedded)("document validation (embedded store)", () => {
  it("refuses validators on create and collMod instead of storing them unenforced", async () => {
    await expect(
      t.db.createCollection("validated", { validator: { x: { $type: "string" } } }),
    ).rejects.toThrow(/validator/);
    await expect(
      t.db.command({ collMod: "cases", validator: { x: { $type: "string" } } }),
    ).rejects.toThrow(/validator/);
    await expect(t.db.command({ collMod: "cases", validationLevel: "strict" })).rejects.toThrow(
      /validationLevel/,
    );
    // Nothing was changed: a non-string x is still accepted.
    await coll().insertOne({ _id: 10, x: 5 });
    expect(await coll().countDocuments({ _id: 10 })).toBe(1);
  });

  it("refuses unknown collMod fields with mongod's error", async () => {
    await expect(t.db.command({ collMod: "cases", madeUp: 1 })).rejects.toMatchObject({
      code: 40415,
    });
  });
});
