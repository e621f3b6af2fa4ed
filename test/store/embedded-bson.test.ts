import { Binary, BSON, Decimal128, Double, Long, MaxKey, MinKey, ObjectId, Timestamp } from "bson";
import { describe, expect, it } from "vitest";
import { roundHalfEven } from "../../src/store/embedded/agg-operators.js";
import { keyOf } from "../../src/store/embedded/bson-key.js";
import { arithmetic, compareNumeric } from "../../src/store/embedded/bson-numbers.js";
import { compareValues } from "../../src/store/embedded/bson-order.js";
import { decodeDocument, makePair, restoreTypes } from "../../src/store/embedded/bson-values.js";

describe("BSON order", () => {
  it("orders types as MongoDB does", () => {
    const ordered = [
      new MinKey(),
      null,
      -Infinity,
      Long.fromNumber(-1),
      0,
      Decimal128.fromString("0.5"),
      new Double(1),
      "A",
      "a",
      { a: 1 },
      [1],
      new Binary(Buffer.from([1])),
      new ObjectId("000000000000000000000001"),
      new ObjectId("ff0000000000000000000000"),
      false,
      true,
      new Date(0),
      new Timestamp({ t: 1, i: 1 }),
      /x/,
      new MaxKey(),
    ];
    for (let i = 1; i < ordered.length; i++) {
      expect(compareValues(ordered[i - 1], ordered[i]), `${i}`).toBeLessThan(0);
      expect(compareValues(ordered[i], ordered[i - 1]), `${i}`).toBeGreaterThan(0);
    }
    expect(compareValues(undefined, null)).toBe(0);
  });

  it("compares int64 and decimal exactly, beyond 2^53", () => {
    expect(compareNumeric(Long.fromString("9007199254740993"), 9007199254740992)).toBe(1);
    expect(
      compareNumeric(Decimal128.fromString("0.30000000000000000001"), Decimal128.fromString("0.3")),
    ).toBe(1);
    expect(compareNumeric(Decimal128.fromString("42.0"), Long.fromNumber(42))).toBe(0);
    expect(compareNumeric(Number.NaN, -Infinity)).toBe(-1);
  });

  it("gives equal values of different numeric types one key", () => {
    const keys = [1, new Double(1), Long.fromNumber(1), Decimal128.fromString("1.000")].map(keyOf);
    expect(new Set(keys).size).toBe(1);
    expect(keyOf(Long.fromString("9007199254740993"))).not.toBe(keyOf(9007199254740992));
    expect(keyOf({ a: 1, b: 2 })).not.toBe(keyOf({ b: 2, a: 1 }));
    expect(keyOf("1")).not.toBe(keyOf(1));
  });
});

describe("numeric arithmetic with mongod's promotions", () => {
  it("int + int stays int, overflowing to long", () => {
    expect(arithmetic("add", 1, 2)).toBe(3);
    expect(String(arithmetic("add", 2147483647, 1))).toBe("2147483648");
    expect(arithmetic("add", 2147483647, 1)).toBeInstanceOf(Long);
  });
  it("long stays long, decimal stays decimal with its scale, double wins over long", () => {
    expect(String(arithmetic("add", Long.fromString("9007199254740993"), 1))).toBe(
      "9007199254740994",
    );
    expect(String(arithmetic("add", Decimal128.fromString("42.0"), 1))).toBe("43.0");
    expect(String(arithmetic("multiply", Decimal128.fromString("1.10"), 3))).toBe("3.30");
    expect(arithmetic("add", Long.fromNumber(1), 0.5)).toBe(1.5);
    expect(arithmetic("add", new Double(1), 1)).toBeInstanceOf(Double);
  });
});

describe("typed and view forms", () => {
  it("decodes doubles with integral values as Double and other numbers as numbers", () => {
    const doc = decodeDocument(
      BSON.serialize({ i: 1, d: new Double(2), f: 2.5, l: Long.fromNumber(3), n: -0 }),
    );
    expect(doc.i).toBe(1);
    expect(doc.d).toBeInstanceOf(Double);
    expect(doc.f).toBe(2.5);
    expect(doc.l).toBeInstanceOf(Long);
    const { view } = makePair(doc);
    expect(view).toEqual({ i: 1, d: 2, f: 2.5, l: 3, n: -0 });
    expect(doc.n).toBeInstanceOf(Double);
  });

  it("restores types by path, promoting changed values only when asked", () => {
    const typed = {
      a: Long.fromNumber(5),
      b: { c: Decimal128.fromString("1.5") },
      d: [new Double(1)],
    };
    const restored = restoreTypes({ a: 5, b: { c: 2.5 }, d: [1], e: 1 }, typed, false) as Record<
      string,
      unknown
    >;
    expect(restored.a).toBe(typed.a);
    expect((restored.b as { c: unknown }).c).toBe(2.5);
    expect((restored.d as unknown[])[0]).toBe(typed.d[0]);
    const promoted = restoreTypes({ a: 6, b: { c: 2.5 } }, typed, true) as {
      a: unknown;
      b: { c: unknown };
    };
    expect(promoted.a).toBeInstanceOf(Long);
    expect(String(promoted.b.c)).toBe("2.5");
  });
});

describe("$round", () => {
  it("rounds half to even at any place", () => {
    expect([10.5, 11.5, 12.5, -2.5].map((v) => roundHalfEven(v, 0))).toEqual([10, 12, 12, -2]);
    expect(roundHalfEven(19.25, 1)).toBe(19.2);
    expect(roundHalfEven(1234.5678, -2)).toBe(1200);
    expect(roundHalfEven(47.125, 2)).toBe(47.12);
    expect(roundHalfEven(0.135, 2)).toBe(0.14);
  });
});
