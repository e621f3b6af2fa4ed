import { Binary, BSON, Decimal128, Double, Long, MaxKey, MinKey, ObjectId, Timestamp } from "bson";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectBson } from "../../src/store/embedded/bson-project.js";
import { decodeDocument } from "../../src/store/embedded/bson-values.js";
import { streamedFields } from "../../src/store/embedded/pipeline-fields.js";
import { usePrivateStore } from "./embedded-helpers.js";

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
  const h = usePrivateStore();
  let client: MongoClient;
  beforeAll(async () => {
    client = await MongoClient.connect(h.store.uri);
  });
  afterAll(async () => {
    await client.close();
  });

  it("gives the same groups as the whole documents", async () => {
    const coll = client.db("streamed").collection("fb");
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

  it("sends a find's documents as stored: byte for byte, in batches, sorted by a field it did not filter on", async () => {
    const coll = client.db("streamed").collection("raw");
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
  });
});
