import { Decimal128, Long, MongoClient, ObjectId } from "mongodb-v6";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usePrivateStore } from "./embedded-helpers.js";

// The previous major version of the driver speaks to the store exactly as to a mongod 7.0.
const h = usePrivateStore();
let client: MongoClient;

beforeAll(async () => {
  client = new MongoClient(h.store.uri, { serverSelectionTimeoutMS: 5_000 });
  await client.connect();
});
afterAll(async () => {
  await client?.close();
});

interface Order {
  _id?: ObjectId;
  sku: string;
  qty: number;
  total: Decimal128;
  seq: Long;
  at: Date;
}

describe("driver v6", () => {
  const orders = () => client.db("v6").collection<Order>("orders");

  it("handshakes and pings", async () => {
    const hello = await client.db("admin").command({ hello: 1 });
    expect(hello.isWritablePrimary).toBe(true);
    expect(hello.maxWireVersion).toBe(21);
    expect(await client.db("admin").command({ ping: 1 })).toEqual({ ok: 1 });
  });

  it("round-trips CRUD with BSON types", async () => {
    const at = new Date("2025-05-05T05:05:05.005Z");
    const inserted = await orders().insertMany([
      {
        sku: "a",
        qty: 2,
        total: Decimal128.fromString("19.90"),
        seq: Long.fromString("9007199254740993"),
        at,
      },
      { sku: "b", qty: 1, total: Decimal128.fromString("5.00"), seq: Long.fromNumber(2), at },
      { sku: "a", qty: 5, total: Decimal128.fromString("49.75"), seq: Long.fromNumber(3), at },
    ]);
    expect(inserted.insertedCount).toBe(3);
    const first = await orders().findOne(
      { seq: Long.fromString("9007199254740993") },
      { promoteLongs: false },
    );
    expect(first?._id).toBeInstanceOf(ObjectId);
    expect(first?.total.toString()).toBe("19.90");
    expect(first?.seq.toString()).toBe("9007199254740993");
    expect(first?.at.toISOString()).toBe(at.toISOString());

    const updated = await orders().updateMany({ sku: "a" }, { $inc: { qty: 1 } });
    expect(updated).toMatchObject({ matchedCount: 2, modifiedCount: 2 });
    const upserted = await orders().updateOne(
      { sku: "c" },
      {
        $setOnInsert: { qty: 7, total: Decimal128.fromString("1.00"), seq: Long.fromNumber(4), at },
      },
      { upsert: true },
    );
    expect(upserted.upsertedId).toBeInstanceOf(ObjectId);
    const removed = await orders().findOneAndDelete({ sku: "b" });
    expect(removed?.sku).toBe("b");
    expect(await orders().countDocuments()).toBe(3);
  });

  it("aggregates", async () => {
    const rows = await orders()
      .aggregate<{ _id: string; qty: number; n: number }>([
        { $group: { _id: "$sku", qty: { $sum: "$qty" }, n: { $sum: 1 } } },
        { $sort: { _id: 1 } },
      ])
      .toArray();
    expect(rows).toEqual([
      { _id: "a", qty: 9, n: 2 },
      { _id: "c", qty: 7, n: 1 },
    ]);
  });

  it("creates, lists, uses and drops indexes", async () => {
    expect(await orders().createIndex({ sku: 1, at: -1 }, { name: "sku_at" })).toBe("sku_at");
    expect(await orders().createIndex({ seq: 1 }, { unique: true })).toBe("seq_1");
    const names = (await orders().indexes()).map((i) => i.name);
    expect(names).toEqual(["_id_", "sku_at", "seq_1"]);
    await expect(
      orders().insertOne({
        sku: "d",
        qty: 1,
        total: Decimal128.fromString("1"),
        seq: Long.fromNumber(3),
        at: new Date(),
      }),
    ).rejects.toMatchObject({ code: 11000 });
    const plan = await orders().find({ sku: "a" }).sort({ at: -1 }).explain();
    expect(JSON.stringify(plan.queryPlanner.winningPlan)).toContain("sku_at");
    await orders().dropIndex("sku_at");
    expect((await orders().indexes()).map((i) => i.name)).toEqual(["_id_", "seq_1"]);
  });

  it("pages through a cursor with getMore", async () => {
    const many = client.db("v6").collection<{ _id: number }>("many");
    await many.insertMany(Array.from({ length: 250 }, (_, i) => ({ _id: i })));
    const all = await many.find({}, { batchSize: 40 }).sort({ _id: -1 }).toArray();
    expect(all).toHaveLength(250);
    expect(all[0]?._id).toBe(249);
    expect(all[249]?._id).toBe(0);
  });
});
