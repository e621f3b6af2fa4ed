import { ObjectId } from "mongodb";
import { describe, expect, it } from "vitest";
import {
  boundValues,
  jensenShannon,
  promptLengthBucket,
  valueAt,
} from "../../src/pipeline/audit.js";
import { agreementOf, sampled } from "../../src/pipeline/rlaif.js";

const counts = (entries: Record<string, number>) => new Map(Object.entries(entries));

describe("Jensen–Shannon divergence (base 2)", () => {
  it("is 0 for the same distribution, whatever the totals", () => {
    expect(jensenShannon(counts({ a: 3, b: 1 }), counts({ a: 30, b: 10 }))).toBeCloseTo(0, 12);
  });

  it("is 1 for distributions with nothing in common", () => {
    expect(jensenShannon(counts({ a: 5 }), counts({ b: 2 }))).toBeCloseTo(1, 12);
  });

  it("matches hand-computed values", () => {
    // P = (1/2, 1/2), Q = (1, 0): M = (3/4, 1/4);
    // KL(P‖M) = ½·log2(2/3) + ½·log2(2) = 0.2075187…, KL(Q‖M) = log2(4/3) = 0.4150375…
    // JS = ½(0.2075187 + 0.4150375) = 0.3112781…
    expect(jensenShannon(counts({ a: 1, b: 1 }), counts({ a: 4 }))).toBeCloseTo(0.3112781245, 9);
    // P = (0.9, 0.1), Q = (0.1, 0.9): M = (½, ½);
    // KL(P‖M) = 0.9·log2(1.8) + 0.1·log2(0.2) = 0.7631968 − 0.2321928 = 0.5310040 = KL(Q‖M)
    expect(jensenShannon(counts({ x: 9, y: 1 }), counts({ x: 1, y: 9 }))).toBeCloseTo(0.531004, 6);
    // Symmetric.
    expect(jensenShannon(counts({ x: 1, y: 9 }), counts({ x: 9, y: 1 }))).toBeCloseTo(0.531004, 6);
  });

  it("is undefined (null) when a side has no data", () => {
    expect(jensenShannon(counts({}), counts({ a: 1 }))).toBeNull();
    expect(jensenShannon(counts({ a: 1 }), counts({ a: 0 }))).toBeNull();
  });
});

describe("audit helpers", () => {
  it("buckets prompt lengths by characters", () => {
    expect(promptLengthBucket("")).toBe("0-49");
    expect(promptLengthBucket("x".repeat(49))).toBe("0-49");
    expect(promptLengthBucket("x".repeat(50))).toBe("50-199");
    expect(promptLengthBucket("é".repeat(999))).toBe("200-999");
    expect(promptLengthBucket("x".repeat(4_999))).toBe("1000-4999");
    expect(promptLengthBucket("x".repeat(5_000))).toBe("5000+");
  });

  it("reads scalar values at dotted paths only", () => {
    const doc = {
      metadata: { plan: "pro", seats: 3, beta: true, nested: { a: "x" }, list: ["a"] },
    };
    expect(valueAt(doc, "metadata.plan")).toBe("pro");
    expect(valueAt(doc, "metadata.seats")).toBe("3");
    expect(valueAt(doc, "metadata.beta")).toBe("true");
    expect(valueAt(doc, "metadata.nested.a")).toBe("x");
    expect(valueAt(doc, "metadata.nested")).toBeUndefined();
    expect(valueAt(doc, "metadata.list")).toBeUndefined();
    expect(valueAt(doc, "metadata.missing.deeper")).toBeUndefined();
  });

  it("keeps the largest values, ties by name", () => {
    expect([...boundValues(counts({ a: 1, b: 5, c: 5, d: 2 }), 3)]).toEqual(["b", "c", "d"]);
  });
});

describe("sampling by id hash", () => {
  const ids = Array.from({ length: 4_000 }, () => new ObjectId());

  it("gives the same answer for the same id, and all or nothing at 1 and 0", () => {
    for (const id of ids.slice(0, 200)) {
      expect(sampled(id, 0.3)).toBe(sampled(new ObjectId(id.toHexString()), 0.3));
      expect(sampled(id, 1)).toBe(true);
      expect(sampled(id, 0)).toBe(false);
    }
  });

  it("samples close to the rate, and a higher rate keeps every earlier pick", () => {
    const low = ids.filter((id) => sampled(id, 0.1));
    const high = ids.filter((id) => sampled(id, 0.3));
    expect(low.length / ids.length).toBeGreaterThan(0.07);
    expect(low.length / ids.length).toBeLessThan(0.13);
    expect(high.length / ids.length).toBeGreaterThan(0.26);
    expect(high.length / ids.length).toBeLessThan(0.34);
    for (const id of low) expect(sampled(id, 0.3)).toBe(true);
  });
});

describe("cross-validation agreement", () => {
  it("computes Cohen's κ and percent agreement from pass/fail counts", () => {
    // 20 items: both pass 10, first only 2, second only 3, both fail 5.
    // p_o = 15/20 = 0.75; first passes 12/20, second 13/20;
    // p_e = 0.6·0.65 + 0.4·0.35 = 0.53; κ = (0.75 − 0.53)/(1 − 0.53) = 0.468085…
    const figure = agreementOf(
      {
        judges: ["a", "b"],
        bothPassed: 10,
        firstOnly: 2,
        secondOnly: 3,
        neitherPassed: 5,
        sameCategory: 16,
      },
      { id: "r", version: "1" },
    );
    expect(figure.items).toBe(20);
    expect(figure.percentAgreement).toBeCloseTo(0.75, 12);
    expect(figure.kappa).toBeCloseTo(0.4680851064, 9);
    expect(figure.categoryAgreement).toBeCloseTo(0.8, 12);
    expect(figure.flagged).toBe(true);
  });

  it("is undefined without items and not flagged above 80%", () => {
    const empty = agreementOf(
      {
        judges: ["a", "b"],
        bothPassed: 0,
        firstOnly: 0,
        secondOnly: 0,
        neitherPassed: 0,
        sameCategory: 0,
      },
      { id: "r", version: "1" },
    );
    expect(empty).toMatchObject({ items: 0, kappa: null, percentAgreement: null, flagged: false });
    const good = agreementOf(
      {
        judges: ["a", "b"],
        bothPassed: 8,
        firstOnly: 1,
        secondOnly: 0,
        neitherPassed: 11,
        sameCategory: 19,
      },
      { id: "r", version: "1" },
    );
    expect(good.percentAgreement).toBeCloseTo(0.95, 12);
    expect(good.flagged).toBe(false);
  });
});
