import type { Document } from "mongodb";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type FeedbackDoc,
  generateFeedback,
  MODELS,
  type ModelDoc,
  TAG_CATALOG,
  type TagDoc,
} from "../support/feedback-data.js";
import { useTestDatabase } from "../support/mongo.js";

// Every expected value below is computed from DATA in plain TypeScript, never by the server.
const t = useTestDatabase();
const DATA = generateFeedback(1_500, 20250101);
const feedback = () => t.db.collection<FeedbackDoc>("feedback");
const DAY = 86_400_000;

beforeAll(async () => {
  // Every document carries its _id, so the driver leaves these shared arrays unmodified.
  await feedback().insertMany(DATA);
  await t.db.collection<ModelDoc>("models").insertMany(MODELS);
  await t.db.collection<TagDoc>("tags").insertMany(TAG_CATALOG);
}, 60_000);

function groupBy<T, K>(items: readonly T[], key: (item: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const item of items) {
    const list = out.get(key(item));
    if (list) list.push(item);
    else out.set(key(item), [item]);
  }
  return out;
}

const byCreatedAt = (a: FeedbackDoc, b: FeedbackDoc) =>
  a.createdAt.getTime() - b.createdAt.getTime();
const cmpStr = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const sum = (values: number[]) => values.reduce((acc, v) => acc + v, 0);
const ratingsOf = (docs: FeedbackDoc[]) =>
  docs.flatMap((d) => (d.rating === undefined ? [] : [d.rating]));
const avgOrNull = (values: number[]) => (values.length === 0 ? null : sum(values) / values.length);

function run<T extends Document = Document>(pipeline: Document[]): Promise<T[]> {
  return feedback().aggregate<T>(pipeline).toArray();
}

describe("$match, $group, $sort", () => {
  it("groups with $sum, $count, $avg, $min, $max, $first, $last, $addToSet", async () => {
    const from = new Date("2025-01-15T00:00:00Z");
    const actual = await run([
      { $match: { createdAt: { $gte: from } } },
      { $sort: { createdAt: 1 } },
      {
        $group: {
          _id: "$modelVersion",
          n: { $sum: 1 },
          count: { $count: {} },
          ratingSum: { $sum: "$rating" },
          avgRating: { $avg: "$rating" },
          minLatency: { $min: "$latencyMs" },
          maxLatency: { $max: "$latencyMs" },
          maxRating: { $max: "$rating" },
          firstAt: { $first: "$createdAt" },
          lastAt: { $last: "$createdAt" },
          kinds: { $addToSet: "$kind" },
        },
      },
      { $sort: { _id: 1 } },
    ]);
    const matched = DATA.filter((d) => d.createdAt >= from).sort(byCreatedAt);
    const expected = [...groupBy(matched, (d) => d.modelVersion)]
      .sort(([a], [b]) => cmpStr(a, b))
      .map(([mv, docs]) => {
        const ratings = ratingsOf(docs);
        const latencies = docs.map((d) => d.latencyMs);
        return {
          _id: mv,
          n: docs.length,
          count: docs.length,
          ratingSum: sum(ratings),
          avgRating: avgOrNull(ratings),
          minLatency: Math.min(...latencies),
          maxLatency: Math.max(...latencies),
          maxRating: ratings.length ? Math.max(...ratings) : null,
          firstAt: docs[0]?.createdAt,
          lastAt: docs.at(-1)?.createdAt,
          kinds: [...new Set(docs.map((d) => d.kind))].sort(),
        };
      });
    // $addToSet has no defined order.
    for (const row of actual) row.kinds.sort();
    expect(actual).toEqual(expected);
  });

  it("groups on a compound key and $push keeps the sorted input order", async () => {
    const actual = await run([
      { $match: { "user.plan": "enterprise" } },
      { $sort: { createdAt: -1 } },
      {
        $group: {
          _id: { mv: "$modelVersion", kind: "$kind" },
          latencies: { $push: "$latencyMs" },
        },
      },
      { $sort: { "_id.mv": 1, "_id.kind": 1 } },
    ]);
    const docs = DATA.filter((d) => d.user.plan === "enterprise").sort((a, b) => byCreatedAt(b, a));
    const expected = [...groupBy(docs, (d) => `${d.modelVersion}|${d.kind}`)]
      .map(([, group]) => ({
        _id: { mv: group[0]!.modelVersion, kind: group[0]!.kind },
        latencies: group.map((d) => d.latencyMs),
      }))
      .sort((a, b) => cmpStr(a._id.mv, b._id.mv) || cmpStr(a._id.kind, b._id.kind));
    expect(actual).toEqual(expected);
  });

  it("a null _id groups the whole input into one document", async () => {
    const actual = await run([
      { $group: { _id: null, n: { $sum: 1 }, latency: { $sum: "$latencyMs" } } },
    ]);
    expect(actual).toEqual([
      { _id: null, n: DATA.length, latency: sum(DATA.map((d) => d.latencyMs)) },
    ]);
  });
});

describe("$project, $skip, $limit", () => {
  it("computes fields, renames nested ones and pages through a sorted result", async () => {
    const actual = await run([
      { $match: { kind: { $in: ["rating", "correction"] } } },
      { $sort: { latencyMs: -1, createdAt: 1 } },
      { $skip: 5 },
      { $limit: 20 },
      { $project: { _id: 0, modelVersion: 1, latencyMs: 1, plan: "$user.plan" } },
    ]);
    const expected = DATA.filter((d) => d.kind === "rating" || d.kind === "correction")
      .sort((a, b) => b.latencyMs - a.latencyMs || byCreatedAt(a, b))
      .slice(5, 25)
      .map((d) => ({ modelVersion: d.modelVersion, latencyMs: d.latencyMs, plan: d.user.plan }));
    expect(actual).toEqual(expected);
  });

  it("exclusion projections drop fields, nested ones included", async () => {
    const actual = await run([
      { $sort: { createdAt: 1 } },
      { $limit: 10 },
      { $project: { comment: 0, tags: 0, "user.plan": 0 } },
    ]);
    const expected = [...DATA]
      .sort(byCreatedAt)
      .slice(0, 10)
      .map(({ comment: _c, tags: _t, user, ...rest }) => ({ ...rest, user: { id: user.id } }));
    expect(actual).toEqual(expected);
  });
});

describe("$unwind", () => {
  it("emits one document per array element", async () => {
    const actual = await run([
      { $unwind: "$tags" },
      { $group: { _id: "$tags", n: { $sum: 1 } } },
      { $sort: { n: -1, _id: 1 } },
    ]);
    const counts = new Map<string, number>();
    for (const d of DATA) for (const tag of d.tags) counts.set(tag, (counts.get(tag) ?? 0) + 1);
    const expected = [...counts]
      .map(([_id, n]) => ({ _id, n }))
      .sort((a, b) => b.n - a.n || cmpStr(a._id, b._id));
    expect(actual).toEqual(expected);
  });

  it("includeArrayIndex and preserveNullAndEmptyArrays keep empty arrays as one document", async () => {
    const first = [...DATA].sort(byCreatedAt).slice(0, 40);
    expect(first.some((d) => d.tags.length === 0)).toBe(true);
    const actual = await run([
      { $sort: { createdAt: 1 } },
      { $limit: 40 },
      { $project: { tags: 1 } },
      { $unwind: { path: "$tags", includeArrayIndex: "idx", preserveNullAndEmptyArrays: true } },
    ]);
    const expected = first.flatMap((d): Document[] =>
      d.tags.length === 0
        ? [{ _id: d._id, idx: null }]
        : d.tags.map((tag, idx) => ({ _id: d._id, tags: tag, idx })),
    );
    expect(actual).toEqual(expected);
    // An empty array leaves no `tags` field at all, not a null one.
    for (const row of actual) if (row.idx === null) expect("tags" in row).toBe(false);
  });

  it("treats null, missing and non-array values as documented", async () => {
    const odd = t.db.collection<{ _id: number; sizes?: unknown }>("unwind_odd");
    await odd.insertMany([
      { _id: 1, sizes: ["S", "M"] },
      { _id: 2, sizes: [] },
      { _id: 3, sizes: "M" },
      { _id: 4 },
      { _id: 5, sizes: null },
    ]);
    expect(await odd.aggregate([{ $unwind: "$sizes" }, { $sort: { _id: 1 } }]).toArray()).toEqual([
      { _id: 1, sizes: "S" },
      { _id: 1, sizes: "M" },
      { _id: 3, sizes: "M" },
    ]);
    expect(
      await odd
        .aggregate([
          { $unwind: { path: "$sizes", preserveNullAndEmptyArrays: true } },
          { $sort: { _id: 1 } },
        ])
        .toArray(),
    ).toEqual([
      { _id: 1, sizes: "S" },
      { _id: 1, sizes: "M" },
      { _id: 2 },
      { _id: 3, sizes: "M" },
      { _id: 4 },
      { _id: 5, sizes: null },
    ]);
  });
});

describe("$lookup", () => {
  it("joins on localField/foreignField, with an empty array when nothing matches", async () => {
    const actual = await run([
      { $group: { _id: "$modelVersion", n: { $sum: 1 } } },
      { $lookup: { from: "models", localField: "_id", foreignField: "_id", as: "model" } },
      { $sort: { _id: 1 } },
    ]);
    const expected = [...groupBy(DATA, (d) => d.modelVersion)]
      .sort(([a], [b]) => cmpStr(a, b))
      .map(([mv, docs]) => ({
        _id: mv,
        n: docs.length,
        model: MODELS.filter((m) => m._id === mv),
      }));
    expect(expected.some((row) => row.model.length === 0)).toBe(true);
    expect(actual).toEqual(expected);
  });

  it("an array localField matches any of its elements", async () => {
    const actual = await run<{ _id: unknown; tagInfo: TagDoc[] }>([
      { $sort: { createdAt: 1 } },
      { $limit: 60 },
      { $lookup: { from: "tags", localField: "tags", foreignField: "_id", as: "tagInfo" } },
      { $project: { tagInfo: 1 } },
    ]);
    const expected = [...DATA]
      .sort(byCreatedAt)
      .slice(0, 60)
      .map((d) => ({
        _id: d._id,
        tagInfo: TAG_CATALOG.filter((tag) => d.tags.includes(tag._id)).sort((a, b) =>
          cmpStr(a._id, b._id),
        ),
      }));
    for (const row of actual) row.tagInfo.sort((a, b) => cmpStr(a._id, b._id));
    expect(actual).toEqual(expected);
  });

  it("a let/pipeline lookup runs a correlated sub-pipeline per document", async () => {
    const actual = await t.db
      .collection<ModelDoc>("models")
      .aggregate([
        {
          $lookup: {
            from: "feedback",
            let: { mv: "$_id", since: "$releasedAt" },
            pipeline: [
              {
                $match: {
                  $expr: {
                    $and: [{ $eq: ["$modelVersion", "$$mv"] }, { $gte: ["$createdAt", "$$since"] }],
                  },
                },
              },
              { $count: "n" },
            ],
            as: "after",
          },
        },
        { $project: { after: 1 } },
        { $sort: { _id: 1 } },
      ])
      .toArray();
    const expected = [...MODELS]
      .sort((a, b) => cmpStr(a._id, b._id))
      .map((m) => {
        const n = DATA.filter(
          (d) => d.modelVersion === m._id && d.createdAt >= m.releasedAt,
        ).length;
        return { _id: m._id, after: n === 0 ? [] : [{ n }] };
      });
    expect(expected.some((row) => row.after.length === 0)).toBe(true);
    expect(actual).toEqual(expected);
  });
});

describe("$facet, $bucket, $count, $sortByCount", () => {
  it("$facet runs sub-pipelines over the same input", async () => {
    const [actual] = await run([
      {
        $facet: {
          slowest: [
            { $sort: { latencyMs: -1, createdAt: 1 } },
            { $limit: 3 },
            { $project: { latencyMs: 1 } },
          ],
          stats: [
            { $group: { _id: null, n: { $sum: 1 }, avgLatency: { $avg: "$latencyMs" } } },
            { $project: { _id: 0 } },
          ],
          ratedCount: [{ $match: { rating: { $exists: true } } }, { $count: "n" }],
        },
      },
    ]);
    const slowest = [...DATA]
      .sort((a, b) => b.latencyMs - a.latencyMs || byCreatedAt(a, b))
      .slice(0, 3)
      .map((d) => ({ _id: d._id, latencyMs: d.latencyMs }));
    expect(actual).toEqual({
      slowest,
      stats: [{ n: DATA.length, avgLatency: sum(DATA.map((d) => d.latencyMs)) / DATA.length }],
      ratedCount: [{ n: ratingsOf(DATA).length }],
    });
  });

  it("$bucket groups by boundaries, with a default bucket for the rest", async () => {
    const boundaries = [0, 100, 250, 500, 1000];
    const actual = await run([
      {
        $bucket: {
          groupBy: "$latencyMs",
          boundaries,
          default: "slow",
          output: {
            count: { $sum: 1 },
            avgRating: { $avg: "$rating" },
            maxLatency: { $max: "$latencyMs" },
          },
        },
      },
    ]);
    const bucketOf = (latency: number): number | string => {
      for (let i = boundaries.length - 2; i >= 0; i--) {
        if (latency >= boundaries[i]!)
          return latency < boundaries[i + 1]! ? boundaries[i]! : "slow";
      }
      return "slow";
    };
    const expected = [...groupBy(DATA, (d) => bucketOf(d.latencyMs))].map(([_id, docs]) => ({
      _id,
      count: docs.length,
      avgRating: avgOrNull(ratingsOf(docs)),
      maxLatency: Math.max(...docs.map((d) => d.latencyMs)),
    }));
    const order = (row: Document) =>
      typeof row._id === "number" ? row._id : Number.POSITIVE_INFINITY;
    expect(expected.length).toBe(5);
    expect([...actual].sort((a, b) => order(a) - order(b))).toEqual(
      expected.sort((a, b) => order(a) - order(b)),
    );
  });

  it("$count counts, and outputs nothing for empty input", async () => {
    expect(await run([{ $match: { kind: "correction" } }, { $count: "corrections" }])).toEqual([
      { corrections: DATA.filter((d) => d.kind === "correction").length },
    ]);
    expect(await run([{ $match: { kind: "nope" } }, { $count: "n" }])).toEqual([]);
  });

  it("$sortByCount counts per value, most frequent first", async () => {
    const actual = await run<{ _id: string; count: number }>([{ $sortByCount: "$user.plan" }]);
    for (let i = 1; i < actual.length; i++) {
      expect(actual[i]!.count).toBeLessThanOrEqual(actual[i - 1]!.count);
    }
    const expected = [...groupBy(DATA, (d) => d.user.plan)].map(([_id, docs]) => ({
      _id,
      count: docs.length,
    }));
    const byId = (a: { _id: string }, b: { _id: string }) => cmpStr(a._id, b._id);
    expect([...actual].sort(byId)).toEqual(expected.sort(byId));
  });
});

describe("$addFields, $set, $unset, $replaceRoot", () => {
  it("reshape documents step by step", async () => {
    const actual = await run([
      { $sort: { createdAt: 1 } },
      { $limit: 50 },
      {
        $addFields: {
          "user.tier": { $cond: [{ $eq: ["$user.plan", "enterprise"] }, "paid+", "std"] },
          tagCount: { $size: "$tags" },
        },
      },
      { $set: { latencySec: { $divide: ["$latencyMs", 1000] } } },
      { $unset: ["comment", "tags", "user.plan"] },
      {
        $replaceRoot: {
          newRoot: {
            $mergeObjects: [
              "$user",
              { fid: "$_id", tagCount: "$tagCount", latencySec: "$latencySec" },
            ],
          },
        },
      },
    ]);
    const expected = [...DATA]
      .sort(byCreatedAt)
      .slice(0, 50)
      .map((d) => ({
        id: d.user.id,
        tier: d.user.plan === "enterprise" ? "paid+" : "std",
        fid: d._id,
        tagCount: d.tags.length,
        latencySec: d.latencyMs / 1000,
      }));
    expect(actual).toEqual(expected);
  });

  it("$addFields keeps existing fields and $unset removes top-level ones", async () => {
    const [doc] = await run([
      { $sort: { createdAt: 1 } },
      { $limit: 1 },
      { $addFields: { kind: "overwritten", extra: { $literal: "$notAPath" } } },
      { $unset: "user" },
    ]);
    const { user: _u, ...rest } = [...DATA].sort(byCreatedAt)[0]!;
    expect(doc).toEqual({ ...rest, kind: "overwritten", extra: "$notAPath" });
  });
});

describe("$setWindowFields", () => {
  it("computes running, moving and time-range windows per partition", async () => {
    const actual = await run([
      {
        $setWindowFields: {
          partitionBy: "$modelVersion",
          sortBy: { createdAt: 1 },
          output: {
            seq: { $documentNumber: {} },
            runningCount: { $count: {}, window: { documents: ["unbounded", "current"] } },
            runningLatency: { $sum: "$latencyMs", window: { documents: ["unbounded", "current"] } },
            movingAvg: { $avg: "$latencyMs", window: { documents: [-2, 0] } },
            weekLatency: { $sum: "$latencyMs", window: { range: [-7, 0], unit: "day" } },
            partitionTotal: { $sum: 1 },
            nextLatency: { $shift: { output: "$latencyMs", by: 1, default: null } },
          },
        },
      },
      {
        $project: {
          seq: 1,
          runningCount: 1,
          runningLatency: 1,
          movingAvg: 1,
          weekLatency: 1,
          partitionTotal: 1,
          nextLatency: 1,
        },
      },
      { $sort: { _id: 1 } },
    ]);
    const rows = new Map<string, Document>();
    for (const docs of groupBy(DATA, (d) => d.modelVersion).values()) {
      const sorted = [...docs].sort(byCreatedAt);
      let running = 0;
      sorted.forEach((d, i) => {
        running += d.latencyMs;
        const moving = sorted.slice(Math.max(0, i - 2), i + 1).map((x) => x.latencyMs);
        const at = d.createdAt.getTime();
        const week = sorted.filter((x) => {
          const xt = x.createdAt.getTime();
          return xt >= at - 7 * DAY && xt <= at;
        });
        rows.set(d._id.toHexString(), {
          _id: d._id,
          seq: i + 1,
          runningCount: i + 1,
          runningLatency: running,
          movingAvg: sum(moving) / moving.length,
          weekLatency: sum(week.map((x) => x.latencyMs)),
          partitionTotal: sorted.length,
          nextLatency: sorted[i + 1]?.latencyMs ?? null,
        });
      });
    }
    const expected = DATA.map((d) => rows.get(d._id.toHexString()));
    expect(actual).toHaveLength(expected.length);
    actual.forEach((row, i) => {
      expect(row, `document ${i}`).toEqual(expected[i]);
    });
  });

  it("$rank and $denseRank handle ties", async () => {
    const actual = await run([
      { $match: { kind: "rating" } },
      {
        $setWindowFields: {
          partitionBy: "$modelVersion",
          sortBy: { rating: -1 },
          output: { rank: { $rank: {} }, dense: { $denseRank: {} } },
        },
      },
      { $project: { rank: 1, dense: 1 } },
      { $sort: { _id: 1 } },
    ]);
    const rated = DATA.filter((d) => d.kind === "rating");
    const partitions = groupBy(rated, (d) => d.modelVersion);
    const expected = rated.map((d) => {
      const peers = partitions.get(d.modelVersion) ?? [];
      const higher = peers.filter((p) => (p.rating ?? 0) > (d.rating ?? 0));
      return {
        _id: d._id,
        rank: higher.length + 1,
        dense: new Set(higher.map((p) => p.rating)).size + 1,
      };
    });
    expect(actual).toEqual(expected);
  });
});
