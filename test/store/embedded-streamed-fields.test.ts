import { Binary, BSON, Decimal128, Double, Long, MaxKey, MinKey, ObjectId, Timestamp } from "bson";
import { describe, expect, it } from "vitest";
import { projectBson, readScalarFields } from "../../src/store/embedded/bson-project.js";
import { decodeDocument, toView } from "../../src/store/embedded/bson-values.js";
import { streamedFields } from "../../src/store/embedded/pipeline-fields.js";
import { usePrivateClient } from "./embedded-helpers.js";

// A streamed aggregation decodes only the fields it reads; its results must not change.

describe("partial decoding of streamed aggregations", () => {
  it("keeps exactly the named top-level fields, of every BSON type", () => {
    const doc = {
      _id: new ObjectId(),
      d: 1.5,
      dd: new Double(2),
      s: "héllo",
      o: { a: 1, b: [1, 2] },
      a: [1, "x", { y: null }],
      bin: new Binary(Buffer.from([1, 2, 3]), 4),
      u: undefined,
      oid: new ObjectId(),
      b: true,
      date: new Date(5),
      n: null,
      re: /ab+c/i,
      i: 7,
      ts: new Timestamp({ t: 3, i: 4 }),
      l: Long.fromString("9007199254740993"),
      dec: Decimal128.fromString("1.10"),
      min: new MinKey(),
      max: new MaxKey(),
    };
    const bytes = Buffer.from(BSON.serialize(doc));
    const full = decodeDocument(bytes);
    const names = Object.keys(full);
    for (let i = 0; i < names.length; i++) {
      const keep = new Set(names.filter((_, j) => j % 3 === i % 3 || j === i));
      const partial = decodeDocument(projectBson(bytes, keep));
      expect(Object.keys(partial)).toEqual(names.filter((n) => keep.has(n)));
      for (const n of keep) expect(partial[n]).toEqual(full[n]);
    }
    expect(decodeDocument(projectBson(bytes, new Set()))).toEqual({});
  });

  it("reads scalar fields straight from the bytes as the general decoder would, and declines the rest", () => {
    const doc = {
      _id: new ObjectId(),
      i: 7,
      neg: -12,
      d: 1.5,
      dd: new Double(2),
      negZero: new Double(-0),
      big: 2 ** 40,
      s: "héllo",
      empty: "",
      b: false,
      t: true,
      date: new Date(-86_400_000),
      later: new Date(Date.UTC(2262, 0, 1)),
      n: null,
      o: { a: 1 },
      l: Long.fromNumber(3),
    };
    const bytes = Buffer.from(BSON.serialize(doc));
    const scalars = Object.keys(doc).filter((k) => k !== "o" && k !== "l");
    for (let i = 0; i < scalars.length; i++) {
      const keep = new Set(scalars.filter((_, j) => j % 4 === i % 4 || j === i));
      const read = readScalarFields(bytes, keep)!;
      const typed = decodeDocument(projectBson(bytes, keep));
      expect(read.typed).toEqual(typed);
      expect(Object.keys(read.typed)).toEqual(Object.keys(typed));
      expect(read.view).toEqual(toView(typed));
    }
    // An integral double stays a Double in the typed form (a number would go out as int32).
    const read = readScalarFields(bytes, new Set(["dd", "negZero", "i"]))!;
    expect(read.typed.dd).toBeInstanceOf(Double);
    expect(read.typed.negZero).toBeInstanceOf(Double);
    expect(read.view).toEqual({ i: 7, dd: 2, negZero: -0 });
    expect(readScalarFields(bytes, new Set(["i", "o"]))).toBeUndefined();
    expect(readScalarFields(bytes, new Set(["l"]))).toBeUndefined();
    expect(readScalarFields(bytes, new Set(["missing"]))).toEqual({ typed: {}, view: {} });
  });

  it("knows which fields a pipeline reads, and when it cannot tell", () => {
    const fields = streamedFields({ createdAt: { $gte: new Date(0) }, "meta.locale": "en" }, [
      {
        $group: {
          _id: "$modelVersion",
          n: { $sum: 1 },
          r: { $sum: { $cond: [{ $eq: ["$kind", "rating"] }, 1, 0] } },
          avg: { $avg: "$latency.ms" },
        },
      },
      { $sort: { n: -1 } },
    ]);
    expect([...(fields ?? [])].sort()).toEqual([
      "createdAt",
      "kind",
      "latency",
      "meta",
      "modelVersion",
    ]);
    expect(streamedFields(undefined, [{ $count: "n" }])).toEqual(new Set());
    expect(streamedFields(undefined, [{ $group: { _id: null, all: { $push: "$$ROOT" } } }])).toBe(
      undefined,
    );
    expect(streamedFields(undefined, [{ $group: { _id: { $getField: "a.b" } } }])).toBe(undefined);
    expect(streamedFields({ $where: "this.a" }, [{ $count: "n" }])).toBe(undefined);
    expect(streamedFields(undefined, [{ $project: { a: 1 } }, { $count: "n" }])).toBe(undefined);
    expect(
      streamedFields(undefined, [{ $match: { $expr: { $gt: ["$a", "$b"] } } }, { $count: "n" }]),
    ).toEqual(new Set(["a", "b"]));
  });
});

describe("streamed $group through the driver", () => {
  const h = usePrivateClient();

  it("gives the same groups as the whole documents", async () => {
    const coll = h.client.db("streamed").collection("fb");
    await coll.createIndex({ at: 1 });
    const docs = Array.from({ length: 500 }, (_, i) => ({
      at: new Date(i * 1000),
      v: `v${i % 3}`,
      ms: i % 7 === 0 ? Long.fromNumber(i) : i,
      kind: i % 2 ? "rating" : "thumbs",
      noise: { deep: [i, { x: "y".repeat(i % 50) }] },
      tags: ["a", "b"].slice(0, i % 3),
    }));
    await coll.insertMany(docs);
    const pipeline = (lead: object[]) => [
      ...lead,
      { $match: { at: { $gte: new Date(100_000) } } },
      {
        $group: {
          _id: "$v",
          n: { $sum: 1 },
          total: { $sum: "$ms" },
          ratings: { $sum: { $cond: [{ $eq: ["$kind", "rating"] }, 1, 0] } },
          tags: { $sum: { $size: "$tags" } },
        },
      },
      { $sort: { _id: 1 } },
    ];
    const partial = await coll.aggregate(pipeline([])).toArray();
    // $addFields first: the planner cannot tell what is read, so it decodes whole documents.
    const whole = await coll.aggregate(pipeline([{ $addFields: { z: 1 } }])).toArray();
    expect(partial).toEqual(whole);
    const expected = ["v0", "v1", "v2"].map((v) => {
      const group = docs.filter((d) => d.v === v && d.at.getTime() >= 100_000);
      return {
        _id: v,
        n: group.length,
        ratings: group.filter((d) => d.kind === "rating").length,
        tags: group.reduce((t, d) => t + d.tags.length, 0),
      };
    });
    expect(partial.map(({ total: _, ...rest }) => rest)).toEqual(expected);
  });

  it("evaluates simple $group operands exactly as the general evaluator does", async () => {
    const coll = h.client.db("streamed").collection("operands");
    await coll.createIndex({ at: 1 });
    const values = [1, 2.5, -3, "b", "a", "", null, true, false, new Date(7), [1, 2], { x: 1 }];
    const docs = Array.from({ length: 300 }, (_, i) => ({
      at: i,
      g: i % 4 === 3 ? undefined : ["k1", 2, null][i % 4],
      a: values[i % values.length],
      b: values[(i * 5) % values.length],
      ...(i % 6 === 0 ? {} : { c: i % 11 }),
      ...(i % 9 === 0 ? { l: Long.fromNumber(i) } : {}),
    }));
    await coll.insertMany(docs, { ignoreUndefined: true });
    const comparisons = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"];
    const operands: Record<string, unknown> = {
      a: "$a",
      lit: "text",
      num: 4,
      ...Object.fromEntries(comparisons.map((op) => [op.slice(1), { [op]: ["$a", "$b"] }])),
      missing: { $eq: ["$nope", null] },
      condArray: { $cond: [{ $gt: ["$c", 5] }, "$c", "$b"] },
      // biome-ignore lint/suspicious/noThenProperty: $cond's documented object form
      condObject: { $cond: { if: { $lte: ["$a", "$b"] }, then: 1, else: "$l" } },
    };
    const accumulators = ["$sum", "$avg", "$min", "$max", "$first", "$last"];
    const group = (wrap: (e: unknown) => unknown) => {
      const spec: Record<string, unknown> = { _id: wrap("$g"), n: { $count: {} } };
      for (const [name, operand] of Object.entries(operands)) {
        for (const acc of accumulators) spec[`${name}_${acc.slice(1)}`] = { [acc]: wrap(operand) };
      }
      return [{ $match: { at: { $gte: 10 } } }, { $group: spec }, { $sort: { _id: 1 } }];
    };
    const compiled = await coll.aggregate(group((e) => e)).toArray();
    // $let hides every operand from the compiler: mingo's own evaluator answers.
    const general = await coll.aggregate(group((e) => ({ $let: { vars: {}, in: e } }))).toArray();
    expect(compiled).toHaveLength(3);
    expect(compiled).toEqual(general);
    const k1 = docs.filter((d) => d.at >= 10 && d.g === "k1");
    const k1Group = compiled.find((g) => g._id === "k1")!;
    expect(k1Group.n).toBe(k1.length);
    expect(k1Group.lit_first).toBe("text");
    expect(k1Group.num_sum).toBe(4 * k1.length);
    expect(k1Group.missing_sum).toBe(0);
    // BSON order ranks booleans above strings and numbers: false (a $b) beats every $c.
    expect(k1Group.condArray_max).toBe(false);
  });

  it("sends a find's documents as stored: byte for byte, in batches, sorted by a field it did not filter on", async () => {
    const coll = h.client.db("streamed").collection("raw");
    await coll.createIndex({ group: 1 });
    const docs = Array.from({ length: 450 }, (_, i) => ({
      _id: new ObjectId(),
      group: i % 3,
      rank: (i * 7919) % 450,
      d: new Double(i + 0.5),
      l: Long.fromNumber(i * 1_000_003),
      dec: Decimal128.fromString(`${i}.10`),
      when: new Date(i * 60_000),
      bin: new Binary(Buffer.from([i % 256, 1, 2]), 4),
      ts: new Timestamp({ t: i, i: 1 }),
      nested: { a: [i, "x", { y: null }], re: /ab+c/i, min: new MinKey(), max: new MaxKey() },
      text: "é".repeat(i % 40),
    }));
    await coll.insertMany(docs);
    const stored = new Map(docs.map((d) => [d._id.toHexString(), Buffer.from(BSON.serialize(d))]));
    // raw: the driver hands over each document's bytes as the store sent them.
    const cursor = coll.find({ group: 1 }, { sort: { rank: -1 }, batchSize: 40, raw: true });
    const got = (await cursor.toArray()) as unknown as Buffer[];
    const expected = docs.filter((d) => d.group === 1).sort((a, b) => b.rank - a.rank);
    expect(got).toHaveLength(expected.length);
    got.forEach((bytes, i) => {
      expect(Buffer.from(bytes).equals(stored.get(expected[i]!._id.toHexString())!)).toBe(true);
    });
    // Decoded by the driver, the same documents with every type intact.
    const decoded = await coll.find({ group: 1 }, { sort: { rank: -1 }, batchSize: 40 }).toArray();
    expect(decoded).toEqual(expected.map((d) => BSON.deserialize(BSON.serialize(d))));

    // A projection of top-level fields: the stored elements it keeps, in stored order.
    const pick = (d: (typeof docs)[number], names: string[]) =>
      Buffer.from(
        BSON.serialize(
          Object.fromEntries(Object.entries(d).filter(([name]) => names.includes(name))),
        ),
      );
    const projected = (await coll
      .find(
        { group: 1 },
        { sort: { rank: -1 }, projection: { text: 1, bin: true, nested: 1, nope: 1 }, raw: true },
      )
      .toArray()) as unknown as Buffer[];
    expect(projected).toHaveLength(expected.length);
    projected.forEach((bytes, i) => {
      const want = pick(expected[i]!, ["_id", "bin", "nested", "text"]);
      expect(Buffer.from(bytes).equals(want)).toBe(true);
    });
    const withoutId = await coll
      .find({ group: 2 }, { sort: { rank: 1 }, projection: { _id: 0, l: 1, when: 1 } })
      .toArray();
    expect(withoutId).toEqual(
      docs
        .filter((d) => d.group === 2)
        .sort((a, b) => a.rank - b.rank)
        .map((d) => BSON.deserialize(BSON.serialize({ l: d.l, when: d.when }))),
    );
    expect(Object.keys(withoutId[0]!)).toEqual(["l", "when"]);
  });
});
