import { MongoServerError } from "mongodb";
import { describe, expect, inject, it } from "vitest";
import { useTestDatabase } from "../support/mongo.js";

const t = useTestDatabase();

const TXN_REFUSED = "Transaction numbers are only allowed on a replica set member or mongos";

// The embedded store behaves like a standalone mongod. A TEST_MONGODB_URI may well point at a
// replica set, which accepts both, so these run against the embedded store only.
describe.skipIf(!inject("embedded"))("refused as on a standalone mongod", () => {
  it("reports itself as a standalone server", async () => {
    const hello = await t.db.admin().command({ hello: 1 });
    expect(hello.isWritablePrimary).toBe(true);
    expect(hello.setName).toBeUndefined();
    expect(hello.msg).toBeUndefined(); // "isdbgrid" would mean mongos
    expect(typeof hello.maxWireVersion).toBe("number");
    expect(typeof hello.logicalSessionTimeoutMinutes).toBe("number");
  });

  it("transactions fail with IllegalOperation and write nothing", async () => {
    const coll = t.db.collection<{ _id: number }>("txn");
    const session = t.client.startSession();
    try {
      // A read inside a transaction surfaces the server's error unchanged.
      const readErr = await session
        .withTransaction(async () => {
          await coll.findOne({}, { session });
        })
        .catch((e: unknown) => e);
      expect(readErr).toBeInstanceOf(MongoServerError);
      expect((readErr as MongoServerError).code).toBe(20);
      expect((readErr as MongoServerError).message).toBe(TXN_REFUSED);

      // For a write, the driver replaces the server's error (code 20) with its own hint and keeps
      // the server's as originalError.
      const writeErr = await session
        .withTransaction(async () => {
          await coll.insertOne({ _id: 1 }, { session });
          await coll.insertOne({ _id: 2 }, { session });
        })
        .catch((e: unknown) => e);
      expect(writeErr).toBeInstanceOf(MongoServerError);
      const original = (writeErr as { originalError?: MongoServerError }).originalError;
      expect(original).toBeInstanceOf(MongoServerError);
      expect(original?.code).toBe(20);
      expect(original?.message).toBe(TXN_REFUSED);
    } finally {
      await session.endSession();
    }
    expect(await coll.countDocuments()).toBe(0);
  });

  it("change streams fail with error 40573", async () => {
    const coll = t.db.collection("watched");
    await coll.insertOne({ x: 1 });
    const stream = coll.watch();
    try {
      const err = await stream.tryNext().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MongoServerError);
      expect((err as MongoServerError).code).toBe(40573);
      expect((err as MongoServerError).message).toBe(
        "The $changeStream stage is only supported on replica sets",
      );
    } finally {
      await stream.close();
    }
  });

  it("a $changeStream stage in a plain aggregate is refused the same way", async () => {
    const err = await t.db
      .collection("watched")
      .aggregate([{ $changeStream: {} }])
      .toArray()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MongoServerError);
    expect((err as MongoServerError).code).toBe(40573);
  });

  it("sessions without transactions still work", async () => {
    const coll = t.db.collection<{ _id: number }>("sessions_ok");
    await t.client.withSession(async (session) => {
      await coll.insertOne({ _id: 1 }, { session });
      expect(await coll.findOne({ _id: 1 }, { session })).toEqual({ _id: 1 });
    });
  });
});
