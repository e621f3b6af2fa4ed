import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usePrivateStore } from "./embedded-helpers.js";

const h = usePrivateStore();
let client: MongoClient;

interface Post {
  _id: number;
  title: string;
  body: string;
  lang?: string;
  n: number;
}

const POSTS: Post[] = [
  { _id: 1, title: "Coffee shop review", body: "The espresso was bitter.", n: 1 },
  { _id: 2, title: "Tea time", body: "A calm CAFÉ with great tea and some coffee.", n: 2 },
  { _id: 3, title: "Crème brûlée recipe", body: "Caramelised sugar on custard.", n: 3 },
  { _id: 4, title: "Shop opening hours", body: "The coffee shop opens at nine.", n: 4 },
  { _id: 5, title: "Nothing to see", body: "the and of", n: 5 },
];

const posts = () => client.db("text").collection<Post>("posts");

beforeAll(async () => {
  client = new MongoClient(h.store.uri);
  await client.connect();
  await posts().insertMany(POSTS);
  await posts().createIndex(
    { title: "text", body: "text" },
    { weights: { title: 5, body: 1 }, name: "search" },
  );
});

afterAll(async () => {
  await client?.close();
});

const ids = async (search: string, extra: object = {}) =>
  (
    await posts()
      .find({ $text: { $search: search }, ...extra })
      .toArray()
  )
    .map((p) => p._id)
    .sort();

describe("$text", () => {
  it("ORs the terms, case- and diacritic-insensitively", async () => {
    expect(await ids("coffee")).toEqual([1, 2, 4]);
    expect(await ids("COFFEE tea")).toEqual([1, 2, 4]);
    expect(await ids("cafe")).toEqual([2]);
    expect(await ids("creme brulee")).toEqual([3]);
  });

  it("requires quoted phrases and excludes negated terms", async () => {
    expect(await ids('"coffee shop"')).toEqual([1, 4]);
    expect(await ids("coffee -tea")).toEqual([1, 4]);
    expect(await ids('"coffee shop" -opens')).toEqual([1]);
    expect(await ids("-coffee")).toEqual([]);
  });

  it("drops English stop words like mongod", async () => {
    expect(await ids("the and of")).toEqual([]);
  });

  it("combines with other conditions", async () => {
    expect(await ids("coffee", { n: { $gte: 2 } })).toEqual([2, 4]);
  });

  it("scores by weight and frequency: projection and sort on { $meta: 'textScore' }", async () => {
    const ranked = await posts()
      .find<Post & { score: number }>(
        { $text: { $search: "coffee shop" } },
        { projection: { score: { $meta: "textScore" }, title: 1 } },
      )
      .sort({ score: { $meta: "textScore" } })
      .toArray();
    expect(ranked.map((p) => p._id)).toEqual([1, 4, 2]);
    for (const p of ranked) expect(typeof p.score).toBe("number");
    expect(ranked[0]!.score).toBeGreaterThan(ranked[2]!.score);
    expect(Object.keys(ranked[0]!)).toEqual(["_id", "title", "score"]);
  });

  it("works as the first $match of an aggregation, with $meta in later stages", async () => {
    const rows = await posts()
      .aggregate([
        { $match: { $text: { $search: "coffee" } } },
        { $sort: { score: { $meta: "textScore" } } },
        { $project: { _id: 1, score: { $meta: "textScore" } } },
      ])
      .toArray();
    expect(rows.map((r) => r._id)).toEqual([1, 4, 2]);
    expect(rows.every((r) => typeof r.score === "number" && Object.keys(r).length === 2)).toBe(
      true,
    );
  });

  it("follows documents through updates and deletes", async () => {
    await posts().updateOne({ _id: 5 }, { $set: { body: "fresh coffee" } });
    expect(await ids("coffee")).toEqual([1, 2, 4, 5]);
    await posts().deleteOne({ _id: 1 });
    expect(await ids("espresso")).toEqual([]);
  });

  it("only one text index per collection", async () => {
    await expect(posts().createIndex({ body: "text" }, { name: "second" })).rejects.toMatchObject({
      code: 85,
    });
  });
});
