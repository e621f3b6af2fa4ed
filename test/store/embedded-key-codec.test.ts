import { Binary, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp } from "bson";
import { describe, expect, it } from "vitest";
import {
  Bound,
  compareValues,
  EMPTY_ARRAY_KEY,
  Rank,
} from "../../src/store/embedded/bson-order.js";
import type { KeyField } from "../../src/store/embedded/index-keys.js";
import { encodeIndexKey, encodeValue } from "../../src/store/embedded/key-codec.js";
import { Prng } from "../support/prng.js";

/**
 * The byte encoding of index keys must order exactly as the store's comparator (MongoDB's
 * order), since SQLite compares index keys with memcmp: checked on many random pairs.
 */

const sign = (n: number): number => (n < 0 ? -1 : n > 0 ? 1 : 0);

function randomString(rng: Prng): string {
  // BMP below the surrogates: UTF-16 and UTF-8 order agree there (see key-codec.ts).
  const alphabet = ["", "a", "b", "A", "\0", "\u0001", "é", "z", "ä", "中", "\u00ff", "ab"];
  let s = "";
  const n = rng.int(0, 3);
  for (let i = 0; i < n; i++) s += alphabet[rng.int(0, alphabet.length - 1)];
  return s;
}

function randomNumber(rng: Prng): unknown {
  const base = [
    0,
    -0,
    1,
    -1,
    0.5,
    -0.5,
    0.1,
    2 ** 53,
    -(2 ** 53),
    1e21,
    1.5e-7,
    -1e300,
    5e-324,
    Infinity,
    -Infinity,
    Number.NaN,
    123456.789,
    rng.int(-1000, 1000),
    rng.int(-1000, 1000) / 8,
  ][rng.int(0, 18)]!;
  switch (rng.int(0, 5)) {
    case 0:
      return Number.isInteger(base) && Math.abs(base) < 2 ** 31 ? new Int32(base) : base;
    case 1:
      return new Double(base);
    case 2:
      return Number.isSafeInteger(base)
        ? Long.fromNumber(base)
        : Long.fromString(
            ["9223372036854775807", "-9223372036854775808", "9007199254740993"][rng.int(0, 2)]!,
          );
    case 3:
      return Decimal128.fromString(
        [
          "1.00",
          "-0",
          "0.1",
          "1E+6144",
          "-1E-6143",
          "NaN",
          "Infinity",
          "-Infinity",
          "9007199254740993",
          "0.5000",
        ][rng.int(0, 9)]!,
      );
    default:
      return base;
  }
}

function randomValue(rng: Prng, depth = 0): unknown {
  switch (rng.int(0, depth > 1 ? 11 : 13)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5) ? new MinKey() : new MaxKey();
    case 2:
    case 3:
      return randomNumber(rng);
    case 4:
      return randomString(rng);
    case 5:
      return rng.chance(0.5);
    case 6:
      return new Date(rng.int(-5, 5) * 1e12 + rng.int(0, 3));
    case 7:
      return new ObjectId(
        ["000000000000000000000001", "ff0000000000000000000000", "65a1b2c3d4e5f60718293a4b"][
          rng.int(0, 2)
        ]!,
      );
    case 8:
      return new Binary(Buffer.from(randomString(rng)), rng.int(0, 1) * 4);
    case 9:
      return new Timestamp({ t: rng.int(0, 3), i: rng.int(0, 3) });
    case 10:
      return rng.chance(0.5) ? /a/ : /a/i;
    case 11:
      return undefined;
    case 12: {
      const out: Record<string, unknown> = {};
      const n = rng.int(0, 2);
      for (let i = 0; i < n; i++)
        out[["a", "b", "a\u0001"][rng.int(0, 2)]!] = randomValue(rng, depth + 1);
      return out;
    }
    default:
      return Array.from({ length: rng.int(0, 2) }, () => randomValue(rng, depth + 1));
  }
}

describe("index key encoding", () => {
  it("orders single values exactly as the comparator (random pairs)", () => {
    const rng = new Prng(11);
    for (let n = 0; n < 20_000; n++) {
      const a = randomValue(rng);
      const b = randomValue(rng);
      const expected = sign(compareValues(a, b));
      const actual = sign(Buffer.compare(encodeValue(a), encodeValue(b)));
      if (actual !== expected) {
        expect.fail(`${String(a)} vs ${String(b)}: comparator ${expected}, bytes ${actual}`);
      }
    }
  });

  it("orders compound keys with descending fields as the comparator", () => {
    const rng = new Prng(12);
    const fields: KeyField[] = [
      { path: "a", direction: 1 },
      { path: "b", direction: -1 },
      { path: "c", direction: 1 },
    ];
    const compare = (x: unknown[], y: unknown[]) => {
      for (let i = 0; i < fields.length; i++) {
        const c = compareValues(x[i], y[i]);
        if (c !== 0) return c * fields[i]!.direction;
      }
      return 0;
    };
    // Few distinct values per field, so that many pairs tie on a prefix.
    const pick = () => [null, 1, 2.5, "x", "", [1], { a: 1 }, EMPTY_ARRAY_KEY][rng.int(0, 7)];
    for (let n = 0; n < 20_000; n++) {
      const a = [pick(), pick(), pick()];
      const b = [pick(), pick(), pick()];
      expect(sign(Buffer.compare(encodeIndexKey(a, fields), encodeIndexKey(b, fields)))).toBe(
        sign(compare(a, b)),
      );
    }
  });

  it("equal values of different numeric types share one key (as in a unique index)", () => {
    const keys = [
      1,
      new Double(1),
      Long.fromNumber(1),
      Decimal128.fromString("1.000"),
      new Int32(1),
    ].map((v) => encodeValue(v).toString("hex"));
    expect(new Set(keys).size).toBe(1);
    expect(encodeValue(null).equals(encodeValue(undefined))).toBe(true);
    expect(encodeValue(EMPTY_ARRAY_KEY).equals(encodeValue(null))).toBe(false);
  });

  it("bounds enclose exactly their type bracket", () => {
    const fields: KeyField[] = [{ path: "a", direction: 1 }];
    const enc = (v: unknown) => encodeIndexKey([v], fields);
    const start = enc(Bound.bracketStart(Rank.Number));
    const end = enc(Bound.bracketEnd(Rank.Number));
    for (const n of [
      Number.NaN,
      -Infinity,
      -1e300,
      0,
      7,
      Infinity,
      Decimal128.fromString("1E+6144"),
    ]) {
      expect(Buffer.compare(start, enc(n))).toBe(-1);
      expect(Buffer.compare(enc(n), end)).toBe(-1);
    }
    for (const other of [null, EMPTY_ARRAY_KEY, "", new Date(0), new MinKey()]) {
      const inside = Buffer.compare(start, enc(other)) < 0 && Buffer.compare(enc(other), end) < 0;
      expect(inside).toBe(false);
    }
    // Null's bracket also holds the empty-array key (a null query finds `[]`).
    const nullStart = enc(Bound.bracketStart(Rank.Null));
    expect(Buffer.compare(nullStart, enc(EMPTY_ARRAY_KEY))).toBe(-1);
    expect(Buffer.compare(enc(Bound.min), enc(new MinKey()))).toBe(-1);
    expect(Buffer.compare(enc(new MaxKey()), enc(Bound.max))).toBe(-1);
    const desc: KeyField[] = [{ path: "a", direction: -1 }];
    expect(
      Buffer.compare(encodeIndexKey([Bound.max], desc), encodeIndexKey([new MaxKey()], desc)),
    ).toBe(-1);
  });
});
