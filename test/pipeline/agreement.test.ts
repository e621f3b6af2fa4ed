import { describe, expect, it } from "vitest";
import {
  type Category,
  categoryCounts,
  cohensKappa,
  fleissKappa,
  krippendorffAlpha,
  pairwiseAgreement,
} from "../../src/pipeline/agreement.js";

function pairsFromTable(table: { yy: number; yn: number; ny: number; nn: number }) {
  const pairs: Array<[Category, Category]> = [];
  const push = (count: number, a: string, b: string) => {
    for (let i = 0; i < count; i++) pairs.push([a, b]);
  };
  push(table.yy, "yes", "yes");
  push(table.yn, "yes", "no");
  push(table.ny, "no", "yes");
  push(table.nn, "no", "no");
  return pairs;
}

describe("Cohen's kappa", () => {
  it("matches the textbook grant-proposal example (κ = 0.4)", () => {
    // 50 proposals: both yes 20, A yes/B no 5, A no/B yes 10, both no 15.
    const result = cohensKappa(pairsFromTable({ yy: 20, yn: 5, ny: 10, nn: 15 }))!;
    expect(result.observed).toBeCloseTo(0.7, 10);
    expect(result.expected).toBeCloseTo(0.5, 10);
    expect(result.kappa).toBeCloseTo(0.4, 10);
  });

  it("separates equal raw agreement with different marginals (0.1304 vs 0.2593)", () => {
    expect(cohensKappa(pairsFromTable({ yy: 45, yn: 15, ny: 25, nn: 15 }))!.kappa).toBeCloseTo(
      0.1304,
      4,
    );
    expect(cohensKappa(pairsFromTable({ yy: 25, yn: 35, ny: 5, nn: 35 }))!.kappa).toBeCloseTo(
      0.2593,
      4,
    );
  });

  it("is 1 for perfect agreement and undefined when chance agreement is already perfect", () => {
    expect(cohensKappa(pairsFromTable({ yy: 3, yn: 0, ny: 0, nn: 2 }))!.kappa).toBe(1);
    expect(cohensKappa(pairsFromTable({ yy: 4, yn: 0, ny: 0, nn: 0 }))).toBeNull();
    expect(cohensKappa([])).toBeNull();
  });
});

describe("Fleiss' kappa", () => {
  // Fleiss (1971) style worked example: 10 subjects, 14 raters each, 5 categories.
  const table = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
  ];

  it("matches the worked example (P̄ = 0.378, P̄e = 0.213, κ = 0.210)", () => {
    const result = fleissKappa(table)!;
    expect(result.observed).toBeCloseTo(0.378, 3);
    expect(result.expected).toBeCloseTo(0.213, 3);
    expect(result.kappa).toBeCloseTo(0.21, 3);
  });

  it("gives the same result from per-item rating lists", () => {
    const lists = table.map((row) => row.flatMap((count, category) => Array(count).fill(category)));
    expect(fleissKappa(categoryCounts(lists))!.kappa).toBeCloseTo(0.21, 3);
  });

  it("skips items with a single rating and refuses impossible counts", () => {
    expect(
      fleissKappa([
        [1, 0],
        [0, 1],
      ]),
    ).toBeNull();
    expect(
      fleissKappa([
        [2, 0],
        [0, 2],
        [1, 0],
      ])!.kappa,
    ).toBe(1);
    expect(() => fleissKappa([[2, -1]])).toThrow(RangeError);
  });
});

describe("Krippendorff's alpha", () => {
  // Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": 4 observers, 12 units,
  // values 1–5, with missing data. Published: nominal .743, ordinal .815, interval .849, ratio .797.
  const n = null;
  const observers = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
    [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n],
  ];
  const units = observers[0]!.map((_, u) => observers.map((row) => row[u]!));

  it.each([
    ["nominal", 0.743],
    ["ordinal", 0.815],
    ["interval", 0.849],
    ["ratio", 0.797],
  ] as const)("matches the published %s value %d", (level, expected) => {
    const result = krippendorffAlpha(units, level)!;
    expect(result.alpha).toBeCloseTo(expected, 3);
    // Unit 12 has one value and carries no pairable data.
    expect(result.units).toBe(11);
    expect(result.values).toBe(40);
  });

  it("refuses non-numbers on numeric levels and is undefined without variation", () => {
    expect(() => krippendorffAlpha([["a", "b"]], "interval")).toThrow(TypeError);
    expect(
      krippendorffAlpha(
        [
          [1, 1],
          [1, 1],
        ],
        "nominal",
      ),
    ).toBeNull();
    expect(krippendorffAlpha([[1], [2]], "nominal")).toBeNull();
  });
});

describe("pairwise agreement", () => {
  it("counts agreeing rater pairs over all pairs", () => {
    // Item 1: A,A,B → 1 of 3 pairs agree; item 2: A,A → 1 of 1; item 3 has one rating.
    const result = pairwiseAgreement([["A", "A", "B"], ["A", "A"], ["B"]])!;
    expect(result.pairs).toBe(4);
    expect(result.items).toBe(2);
    expect(result.agreement).toBeCloseTo(0.5, 10);
    expect(pairwiseAgreement([["A"]])).toBeNull();
  });
});
