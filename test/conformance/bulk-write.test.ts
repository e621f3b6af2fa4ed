import { MongoBulkWriteError, type WriteError } from "mongodb";
import { beforeEach, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/mongo.js";

const t = useTestDatabase();

interface Doc {
  _id: number;
  n?: number;
  small?: boolean;
  tag?: string;
}

const coll = () => t.db.collection<Doc>("bulk");

async function bulkFailure(op: () => Promise<unknown>): Promise<MongoBulkWriteError> {
  try {
    await op();
  } catch (err) {
    expect(err).toBeInstanceOf(MongoBulkWriteError);
    return err as MongoBulkWriteError;
  }
  throw new Error("expected the bulk write to fail");
}

const indexesOf = (err: MongoBulkWriteError) =>
  [err.writeErrors].flat().map((w: WriteError) => w.index);

beforeEach(async () => {
  await coll().deleteMany({});
});

describe("bulkWrite", () => {
  it("runs every kind of operation in order and reports the counts", async () => {
    const res = await coll().bulkWrite([
      { insertOne: { document: { _id: 1, n: 1 } } },
      { insertOne: { document: { _id: 2, n: 2 } } },
      { insertOne: { document: { _id: 3, n: 3 } } },
      { updateOne: { filter: { _id: 1 }, update: { $inc: { n: 10 } } } },
      { updateMany: { filter: { n: { $lte: 3 } }, update: { $set: { small: true } } } },
      { replaceOne: { filter: { _id: 3 }, replacement: { n: 30 } } },
      { updateOne: { filter: { _id: 9 }, update: { $set: { n: 9 } }, upsert: true } },
      { deleteOne: { filter: { _id: 2 } } },
      { deleteMany: { filter: { n: { $gte: 30 } } } },
    ]);
    expect(res.isOk()).toBe(true);
    expect(res.insertedCount).toBe(3);
    // updateOne (1) + updateMany (_id 2 and 3) + replaceOne (1); the upsert matched nothing.
    expect(res.matchedCount).toBe(4);
    expect(res.modifiedCount).toBe(4);
    expect(res.upsertedCount).toBe(1);
    expect(res.upsertedIds).toEqual({ 6: 9 });
    expect(res.deletedCount).toBe(2);
    expect(res.insertedIds).toEqual({ 0: 1, 1: 2, 2: 3 });
    expect(await coll().find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 1, n: 11 },
      { _id: 9, n: 9 },
    ]);
  });

  it("unordered bulkWrite runs every operation and reports the same counts", async () => {
    const res = await coll().bulkWrite(
      [
        { insertOne: { document: { _id: 1, tag: "x" } } },
        { insertOne: { document: { _id: 2, tag: "x" } } },
        { updateMany: { filter: { tag: "nothing" }, update: { $set: { n: 0 } } } },
        { updateOne: { filter: { _id: 5 }, update: { $set: { tag: "u" } }, upsert: true } },
        { deleteOne: { filter: { _id: 42 } } },
      ],
      { ordered: false },
    );
    expect(res.insertedCount).toBe(2);
    expect(res.matchedCount).toBe(0);
    expect(res.modifiedCount).toBe(0);
    expect(res.upsertedCount).toBe(1);
    expect(res.upsertedIds).toEqual({ 3: 5 });
    expect(res.deletedCount).toBe(0);
    expect(await coll().countDocuments()).toBe(3);
  });

  it("an ordered bulkWrite stops at the first error", async () => {
    await coll().insertOne({ _id: 1 });
    const err = await bulkFailure(() =>
      coll().bulkWrite([
        { insertOne: { document: { _id: 2 } } },
        { insertOne: { document: { _id: 1 } } },
        { insertOne: { document: { _id: 3 } } },
        { updateOne: { filter: { _id: 2 }, update: { $set: { n: 5 } } } },
      ]),
    );
    expect(err.code).toBe(11000);
    expect(indexesOf(err)).toEqual([1]);
    expect(err.insertedCount).toBe(1);
    expect(err.matchedCount).toBe(0);
    expect(await coll().find().sort({ _id: 1 }).toArray()).toEqual([{ _id: 1 }, { _id: 2 }]);
  });

  it("an unordered bulkWrite runs past errors and reports them by position", async () => {
    // The server may run unordered operations in any order, so none depends on another.
    await coll().insertMany([{ _id: 1 }, { _id: 7, n: 0 }, { _id: 8 }]);
    const err = await bulkFailure(() =>
      coll().bulkWrite(
        [
          { insertOne: { document: { _id: 1 } } },
          { insertOne: { document: { _id: 2 } } },
          { updateOne: { filter: { _id: 7 }, update: { $set: { n: 5 } } } },
          { insertOne: { document: { _id: 7 } } },
          { deleteOne: { filter: { _id: 8 } } },
        ],
        { ordered: false },
      ),
    );
    expect(err.code).toBe(11000);
    expect(indexesOf(err).sort()).toEqual([0, 3]);
    expect(err.insertedCount).toBe(1);
    expect(err.matchedCount).toBe(1);
    expect(err.modifiedCount).toBe(1);
    expect(err.deletedCount).toBe(1);
    expect(await coll().find().sort({ _id: 1 }).toArray()).toEqual([
      { _id: 1 },
      { _id: 2 },
      { _id: 7, n: 5 },
    ]);
  });
});
