import {
  Binary,
  BSONRegExp,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  ObjectId,
  Timestamp,
  UUID,
} from "mongodb";
import { beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/mongo.js";

const t = useTestDatabase();

// Loosely typed on purpose: these documents mix shapes and BSON types freely.
// biome-ignore lint/suspicious/noExplicitAny: see above.
type Doc = { _id?: number | string | ObjectId; [field: string]: any };

const BIG = "9007199254740993"; // 2^53 + 1: a JS number would silently round it.
const UUID_HEX = "0f8fad5b-d9cb-469f-a165-70867728950e";

function original(): Doc {
  return {
    _id: new ObjectId("65a1b2c3d4e5f60718293a4b"),
    oid: new ObjectId("000000000000000000000001"),
    when: new Date("2025-03-04T05:06:07.089Z"),
    beforeEpoch: new Date("1969-07-20T20:17:40.123Z"),
    int: 42,
    double: 42.5,
    wholeDouble: new Double(7),
    long: Long.fromString(BIG),
    minLong: Long.fromString("-9223372036854775808"),
    dec: Decimal128.fromString("1234567890.123456789012345678901234"),
    decTrailingZero: Decimal128.fromString("1.10"),
    decNegZero: Decimal128.fromString("-0"),
    bin: new Binary(Buffer.from([0, 1, 2, 127, 128, 253, 254, 255])),
    uuid: new UUID(UUID_HEX),
    text: "ünïcødé 👍 \u0000 end",
    empty: "",
    yes: true,
    no: false,
    nothing: null,
    re: /^ab+c$/im,
    ts: new Timestamp({ t: 1_700_000_000, i: 7 }),
    min: new MinKey(),
    max: new MaxKey(),
    nested: { a: { b: { c: [1, { d: [[], {}] }] } }, "key with spaces": 1, ünï: 2 },
    arr: [1, "two", null, true, { x: 1 }, [3, [4]], new Date(0)],
    emptyArr: [],
    emptyDoc: {},
  };
}

const coll = () => t.db.collection<Doc>("bson");

beforeAll(async () => {
  await coll().insertOne(original());
});

describe("BSON round-trip", () => {
  it("returns every field with its value and in its original order", async () => {
    const back = await coll().findOne({ _id: original()._id });
    const expected = original();
    expected.wholeDouble = 7; // the driver promotes a Double to a JS number by default
    expected.long = Long.fromString(BIG); // too big for a JS number, so it stays a Long
    expected.minLong = Long.fromString("-9223372036854775808");
    expect(back).toEqual(expected);
    expect(Object.keys(back ?? {})).toEqual(Object.keys(expected));
    expect(Object.keys(back?.nested ?? {})).toEqual(["a", "key with spaces", "ünï"]);
  });

  it("ObjectId and Date come back as the same values", async () => {
    const back = await coll().findOne({});
    expect(back?._id).toBeInstanceOf(ObjectId);
    expect(String(back?._id)).toBe("65a1b2c3d4e5f60718293a4b");
    expect(back?.when).toBeInstanceOf(Date);
    expect(back?.when.toISOString()).toBe("2025-03-04T05:06:07.089Z");
    expect(back?.beforeEpoch.toISOString()).toBe("1969-07-20T20:17:40.123Z");
  });

  it("int64 values read back exactly as Long with promoteLongs: false", async () => {
    const back = await coll().findOne({}, { promoteLongs: false });
    expect(back?.long).toBeInstanceOf(Long);
    expect(back?.long.toString()).toBe(BIG);
    expect(back?.minLong.toString()).toBe("-9223372036854775808");
  });

  it("int64 values read back exactly as bigint with useBigInt64: true", async () => {
    const back = await coll().findOne({}, { useBigInt64: true });
    expect(back?.long).toBe(9007199254740993n);
    expect(back?.minLong).toBe(-9223372036854775808n);
    // int32 and double are unaffected by useBigInt64.
    expect(back?.int).toBe(42);
  });

  it("int32 and double keep their BSON types (promoteValues: false)", async () => {
    const back = await coll().findOne({}, { promoteValues: false });
    expect(back?.int).toBeInstanceOf(Int32);
    expect(back?.int.value).toBe(42);
    expect(back?.double).toBeInstanceOf(Double);
    expect(back?.double.value).toBe(42.5);
    expect(back?.wholeDouble).toBeInstanceOf(Double);
    expect(back?.wholeDouble.value).toBe(7);
  });

  it("Decimal128 keeps all 34 digits, trailing zeros and negative zero", async () => {
    const back = await coll().findOne({});
    expect(back?.dec).toBeInstanceOf(Decimal128);
    expect(back?.dec.toString()).toBe("1234567890.123456789012345678901234");
    expect(back?.decTrailingZero.toString()).toBe("1.10");
    expect(back?.decNegZero.toString()).toBe("-0");
  });

  it("Binary keeps its bytes and subtype, UUIDs included", async () => {
    const back = await coll().findOne({});
    expect(back?.bin).toBeInstanceOf(Binary);
    expect(back?.bin.sub_type).toBe(0);
    expect(Buffer.from(back?.bin.buffer).toString("hex")).toBe("0001027f80fdfeff");
    expect(back?.uuid).toBeInstanceOf(Binary);
    expect(back?.uuid.sub_type).toBe(4);
    expect(back?.uuid.toUUID().toHexString()).toBe(UUID_HEX);
  });

  it("regular expressions, timestamps and Min/MaxKey survive", async () => {
    const back = await coll().findOne({}, { bsonRegExp: true });
    expect(back?.re).toBeInstanceOf(BSONRegExp);
    expect(back?.re.pattern).toBe("^ab+c$");
    expect(back?.re.options).toBe("im");
    expect(back?.ts).toBeInstanceOf(Timestamp);
    expect(back?.ts.t).toBe(1_700_000_000);
    expect(back?.ts.i).toBe(7);
    expect(back?.min).toBeInstanceOf(MinKey);
    expect(back?.max).toBeInstanceOf(MaxKey);
  });

  it("typed values can be queried by equality", async () => {
    const o = original();
    for (const field of ["oid", "when", "long", "dec", "bin", "uuid", "ts", "nested", "arr"]) {
      expect(await coll().countDocuments({ [field]: o[field] }), field).toBe(1);
    }
    expect(
      await coll().countDocuments({ long: { $gt: Long.fromString("9007199254740992") } }),
    ).toBe(1);
    expect(
      await coll().countDocuments({ when: { $gt: new Date("2025-03-04T05:06:07.088Z") } }),
    ).toBe(1);
    expect(
      await coll().countDocuments({ when: { $gt: new Date("2025-03-04T05:06:07.089Z") } }),
    ).toBe(0);
  });
});

describe("numeric types", () => {
  const nums = () => t.db.collection<Doc>("bson_numbers");

  beforeAll(async () => {
    await nums().insertMany([
      { _id: "int", v: 42 },
      { _id: "long", v: Long.fromNumber(42) },
      { _id: "double", v: new Double(42) },
      { _id: "decimal", v: Decimal128.fromString("42.0") },
      { _id: "string", v: "42" },
      { _id: "small", v: Decimal128.fromString("2.75") },
      { _id: "smaller", v: 2.5 },
      { _id: "big", v: Long.fromNumber(100) },
    ]);
  });

  it("numbers of different BSON types compare by value", async () => {
    const equal = await nums().find({ v: 42 }).toArray();
    expect(equal.map((d) => d._id).sort()).toEqual(["decimal", "double", "int", "long"]);
    expect(await nums().countDocuments({ v: Long.fromNumber(42) })).toBe(4);
    expect(await nums().countDocuments({ v: Decimal128.fromString("42") })).toBe(4);
  });

  it("$type tells the stored types apart", async () => {
    const idsOfType = async (type: string) =>
      (
        await nums()
          .find({ v: { $type: type } })
          .toArray()
      )
        .map((d) => d._id)
        .sort();
    expect(await idsOfType("int")).toEqual(["int"]);
    expect(await idsOfType("long")).toEqual(["big", "long"]);
    expect(await idsOfType("double")).toEqual(["double", "smaller"]);
    expect(await idsOfType("decimal")).toEqual(["decimal", "small"]);
    expect(await idsOfType("string")).toEqual(["string"]);
  });

  it("sorting interleaves numeric types by value and puts strings after numbers", async () => {
    const sorted = await nums()
      .find({ _id: { $in: ["smaller", "small", "int", "big", "string"] } })
      .sort({ v: 1 })
      .toArray();
    expect(sorted.map((d) => d._id)).toEqual(["smaller", "small", "int", "big", "string"]);
  });

  it("$inc keeps the stored numeric type", async () => {
    await nums().updateOne({ _id: "long" }, { $inc: { v: 1 } });
    await nums().updateOne({ _id: "decimal" }, { $inc: { v: 1 } });
    const long = await nums().findOne({ _id: "long" }, { promoteLongs: false });
    expect(long?.v).toBeInstanceOf(Long);
    expect(long?.v.toNumber()).toBe(43);
    const dec = await nums().findOne({ _id: "decimal" });
    expect(dec?.v).toBeInstanceOf(Decimal128);
    expect(dec?.v.toString()).toBe("43.0");
  });
});

describe("comparison order across types", () => {
  it("sorts by the documented BSON type order", async () => {
    const mixed = t.db.collection<Doc>("bson_order");
    const values: [string, unknown][] = [
      ["maxkey", new MaxKey()],
      ["regex", /x/],
      ["timestamp", new Timestamp({ t: 1, i: 1 })],
      ["date", new Date(0)],
      ["bool", false],
      ["objectid", new ObjectId("000000000000000000000000")],
      ["bindata", new Binary(Buffer.from([1]))],
      ["object", { a: 1 }],
      ["string", "a"],
      ["number", 1],
      ["null", null],
      ["minkey", new MinKey()],
    ];
    await mixed.insertMany([...values.map(([_id, v]) => ({ _id, v })), { _id: "missing" }]);
    const order = (await mixed.find().sort({ v: 1 }).toArray()).map((d) => d._id);
    expect(order[0]).toBe("minkey");
    // A missing field sorts like null; the two may come in either order.
    expect(order.slice(1, 3).sort()).toEqual(["missing", "null"]);
    expect(order.slice(3)).toEqual([
      "number",
      "string",
      "object",
      "bindata",
      "objectid",
      "bool",
      "date",
      "timestamp",
      "regex",
      "maxkey",
    ]);
  });
});
