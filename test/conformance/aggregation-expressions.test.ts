import type { Document } from "mongodb";
import { beforeAll, describe, expect, it } from "vitest";
import { type FeedbackDoc, generateFeedback } from "../support/feedback-data.js";
import { useTestDatabase } from "../support/mongo.js";

// Every expected value below is computed from DATA in plain TypeScript, never by the server.
const t = useTestDatabase();
const DATA = generateFeedback(1_200, 777);
const feedback = () => t.db.collection<FeedbackDoc>("feedback");
const DAY = 86_400_000;
const EPOCH = new Date("2025-01-01T00:00:00Z");

beforeAll(async () => {
  await feedback().insertMany(DATA);
}, 60_000);

async function project(fields: Document): Promise<Document[]> {
  return feedback()
    .aggregate([{ $sort: { _id: 1 } }, { $project: fields }])
    .toArray();
}

/** Compares row by row, so a failure names the first document that differs. */
function expectRows(actual: Document[], expected: Document[]) {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((row, i) => {
    expect(row, `document ${i} (${String(expected[i]?._id)})`).toEqual(expected[i]);
  });
}

/**
 * num/den rounded to `place` decimals, ties to even (how $round is documented to behave), done in
 * integers so that ties are detected exactly.
 */
function roundHalfEven(num: number, den: number, place: number): number {
  const scaledNum = place >= 0 ? num * 10 ** place : num;
  const scaledDen = place >= 0 ? den : den * 10 ** -place;
  let q = Math.floor(scaledNum / scaledDen);
  const twiceRemainder = 2 * (scaledNum - q * scaledDen);
  if (twiceRemainder > scaledDen || (twiceRemainder === scaledDen && q % 2 !== 0)) q += 1;
  return place >= 0 ? q / 10 ** place : q * 10 ** -place;
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

function utcParts(ms: number) {
  const d = new Date(ms);
  return {
    y: d.getUTCFullYear(),
    mo: d.getUTCMonth(),
    d: d.getUTCDate(),
    h: d.getUTCHours(),
    mi: d.getUTCMinutes(),
    wd: d.getUTCDay(),
  };
}

describe("conditional and date expressions", () => {
  it("$cond in object and array form", async () => {
    const actual = await project({
      sentiment: {
        $cond: {
          if: { $gte: ["$rating", 4] },
          // biome-ignore lint/suspicious/noThenProperty: $cond's documented object form.
          then: "promoter",
          else: { $cond: [{ $eq: ["$kind", "thumbs_down"] }, "detractor", "neutral"] },
        },
      },
      speed: { $cond: [{ $gte: ["$latencyMs", 500] }, "slow", "fast"] },
    });
    const expected = DATA.map((d) => ({
      _id: d._id,
      sentiment:
        d.rating !== undefined && d.rating >= 4
          ? "promoter"
          : d.kind === "thumbs_down"
            ? "detractor"
            : "neutral",
      speed: d.latencyMs >= 500 ? "slow" : "fast",
    }));
    expectRows(actual, expected);
  });

  it("$dateTrunc to day, week (Sunday), month and 6-hour bins", async () => {
    const actual = await project({
      day: { $dateTrunc: { date: "$createdAt", unit: "day" } },
      week: { $dateTrunc: { date: "$createdAt", unit: "week" } },
      month: { $dateTrunc: { date: "$createdAt", unit: "month" } },
      sixHours: { $dateTrunc: { date: "$createdAt", unit: "hour", binSize: 6 } },
    });
    const expected = DATA.map((doc) => {
      const p = utcParts(doc.createdAt.getTime());
      const day = Date.UTC(p.y, p.mo, p.d);
      return {
        _id: doc._id,
        day: new Date(day),
        week: new Date(day - p.wd * DAY),
        month: new Date(Date.UTC(p.y, p.mo, 1)),
        sixHours: new Date(Date.UTC(p.y, p.mo, p.d, p.h - (p.h % 6))),
      };
    });
    expectRows(actual, expected);
  });

  it("$dateToString with formats, the default format and a UTC offset", async () => {
    const actual = await project({
      day: { $dateToString: { date: "$createdAt", format: "%Y-%m-%d" } },
      iso: { $dateToString: { date: "$createdAt" } },
      local: {
        $dateToString: { date: "$createdAt", format: "%Y-%m-%d %H:%M", timezone: "+05:30" },
      },
      dayOfYear: { $dateToString: { date: "$createdAt", format: "%j" } },
    });
    const expected = DATA.map((doc) => {
      const ms = doc.createdAt.getTime();
      const l = utcParts(ms + 330 * 60_000);
      const p = utcParts(ms);
      return {
        _id: doc._id,
        day: doc.createdAt.toISOString().slice(0, 10),
        iso: doc.createdAt.toISOString(),
        local: `${l.y}-${pad(l.mo + 1)}-${pad(l.d)} ${pad(l.h)}:${pad(l.mi)}`,
        dayOfYear: pad((Date.UTC(p.y, p.mo, p.d) - Date.UTC(p.y, 0, 1)) / DAY + 1, 3),
      };
    });
    expectRows(actual, expected);
  });
});

describe("arithmetic expressions", () => {
  it("$add, $subtract, $multiply, $divide on numbers and dates; null propagates", async () => {
    const actual = await project({
      nextDay: { $add: ["$createdAt", DAY] },
      dayBefore: { $subtract: ["$createdAt", DAY] },
      msSinceEpoch: { $subtract: ["$createdAt", EPOCH] },
      latencyPlus: { $add: ["$latencyMs", 5, "$rating"] },
      latencyMinus: { $subtract: ["$latencyMs", 20] },
      ratingPct: { $multiply: ["$rating", 20] },
      latencySec: { $divide: ["$latencyMs", 1000] },
    });
    const expected = DATA.map((d) => ({
      _id: d._id,
      nextDay: new Date(d.createdAt.getTime() + DAY),
      dayBefore: new Date(d.createdAt.getTime() - DAY),
      msSinceEpoch: d.createdAt.getTime() - EPOCH.getTime(),
      latencyPlus: d.rating === undefined ? null : d.latencyMs + 5 + d.rating,
      latencyMinus: d.latencyMs - 20,
      ratingPct: d.rating === undefined ? null : d.rating * 20,
      latencySec: d.latencyMs / 1000,
    }));
    expectRows(actual, expected);
  });

  it("$round to positive, zero and negative places, ties to even", async () => {
    const actual = await project({
      eighth: { $round: [{ $divide: ["$latencyMs", 8] }, 2] },
      quarter: { $round: [{ $divide: ["$latencyMs", 4] }, 1] },
      half: { $round: [{ $divide: ["$latencyMs", 2] }, 0] },
      tens: { $round: ["$latencyMs", -1] },
    });
    const expected = DATA.map((d) => ({
      _id: d._id,
      eighth: roundHalfEven(d.latencyMs, 8, 2),
      quarter: roundHalfEven(d.latencyMs, 4, 1),
      half: roundHalfEven(d.latencyMs, 2, 0),
      tens: roundHalfEven(d.latencyMs, 1, -1),
    }));
    expectRows(actual, expected);
  });
});

describe("comparison expressions", () => {
  it("$cmp, $eq, $ne, $gt, $gte, $lt, $lte; a missing field sorts below numbers", async () => {
    const actual = await project({
      cmp500: { $cmp: ["$latencyMs", 500] },
      fast: { $lt: ["$latencyMs", 200] },
      notSlow: { $lte: ["$latencyMs", 999] },
      isRating: { $eq: ["$kind", "rating"] },
      paid: { $ne: ["$user.plan", "free"] },
      high: { $gt: ["$rating", 3] },
      lowOrNone: { $lte: ["$rating", 2] },
      recent: { $gte: ["$createdAt", new Date("2025-02-15T00:00:00Z")] },
    });
    const cutoff = Date.parse("2025-02-15T00:00:00Z");
    const expected = DATA.map((d) => ({
      _id: d._id,
      cmp500: Math.sign(d.latencyMs - 500),
      fast: d.latencyMs < 200,
      notSlow: d.latencyMs <= 999,
      isRating: d.kind === "rating",
      paid: d.user.plan !== "free",
      high: d.rating !== undefined && d.rating > 3,
      lowOrNone: d.rating === undefined || d.rating <= 2,
      recent: d.createdAt.getTime() >= cutoff,
    }));
    expectRows(actual, expected);
  });
});

describe("array expressions", () => {
  it("$size, $filter, $map, $in, $arrayElemAt (out of range leaves the field out)", async () => {
    const serious = ["latency", "hallucination", "urgent"];
    const actual = await project({
      tagCount: { $size: "$tags" },
      serious: { $filter: { input: "$tags", as: "t", cond: { $in: ["$$t", serious] } } },
      hashTags: { $map: { input: "$tags", as: "t", in: { $concat: ["#", "$$t"] } } },
      urgent: { $in: ["urgent", "$tags"] },
      firstTag: { $arrayElemAt: ["$tags", 0] },
      lastTag: { $arrayElemAt: ["$tags", -1] },
    });
    const expected = DATA.map((d) => {
      const row: Document = {
        _id: d._id,
        tagCount: d.tags.length,
        serious: d.tags.filter((tag) => serious.includes(tag)),
        hashTags: d.tags.map((tag) => `#${tag}`),
        urgent: d.tags.includes("urgent"),
      };
      if (d.tags.length > 0) {
        row.firstTag = d.tags[0];
        row.lastTag = d.tags.at(-1);
      }
      return row;
    });
    expectRows(actual, expected);
    for (const row of actual) {
      if (row.tagCount === 0) expect("firstTag" in row || "lastTag" in row).toBe(false);
    }
  });
});

describe("string expressions", () => {
  it("$concat, $toLower, $substrCP, $split, with null handling", async () => {
    const actual = await project({
      label: { $concat: ["$modelVersion", "/", "$kind"] },
      labelled: { $concat: ["$modelVersion", ": ", "$comment"] },
      lower: { $toLower: "$comment" },
      snippet: { $substrCP: [{ $ifNull: ["$comment", ""] }, 1, 4] },
      words: {
        $cond: [
          { $eq: [{ $type: "$comment" }, "string"] },
          { $split: ["$comment", " "] },
          "$$REMOVE",
        ],
      },
    });
    const expected = DATA.map((d) => {
      const row: Document = {
        _id: d._id,
        label: `${d.modelVersion}/${d.kind}`,
        // $concat is null as soon as one argument is null.
        labelled: d.comment === null ? null : `${d.modelVersion}: ${d.comment}`,
        // $toLower turns null into the empty string; it only lower-cases ASCII letters.
        lower: (d.comment ?? "").replace(/[A-Z]/g, (c) => c.toLowerCase()),
        // Code points, not UTF-16 units: an emoji is one character here.
        snippet: Array.from(d.comment ?? "")
          .slice(1, 5)
          .join(""),
      };
      if (d.comment !== null) row.words = d.comment.split(" ");
      return row;
    });
    expect(DATA.some((d) => d.comment?.includes("👍"))).toBe(true);
    expectRows(actual, expected);
  });
});

describe("documented edge cases on literal inputs", () => {
  it("$round ties to even; $divide returns a double; $concat/$toLower with null", async () => {
    const [row] = await feedback()
      .aggregate([
        { $limit: 1 },
        {
          $project: {
            _id: 0,
            r1: { $round: [10.5, 0] },
            r2: { $round: [11.5, 0] },
            r3: { $round: [12.5, 0] },
            r4: { $round: [-2.5, 0] },
            r5: { $round: [19.25, 1] },
            r6: { $round: [1234.5678, -2] },
            div: { $divide: [7, 2] },
            cat: { $concat: ["a", null, "b"] },
            low: { $toLower: null },
            sub: { $substrCP: ["héllo👍wörld", 4, 3] },
            split: { $split: ["a-b--c", "-"] },
            elem: { $arrayElemAt: [[1, 2, 3], 5] },
            size: { $size: [[1, [2, 3]]] },
          },
        },
      ])
      .toArray();
    expect(row).toEqual({
      r1: 10,
      r2: 12,
      r3: 12,
      r4: -2,
      r5: 19.2,
      r6: 1200,
      div: 3.5,
      cat: null,
      low: "",
      sub: "o👍w",
      split: ["a", "b", "", "c"],
      size: 2,
    });
    expect(row && "elem" in row).toBe(false);
  });
});
