import {
  MongoBulkWriteError as MongoBulkWriteErrorV6,
  MongoClient as MongoClientV6,
  MongoServerError as MongoServerErrorV6,
  ObjectId as ObjectIdV6,
} from "mongodb-v6";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/mongo.js";

// The v7 handle owns (and drops) the database; the v6 client works inside it.
const t = useTestDatabase();
const v6 = new MongoClientV6(t.uri, { serverSelectionTimeoutMS: 10_000 });

beforeAll(async () => {
  await v6.connect();
});
afterAll(async () => {
  await v6.close();
});

interface Event {
  _id?: ObjectIdV6;
  kind: string;
  n: number;
  email?: string;
}

describe("the v6 driver against the same store", () => {
  const coll = () => v6.db(t.name).collection<Event>("v6_events");

  it("does CRUD", async () => {
    const one = await coll().insertOne({ kind: "a", n: 1 });
    expect(one.insertedId).toBeInstanceOf(ObjectIdV6);
    const many = await coll().insertMany([
      { kind: "a", n: 2 },
      { kind: "b", n: 3 },
      { kind: "b", n: 4 },
    ]);
    expect(many.insertedCount).toBe(3);
    expect(
      await coll()
        .find({ kind: "b" }, { projection: { _id: 0 } })
        .sort({ n: -1 })
        .toArray(),
    ).toEqual([
      { kind: "b", n: 4 },
      { kind: "b", n: 3 },
    ]);
    const upd = await coll().updateMany({ kind: "a" }, { $inc: { n: 10 } });
    expect(upd).toMatchObject({ matchedCount: 2, modifiedCount: 2 });
    const fam = await coll().findOneAndUpdate(
      { n: 11 },
      { $set: { kind: "c" } },
      { returnDocument: "after" },
    );
    expect(fam).toMatchObject({ kind: "c", n: 11 });
    expect((await coll().deleteOne({ n: 3 })).deletedCount).toBe(1);
    expect(await coll().countDocuments()).toBe(3);
    // The v7 driver sees what v6 wrote.
    expect(await t.db.collection("v6_events").countDocuments({ kind: "c" })).toBe(1);
  });

  it("aggregates", async () => {
    const rows = await coll()
      .aggregate<{ _id: string; total: number }>([
        { $group: { _id: "$kind", total: { $sum: "$n" } } },
        { $sort: { _id: 1 } },
      ])
      .toArray();
    expect(rows).toEqual([
      { _id: "a", total: 12 },
      { _id: "b", total: 4 },
      { _id: "c", total: 11 },
    ]);
  });

  it("reports unique index violations", async () => {
    const users = v6.db(t.name).collection<Event>("v6_users");
    await users.createIndex({ email: 1 }, { unique: true });
    await users.insertOne({ kind: "u", n: 1, email: "x@example.com" });
    const err = await users
      .insertOne({ kind: "u", n: 2, email: "x@example.com" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MongoServerErrorV6);
    expect((err as MongoServerErrorV6).code).toBe(11000);
    expect((err as MongoServerErrorV6).message).toMatch(
      new RegExp(
        `^E11000 duplicate key error collection: ${t.name}\\.v6_users index: email_1 dup key:`,
      ),
    );
    expect((err as MongoServerErrorV6).keyValue).toEqual({ email: "x@example.com" });

    const bulk = await users
      .insertMany(
        [
          { kind: "u", n: 3, email: "y@example.com" },
          { kind: "u", n: 4, email: "x@example.com" },
          { kind: "u", n: 5, email: "z@example.com" },
        ],
        { ordered: false },
      )
      .catch((e: unknown) => e);
    expect(bulk).toBeInstanceOf(MongoBulkWriteErrorV6);
    expect((bulk as MongoBulkWriteErrorV6).insertedCount).toBe(2);
    expect(await users.countDocuments()).toBe(3);
  });
});
