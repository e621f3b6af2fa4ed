import { type Document, type Filter, MongoClient, ObjectId, type Sort } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usePrivateStore } from "./embedded-helpers.js";

// Index use is checked through explain's counters (documents examined), never through timing.

const h = usePrivateStore();
let client: MongoClient;

const N = 10_000;
const GROUPS = 20;
const BASE = Date.UTC(2025, 0, 1);
const TAGS = ["alpha", "beta", "gamma", "delta", "omega"];

interface Row {
  _id: ObjectId;
  key: number;
  plain: number;
  group: string;
  at: Date;
  tags: string[];
  email?: string;
  score?: number | null;
}

function row(i: number): Row {
  const r: Row = {
    _id: new ObjectId(i.toString(16).padStart(24, "0")),
    key: i,
    plain: i,
    group: `g${i % GROUPS}`,
    at: new Date(BASE + i * 60_000),
    tags: [TAGS[i % 5]!, TAGS[(i * 7) % 5]!],
  };
  if (i % 3 === 0) r.email = `u${i}@example.com`;
  if (i % 4 === 0) r.score = i % 8 === 0 ? null : i;
  return r;
}

const ROWS = Array.from({ length: N }, (_, i) => row(i));
const coll = () => client.db("planner").collection<Row>("rows");

beforeAll(async () => {
  client = new MongoClient(h.store.uri);
  await client.connect();
  await coll().insertMany(ROWS);
  await coll().createIndexes([
    { key: { key: 1 } },
    { key: { group: 1, at: -1, _id: -1 }, name: "group_recent" },
    { key: { tags: 1 } },
    { key: { email: 1 }, unique: true, sparse: true },
    { key: { score: 1 }, sparse: true },
  ]);
}, 60_000);

afterAll(async () => {
  await client?.close();
});

interface Explained {
  index: string | undefined;
  stages: string[];
  docsExamined: number;
  returned: number;
}

function stagesOf(plan: Document | undefined): string[] {
  const out: string[] = [];
  for (let p = plan; p; p = p.inputStage) out.push(p.stage);
  return out;
}

function findIndexName(plan: Document | undefined): string | undefined {
  for (let p = plan; p; p = p.inputStage) if (p.stage === "IXSCAN") return p.indexName;
  return undefined;
}

async function explainFind(filter: Filter<Row>, options: { sort?: Sort; limit?: number } = {}) {
  let cursor = coll().find(filter);
  if (options.sort) cursor = cursor.sort(options.sort);
  if (options.limit) cursor = cursor.limit(options.limit);
  const plan = await cursor.explain("executionStats");
  const winning = plan.queryPlanner.winningPlan as Document;
  return {
    index: findIndexName(winning),
    stages: stagesOf(winning),
    docsExamined: plan.executionStats.totalDocsExamined as number,
    returned: plan.executionStats.nReturned as number,
  } satisfies Explained;
}

/** The documents a filter must return, computed in TypeScript. */
function expected(predicate: (r: Row) => boolean): number[] {
  return ROWS.filter(predicate).map((r) => r.key);
}

async function keys(filter: Filter<Row>, sort: Sort = { key: 1 }): Promise<number[]> {
  return (await coll().find(filter).sort(sort).toArray()).map((r) => r.key);
}

describe("planner", () => {
  it("equality on an indexed field examines only the match", async () => {
    const e = await explainFind({ key: 4242 });
    expect(e).toMatchObject({ index: "key_1", docsExamined: 1, returned: 1 });
    expect(e.stages).toEqual(["FETCH", "IXSCAN"]);
  });

  it("$in examines one document per value", async () => {
    const e = await explainFind({ key: { $in: [3, 300, 3000, 30000] } });
    expect(e).toMatchObject({ index: "key_1", docsExamined: 3, returned: 3 });
  });

  it("a range examines the range only (both bounds used on a single-valued field)", async () => {
    const e = await explainFind({ key: { $gte: 100, $lt: 110 } });
    expect(e.index).toBe("key_1");
    expect(e.returned).toBe(10);
    expect(e.docsExamined).toBeLessThanOrEqual(11);
  });

  it("a field without an index is a collection scan", async () => {
    const e = await explainFind({ plain: 4242 });
    expect(e).toMatchObject({ index: undefined, docsExamined: N, returned: 1 });
    expect(e.stages).toEqual(["COLLSCAN"]);
  });

  it("sort + limit on an indexed field reads only `limit` entries, without a SORT stage", async () => {
    const e = await explainFind({}, { sort: { key: -1 }, limit: 5 });
    expect(e).toMatchObject({ index: "key_1", docsExamined: 5, returned: 5 });
    expect(e.stages).not.toContain("SORT");
    expect(await keys({}, { key: -1 }).then((k) => k.slice(0, 5))).toEqual([
      9999, 9998, 9997, 9996, 9995,
    ]);
  });

  it("equality on a compound prefix serves the sort on the following fields", async () => {
    const e = await explainFind({ group: "g7" }, { sort: { at: -1, _id: -1 }, limit: 4 });
    expect(e).toMatchObject({ index: "group_recent", docsExamined: 4, returned: 4 });
    expect(e.stages).not.toContain("SORT");
    const page = await coll().find({ group: "g7" }).sort({ at: -1, _id: -1 }).limit(4).toArray();
    expect(page.map((r) => r.key)).toEqual([9987, 9967, 9947, 9927]);
  });

  it("keyset pagination ($or of < and =) seeks into the index instead of skipping", async () => {
    const after = row(5007);
    const filter: Filter<Row> = {
      group: "g7",
      $and: [{ $or: [{ at: { $lt: after.at } }, { at: after.at, _id: { $lt: after._id } }] }],
    };
    const e = await explainFind(filter, { sort: { at: -1, _id: -1 }, limit: 3 });
    expect(e.index).toBe("group_recent");
    expect(e.docsExamined).toBeLessThanOrEqual(4);
    const page = await coll().find(filter).sort({ at: -1, _id: -1 }).limit(3).toArray();
    expect(page.map((r) => r.key)).toEqual([4987, 4967, 4947]);
  });

  it("an $or whose branches are all indexed is a union of index scans", async () => {
    const e = await explainFind({ $or: [{ key: 10 }, { email: "u3000@example.com" }] });
    expect(e.returned).toBe(2);
    expect(e.docsExamined).toBe(2);
  });

  it("an $or of compound equalities probes each branch, not the cross product of their values", async () => {
    // Widened per field, these branches would probe 40 × 40 (group, at) keys for 40 documents.
    const picked = ROWS.slice(100, 140);
    const filter = { $or: picked.map((r) => ({ group: r.group, at: r.at })) };
    const e = await explainFind(filter);
    expect(e.index).toBe(picked.map(() => "group_recent").join(","));
    expect(e.returned).toBe(40);
    expect(e.docsExamined).toBe(40);
    expect(await keys(filter)).toEqual(picked.map((r) => r.key));
  });

  it("multikey ranges keep MongoDB's semantics (bounds may be met by different elements)", async () => {
    const filter = { tags: { $gt: "beta", $lt: "delta" } };
    const want = expected((r) => r.tags.some((t) => t > "beta") && r.tags.some((t) => t < "delta"));
    expect(await keys(filter)).toEqual(want);
    expect((await explainFind(filter)).index).toBe("tags_1");
    expect(await keys({ tags: "omega" })).toEqual(expected((r) => r.tags.includes("omega")));
  });

  it("a sparse index is not used for a null query (it lacks the documents without the field)", async () => {
    const e = await explainFind({ score: null });
    expect(e.index).toBeUndefined();
    expect(await keys({ score: null })).toEqual(
      expected((r) => r.score === undefined || r.score === null),
    );
    expect(await keys({ score: { $gte: 9000 } })).toEqual(expected((r) => (r.score ?? -1) >= 9000));
  });

  it("date ranges use the index", async () => {
    const from = new Date(BASE + 100 * 60_000);
    const to = new Date(BASE + 120 * 60_000);
    const filter = { group: "g0", at: { $gte: from, $lt: to } };
    const e = await explainFind(filter);
    expect(e.index).toBe("group_recent");
    expect(e.docsExamined).toBeLessThanOrEqual(2);
    expect(await keys(filter)).toEqual([100]);
  });

  it("indexes stay correct through updates and deletes", async () => {
    await coll().updateOne({ key: 17 }, { $set: { key: 100017, group: "moved" } });
    expect(await keys({ key: 17 })).toEqual([]);
    expect(await keys({ key: 100017 })).toEqual([100017]);
    expect((await explainFind({ group: "moved" })).docsExamined).toBe(1);
    await coll().deleteOne({ key: 100017 });
    expect(await keys({ key: { $gt: 99999 } })).toEqual([]);
  });

  it("unique sparse: documents without the field do not collide", async () => {
    await coll().insertMany([
      { _id: new ObjectId(), key: -1, plain: -1, group: "x", at: new Date(0), tags: [] },
    ]);
    await expect(
      coll().insertOne({
        _id: new ObjectId(),
        key: -2,
        plain: -2,
        group: "x",
        at: new Date(0),
        tags: [],
        email: "u3@example.com",
      }),
    ).rejects.toMatchObject({ code: 11000 });
  });
});
