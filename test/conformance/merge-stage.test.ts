import type { Document } from "mongodb";
import { beforeEach, describe, expect, it } from "vitest";
import { useTestDatabase } from "../support/mongo.js";

// $merge as MongoDB documents it: whenMatched / whenNotMatched, `on` with a unique index,
// pipelines with $$new, and the error codes for its mistakes.
const t = useTestDatabase();
type Doc = { _id: number } & Document;
const source = () => t.db.collection<Doc>("merge_source");
const target = () => t.db.collection<Doc>("merge_target");

beforeEach(async () => {
  await source().deleteMany({});
  await target()
    .drop()
    .catch(() => undefined);
  await source().insertMany([
    { _id: 1, sku: "a", qty: 5 },
    { _id: 2, sku: "b", qty: 7 },
  ]);
  await target().insertMany([
    { _id: 1, sku: "a", qty: 1, note: "old" },
    { _id: 3, sku: "c", qty: 9 },
  ]);
});

const targetDocs = () =>
  target()
    .find({}, { sort: { _id: 1 } })
    .toArray();
const merge = (spec: Document, pipeline: Document[] = []) =>
  source()
    .aggregate([...pipeline, { $merge: { into: "merge_target", ...spec } }])
    .toArray();

describe("$merge", () => {
  it("replaces matches and inserts the rest by default", async () => {
    expect(await merge({})).toEqual([]);
    expect(await targetDocs()).toEqual([
      { _id: 1, sku: "a", qty: 5 },
      { _id: 2, sku: "b", qty: 7 },
      { _id: 3, sku: "c", qty: 9 },
    ]);
  });

  it("merges fields into matches and discards unmatched documents", async () => {
    await merge({ whenMatched: "merge", whenNotMatched: "discard" });
    expect(await targetDocs()).toEqual([
      { _id: 1, sku: "a", qty: 5, note: "old" },
      { _id: 3, sku: "c", qty: 9 },
    ]);
  });

  it("keeps existing documents with keepExisting", async () => {
    await merge({ whenMatched: "keepExisting" });
    expect((await targetDocs()).map((d) => d.qty)).toEqual([1, 7, 9]);
  });

  it("runs a whenMatched pipeline with $$new and let variables", async () => {
    await merge({
      whenMatched: [{ $set: { qty: { $add: ["$qty", "$$new.qty", "$$bonus"] } } }],
      let: { bonus: 100, new: "$$ROOT" },
      whenNotMatched: "discard",
    });
    expect((await targetDocs()).map((d) => d.qty)).toEqual([106, 9]);
  });

  it("fails with a duplicate key error for whenMatched: fail and changes nothing", async () => {
    await expect(merge({ whenMatched: "fail" })).rejects.toMatchObject({
      code: 11000,
      errorResponse: { keyPattern: { _id: 1 }, keyValue: { _id: 1 } },
    });
    expect((await targetDocs()).map((d) => d._id)).toEqual([1, 3]);
  });

  it("fails with code 13113 for whenNotMatched: fail", async () => {
    await expect(merge({ whenNotMatched: "fail" })).rejects.toMatchObject({ code: 13113 });
  });

  it("matches on other fields only with a unique index on them", async () => {
    await expect(merge({ on: "sku" }, [{ $project: { _id: 0 } }])).rejects.toMatchObject({
      code: 51183,
    });
    await target().createIndex({ sku: 1 }, { unique: true });
    await merge({ on: "sku", whenMatched: "merge" }, [{ $project: { _id: 0 } }]);
    const docs = await targetDocs();
    expect(docs.find((d) => d.sku === "a")).toMatchObject({ _id: 1, qty: 5, note: "old" });
    expect(docs.find((d) => d.sku === "b")?.qty).toBe(7);
    expect(docs).toHaveLength(3);
  });

  it("must be the last stage", async () => {
    await expect(
      source()
        .aggregate([{ $merge: { into: "merge_target" } }, { $match: {} }])
        .toArray(),
    ).rejects.toMatchObject({ code: 40601 });
  });
});
