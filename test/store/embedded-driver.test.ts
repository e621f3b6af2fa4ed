import {
  Binary,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  MongoClient,
  MongoServerError,
  ObjectId,
  Timestamp,
  UUID,
} from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usePrivateStore } from "./embedded-helpers.js";

const h = usePrivateStore();
let client: MongoClient;

beforeAll(async () => {
  client = new MongoClient(h.store.uri, { serverSelectionTimeoutMS: 5_000 });
  await client.connect();
});
afterAll(async () => {
  await client?.close();
});

const db = () => client.db("driver");

// Loosely typed on purpose: these documents mix shapes and BSON types freely.
// biome-ignore lint/suspicious/noExplicitAny: see above.
type Loose = { _id?: number | string | ObjectId; [field: string]: any };

async function serverError(promise: Promise<unknown>): Promise<MongoServerError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MongoServerError);
  return error as MongoServerError;
}

const TXN_REFUSED = "Transaction numbers are only allowed on a replica set member or mongos";

describe("refusals of a standalone mongod", () => {
  it("session.withTransaction rejects with IllegalOperation (20)", async () => {
    const coll = db().collection<{ _id: number }>("txn");
    const session = client.startSession();
    try {
      const read = await serverError(
        session.withTransaction(async () => {
          await coll.findOne({}, { session });
        }),
      );
      expect(read.code).toBe(20);
      expect(read.codeName).toBe("IllegalOperation");
      expect(read.message).toBe(TXN_REFUSED);
      // For writes driver 7 wraps code 20 in its retryable-writes hint, keeping the server error.
      const write = await serverError(
        session.withTransaction(async () => {
          await coll.insertOne({ _id: 1 }, { session });
        }),
      );
      const original = (write as MongoServerError & { originalError?: MongoServerError })
        .originalError;
      expect(original?.code ?? write.code).toBe(20);
    } finally {
      await session.endSession();
    }
    expect(await coll.countDocuments()).toBe(0);
  });

  it("collection.watch() fails with 40573", async () => {
    const stream = db().collection("watched").watch();
    try {
      const error = await serverError(stream.tryNext());
      expect(error.code).toBe(40573);
      expect(error.message).toBe("The $changeStream stage is only supported on replica sets");
    } finally {
      await stream.close();
    }
  });

  it("an unknown command is CommandNotFound (59)", async () => {
    const error = await serverError(db().command({ frobnicate: 1 }));
    expect(error.code).toBe(59);
    expect(error.codeName).toBe("CommandNotFound");
    expect(error.message).toBe("no such command: 'frobnicate'");
  });

  it("admin-only commands fail on another database with Unauthorized (13)", async () => {
    const error = await serverError(db().command({ listDatabases: 1 }));
    expect(error.code).toBe(13);
    expect(error.message).toBe("listDatabases may only be run against the admin database.");
  });
});

describe("BSON types survive insert, find, update and aggregate", () => {
  const UUID_HEX = "3b241101-e2bb-4255-8caf-4136c566a962";
  const sample = () => ({
    _id: new ObjectId("64b7c1f0a1b2c3d4e5f60718"),
    oid: new ObjectId("000102030405060708090a0b"),
    when: new Date("2024-02-29T23:59:59.999Z"),
    int: new Int32(-7),
    double: new Double(3),
    fraction: 0.1,
    long: Long.fromString("-9007199254740993"),
    maxLong: Long.MAX_VALUE,
    dec: Decimal128.fromString("-0.000000000000000000000000000000001"),
    decScale: Decimal128.fromString("100.00"),
    bin: new Binary(Buffer.from([255, 0, 1]), 0x80),
    uuid: new UUID(UUID_HEX),
    ts: new Timestamp({ t: 1, i: 2 }),
    re: /a.b/s,
    min: new MinKey(),
    max: new MaxKey(),
    nested: { list: [Long.fromNumber(5), Decimal128.fromString("5.50"), new Double(5)] },
  });
  const coll = () => db().collection("types");

  beforeAll(async () => {
    await coll().insertOne(sample());
  });

  function expectTypes(doc: Record<string, unknown> | null) {
    expect(doc).not.toBeNull();
    const d = doc as Loose;
    expect(d._id).toEqual(sample()._id);
    expect(d.oid).toBeInstanceOf(ObjectId);
    expect(d.oid.toHexString()).toBe("000102030405060708090a0b");
    expect(d.when.toISOString()).toBe("2024-02-29T23:59:59.999Z");
    expect(d.int).toBeInstanceOf(Int32);
    expect(d.double).toBeInstanceOf(Double);
    expect(d.double.value).toBe(3);
    expect(d.fraction).toBeInstanceOf(Double);
    expect(d.long).toBeInstanceOf(Long);
    expect(d.long.toString()).toBe("-9007199254740993");
    expect(d.maxLong.toString()).toBe(Long.MAX_VALUE.toString());
    expect(d.dec).toBeInstanceOf(Decimal128);
    expect(d.dec.toString()).toBe("-1E-33");
    expect(d.decScale.toString()).toBe("100.00");
    expect(d.bin.sub_type).toBe(0x80);
    expect(Buffer.from(d.bin.buffer).toString("hex")).toBe("ff0001");
    expect(d.uuid.sub_type).toBe(4);
    expect(d.uuid.toUUID().toHexString()).toBe(UUID_HEX);
    expect(d.ts).toBeInstanceOf(Timestamp);
    expect([d.ts.t, d.ts.i]).toEqual([1, 2]);
    expect(d.min).toBeInstanceOf(MinKey);
    expect(d.max).toBeInstanceOf(MaxKey);
    expect(d.nested.list[0]).toBeInstanceOf(Long);
    expect(d.nested.list[1].toString()).toBe("5.50");
    expect(d.nested.list[2]).toBeInstanceOf(Double);
  }

  it("find returns every type unchanged (promoteValues: false)", async () => {
    expectTypes(await coll().findOne({}, { promoteValues: false }));
  });

  it("an update of another field leaves every type unchanged", async () => {
    await coll().updateOne({ _id: sample()._id }, { $set: { touched: true } });
    expectTypes(await coll().findOne({ touched: true }, { promoteValues: false }));
  });

  it("aggregate ($match, $addFields, $project) keeps the types", async () => {
    const [doc] = await coll()
      .aggregate(
        [
          { $match: { long: Long.fromString("-9007199254740993") } },
          { $addFields: { extra: 1 } },
          { $project: { extra: 0 } },
        ],
        { promoteValues: false },
      )
      .toArray();
    expectTypes(doc ?? null);
  });

  it("queries match by value across numeric types and by exact type with $type", async () => {
    expect(await coll().countDocuments({ "nested.list": 5 })).toBe(1);
    expect(await coll().countDocuments({ "nested.list": Decimal128.fromString("5.5") })).toBe(1);
    expect(
      await coll().countDocuments({ long: { $lt: Long.fromString("-9007199254740992") } }),
    ).toBe(1);
    expect(
      await coll().countDocuments({ int: { $type: "int" }, double: { $type: "double" } }),
    ).toBe(1);
    expect(await coll().countDocuments({ uuid: new UUID(UUID_HEX) })).toBe(1);
    expect(await coll().countDocuments({ bin: new Binary(Buffer.from([255, 0, 1]), 0x80) })).toBe(
      1,
    );
  });

  it("arithmetic keeps mongod's result types", async () => {
    await coll().updateOne(
      { _id: sample()._id },
      {
        $inc: { int: 1, long: 1, decScale: Decimal128.fromString("0.5"), double: 1 },
        $mul: { fraction: 10 },
      },
    );
    const d = (await coll().findOne({}, { promoteValues: false })) as Loose;
    expect(d.int).toBeInstanceOf(Int32);
    expect(d.int.value).toBe(-6);
    expect(d.long.toString()).toBe("-9007199254740992");
    expect(d.decScale.toString()).toBe("100.50");
    expect(d.double).toBeInstanceOf(Double);
    expect(d.double.value).toBe(4);
    expect(d.fraction).toBeInstanceOf(Double);
    expect(d.fraction.value).toBe(1);
  });

  it("int32 overflow from $inc becomes int64", async () => {
    await coll().insertOne({ _id: new ObjectId(), counter: 2147483647 });
    await coll().updateOne({ counter: 2147483647 }, { $inc: { counter: 1 } });
    const d = await coll().findOne({ counter: { $gt: 2147483647 } }, { promoteLongs: false });
    expect(d?.counter).toBeInstanceOf(Long);
    expect(d?.counter.toString()).toBe("2147483648");
  });
});

describe("mongod's error codes", () => {
  const coll = () => db().collection<Loose>("errors");

  it("duplicate keys: message, keyPattern and keyValue as mongod reports them", async () => {
    await coll().createIndex({ email: 1 }, { unique: true });
    await coll().insertOne({ _id: new ObjectId("65a1b2c3d4e5f60718293a4b"), email: "a@x" });
    const error = await serverError(coll().insertOne({ email: "a@x" }));
    expect(error.code).toBe(11000);
    expect(error.message).toBe(
      `E11000 duplicate key error collection: driver.errors index: email_1 dup key: { email: "a@x" }`,
    );
    expect(error.keyPattern).toEqual({ email: 1 });
    expect(error.keyValue).toEqual({ email: "a@x" });
    const byId = await serverError(
      coll().insertOne({ _id: new ObjectId("65a1b2c3d4e5f60718293a4b") }),
    );
    expect(byId.message).toBe(
      "E11000 duplicate key error collection: driver.errors index: _id_ dup key: { _id: ObjectId('65a1b2c3d4e5f60718293a4b') }",
    );
  });

  it("an unordered insertMany reports every failure by index and inserts the rest", async () => {
    const many = db().collection<{ _id: number }>("unordered");
    await many.insertOne({ _id: 2 });
    const error = await many
      .insertMany([{ _id: 1 }, { _id: 2 }, { _id: 3 }, { _id: 1 }, { _id: 4 }], { ordered: false })
      .catch(
        (e: unknown) =>
          e as { writeErrors: { index: number; code: number }[]; insertedCount: number },
      );
    const writeErrors = (error as { writeErrors: { index: number; code: number }[] }).writeErrors;
    expect(writeErrors.map((e) => [e.index, e.code])).toEqual([
      [1, 11000],
      [3, 11000],
    ]);
    expect((error as { insertedCount: number }).insertedCount).toBe(3);
    expect((await many.find().sort({ _id: 1 }).toArray()).map((d) => d._id)).toEqual([1, 2, 3, 4]);
  });

  it("index conflicts: 85, 86, 27, 72, 26", async () => {
    await coll().createIndex({ a: 1 }, { name: "a_idx" });
    expect((await serverError(coll().createIndex({ a: 1 }, { name: "other" }))).code).toBe(85);
    expect((await serverError(coll().createIndex({ b: 1 }, { name: "a_idx" }))).code).toBe(86);
    expect(
      (await serverError(coll().createIndex({ a: 1 }, { name: "a_idx", unique: true }))).code,
    ).toBe(86);
    expect((await serverError(coll().dropIndex("nope"))).code).toBe(27);
    expect((await serverError(coll().dropIndex("_id_"))).code).toBe(72);
    expect((await serverError(db().collection("missing").indexes())).code).toBe(26);
    await db().command({ dropIndexes: "errors", index: { a: 1 } });
    expect((await coll().indexes()).map((i) => i.name)).not.toContain("a_idx");
  });

  it("create of an existing collection is NamespaceExists (48)", async () => {
    await db().createCollection("twice");
    expect((await serverError(db().createCollection("twice"))).code).toBe(48);
  });

  it("$text without a text index is IndexNotFound (27)", async () => {
    const error = await serverError(
      coll()
        .find({ $text: { $search: "x" } })
        .toArray(),
    );
    expect(error.code).toBe(27);
    expect(error.message).toBe("text index required for $text query");
  });

  it("_id is immutable (66), both for operators and replacements", async () => {
    await coll().insertOne({ _id: "fixed", a: 1 });
    expect(
      (await serverError(coll().updateOne({ _id: "fixed" }, { $set: { _id: "moved" } }))).code,
    ).toBe(66);
    expect(
      (await serverError(coll().replaceOne({ _id: "fixed" }, { _id: "moved", a: 2 }))).code,
    ).toBe(66);
    expect(await coll().findOne({ _id: "fixed" })).toEqual({ _id: "fixed", a: 1 });
  });

  it("an unknown operator is BadValue (2); an unknown stage is 40324", async () => {
    expect(
      (
        await serverError(
          coll()
            .find({ a: { $frob: 1 } })
            .toArray(),
        )
      ).code,
    ).toBe(2);
    expect(
      (
        await serverError(
          coll()
            .aggregate([{ $frob: {} }])
            .toArray(),
        )
      ).code,
    ).toBe(40324);
  });

  it("getMore on an unknown cursor is CursorNotFound (43)", async () => {
    const error = await serverError(
      db().command({ getMore: Long.fromNumber(12345), collection: "errors" }),
    );
    expect(error.code).toBe(43);
  });
});

describe("admin and catalog commands", () => {
  it("buildInfo, serverStatus, whatsmyuri, getParameter", async () => {
    const admin = client.db("admin");
    const build = await admin.command({ buildInfo: 1 });
    expect(build).toMatchObject({ version: "7.0.0", versionArray: [7, 0, 0, 0], ok: 1 });
    const status = await admin.command({ serverStatus: 1 });
    expect(status).toMatchObject({ process: "mongod", version: "7.0.0", ok: 1 });
    expect(status.connections.current).toBeGreaterThan(0);
    expect((await admin.command({ whatsmyuri: 1 })).you).toMatch(/^127\.0\.0\.1:\d+$/);
    const all = await admin.command({ getParameter: "*" });
    expect(all.ttlMonitorSleepSecs).toBeTypeOf("number");
    const unknown = await serverError(admin.command({ setParameter: 1, noSuchParameter: 1 }));
    expect(unknown.code).toBe(72);
  });

  it("lists, renames and drops collections and databases", async () => {
    const cat = client.db("catalog");
    await cat.collection("a").insertOne({ x: 1 });
    await cat.createCollection("b");
    expect(
      (await cat.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name),
    ).toEqual(["a", "b"]);
    expect((await cat.listCollections({ name: "a" }).toArray())[0]).toMatchObject({
      name: "a",
      type: "collection",
      idIndex: { key: { _id: 1 }, name: "_id_" },
    });
    await cat.collection("a").rename("c");
    expect(await cat.collection("c").countDocuments()).toBe(1);
    expect(await cat.collection("a").countDocuments()).toBe(0);
    const stats = await cat.command({ collStats: "c" });
    expect(stats).toMatchObject({ ns: "catalog.c", count: 1, nindexes: 1 });
    expect((await cat.stats()).collections).toBe(2);
    const names = async () =>
      (
        (await client.db("admin").command({ listDatabases: 1, nameOnly: true })).databases as {
          name: string;
        }[]
      ).map((d) => d.name);
    expect(await names()).toContain("catalog");
    const filtered = await client
      .db("admin")
      .command({ listDatabases: 1, filter: { name: "catalog" } });
    expect(filtered.databases.map((d: { name: string }) => d.name)).toEqual(["catalog"]);
    expect(await cat.collection("b").drop()).toBe(true);
    await cat.dropDatabase();
    expect(await names()).not.toContain("catalog");
  });

  it("$out replaces the target collection with the pipeline's result", async () => {
    const src = db().collection<{ _id: number; g: string }>("out_src");
    await src.insertMany([
      { _id: 1, g: "a" },
      { _id: 2, g: "b" },
      { _id: 3, g: "a" },
    ]);
    await db().collection("out_dst").insertOne({ stale: true });
    await src.aggregate([{ $group: { _id: "$g", n: { $sum: 1 } } }, { $out: "out_dst" }]).toArray();
    const out = await db().collection("out_dst").find().sort({ _id: 1 }).toArray();
    expect(out).toEqual([
      { _id: "a", n: 2 },
      { _id: "b", n: 1 },
    ]);
  });
});
