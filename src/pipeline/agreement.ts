/**
 * Inter-annotator agreement: Cohen's κ (two raters), Fleiss' κ (many raters, categorical) and
 * Krippendorff's α (any number of raters, missing data, nominal to ratio scales), plus the plain
 * pairwise agreement the seed's "preference consistency > 80%" rule is stated in.
 *
 * Pure functions over plain values, so the pipeline, the integrations (expert annotations from
 * Argilla and Label Studio) and the tests share one implementation. Each returns `null` where the
 * statistic is undefined (no pairable data, or every rating in one category so chance agreement is
 * already perfect) rather than a misleading 0 or 1.
 */

export type Category = string | number | boolean;

export interface CohenResult {
  readonly kappa: number;
  /** Observed proportion of agreement. */
  readonly observed: number;
  /** Agreement expected by chance from each rater's marginals. */
  readonly expected: number;
  /** Items both raters judged. */
  readonly items: number;
}

/**
 * Cohen's κ for two raters over the same items: κ = (pₒ − pₑ) / (1 − pₑ). Pairs with a missing
 * side must be left out by the caller; κ is defined only over items both raters judged.
 */
export function cohensKappa(
  pairs: ReadonlyArray<readonly [Category, Category]>,
): CohenResult | null {
  const n = pairs.length;
  if (n === 0) return null;
  const first = new Map<Category, number>();
  const second = new Map<Category, number>();
  let agreed = 0;
  for (const [a, b] of pairs) {
    if (a === b) agreed += 1;
    first.set(a, (first.get(a) ?? 0) + 1);
    second.set(b, (second.get(b) ?? 0) + 1);
  }
  let expected = 0;
  for (const [category, count] of first)
    expected += (count / n) * ((second.get(category) ?? 0) / n);
  const observed = agreed / n;
  if (expected >= 1) return null;
  return { kappa: (observed - expected) / (1 - expected), observed, expected, items: n };
}

export interface FleissResult {
  readonly kappa: number;
  /** Mean per-item agreement P̄. */
  readonly observed: number;
  /** Chance agreement P̄ₑ from the pooled category proportions. */
  readonly expected: number;
  readonly items: number;
}

/**
 * Fleiss' κ from per-item category counts (`counts[item][category]` = raters who chose that
 * category). Items may have different numbers of raters (each item's agreement uses its own
 * count, the usual generalisation); items with fewer than two ratings carry no agreement and are
 * skipped. With equal rater counts this is exactly Fleiss (1971).
 */
export function fleissKappa(counts: ReadonlyArray<ReadonlyArray<number>>): FleissResult | null {
  for (const row of counts) {
    for (const count of row) {
      if (!Number.isInteger(count) || count < 0) {
        throw new RangeError(`category counts must be non-negative integers, got ${count}`);
      }
    }
  }
  const rows = counts.filter((row) => sum(row) >= 2);
  if (rows.length === 0) return null;
  const width = Math.max(...rows.map((row) => row.length));
  const totals = new Array<number>(width).fill(0);
  let ratings = 0;
  let agreementSum = 0;
  for (const row of rows) {
    const m = sum(row);
    ratings += m;
    let pairsAgreeing = 0;
    row.forEach((count, category) => {
      totals[category] = (totals[category] ?? 0) + count;
      pairsAgreeing += count * (count - 1);
    });
    agreementSum += pairsAgreeing / (m * (m - 1));
  }
  const observed = agreementSum / rows.length;
  const expected = totals.reduce((acc, total) => acc + (total / ratings) ** 2, 0);
  if (expected >= 1) return null;
  return { kappa: (observed - expected) / (1 - expected), observed, expected, items: rows.length };
}

/** Turns per-item lists of categorical ratings into the count table `fleissKappa` takes. */
export function categoryCounts(items: ReadonlyArray<ReadonlyArray<Category>>): number[][] {
  const index = new Map<Category, number>();
  for (const item of items)
    for (const value of item) if (!index.has(value)) index.set(value, index.size);
  return items.map((item) => {
    const row = new Array<number>(index.size).fill(0);
    for (const value of item) row[index.get(value)!]! += 1;
    return row;
  });
}

/** Krippendorff's levels of measurement: which differences between values count, and how much. */
export type MeasurementLevel = "nominal" | "ordinal" | "interval" | "ratio";

export interface KrippendorffResult {
  readonly alpha: number;
  /** Pairable values (values in units with at least two values). */
  readonly values: number;
  /** Units with at least two values. */
  readonly units: number;
}

/**
 * Krippendorff's α = 1 − Dₒ/Dₑ via the coincidence matrix (Krippendorff 2011, "Computing
 * Krippendorff's Alpha-Reliability"). `units[u]` lists the values the raters gave unit `u`;
 * missing ratings are `null` (or simply absent). Ordinal, interval and ratio levels need numbers.
 */
export function krippendorffAlpha(
  units: ReadonlyArray<ReadonlyArray<Category | null | undefined>>,
  level: MeasurementLevel,
): KrippendorffResult | null {
  const pairable = units
    .map((unit) => unit.filter((value): value is Category => value !== null && value !== undefined))
    .filter((unit) => unit.length >= 2);
  if (pairable.length === 0) return null;
  if (level !== "nominal") {
    for (const unit of pairable) {
      for (const value of unit) {
        if (typeof value !== "number" || !Number.isFinite(value)) {
          throw new TypeError(`${level} α needs finite numbers, got ${String(value)}`);
        }
      }
    }
  }

  // Coincidences: every ordered pair of values from different raters in one unit, weighted
  // 1/(mᵤ − 1) so each unit contributes its mᵤ values once.
  const coincidence = new Map<Category, Map<Category, number>>();
  for (const unit of pairable) {
    const weight = 1 / (unit.length - 1);
    for (let i = 0; i < unit.length; i++) {
      for (let j = 0; j < unit.length; j++) {
        if (i === j) continue;
        const c = unit[i]!;
        const k = unit[j]!;
        const row = coincidence.get(c) ?? new Map<Category, number>();
        row.set(k, (row.get(k) ?? 0) + weight);
        coincidence.set(c, row);
      }
    }
  }
  const marginals = new Map<Category, number>();
  for (const [c, row] of coincidence) marginals.set(c, sum([...row.values()]));
  const n = sum([...marginals.values()]);
  const distance = distanceFunction(level, marginals);

  let disagreementObserved = 0;
  for (const [c, row] of coincidence) {
    for (const [k, o] of row) disagreementObserved += o * distance(c, k);
  }
  let disagreementExpected = 0;
  for (const [c, nc] of marginals) {
    for (const [k, nk] of marginals) disagreementExpected += nc * nk * distance(c, k);
  }
  if (disagreementExpected === 0) return null;
  return {
    alpha: 1 - ((n - 1) * disagreementObserved) / disagreementExpected,
    values: Math.round(n),
    units: pairable.length,
  };
}

function distanceFunction(
  level: MeasurementLevel,
  marginals: ReadonlyMap<Category, number>,
): (c: Category, k: Category) => number {
  switch (level) {
    case "nominal":
      return (c, k) => (c === k ? 0 : 1);
    case "interval":
      return (c, k) => ((c as number) - (k as number)) ** 2;
    case "ratio":
      return (c, k) => {
        const a = c as number;
        const b = k as number;
        return a + b === 0 ? 0 : ((a - b) / (a + b)) ** 2;
      };
    case "ordinal": {
      // The ordinal distance between two values is the mass of values between them, with the
      // two ends counted half: (Σ_{g=c..k} n_g − (n_c + n_k)/2)².
      const ranked = [...marginals.keys()].map(Number).sort((a, b) => a - b);
      const cumulative = new Map<number, number>();
      let running = 0;
      for (const value of ranked) {
        running += marginals.get(value)!;
        cumulative.set(value, running);
      }
      return (c, k) => {
        const low = Math.min(c as number, k as number);
        const high = Math.max(c as number, k as number);
        const between = cumulative.get(high)! - cumulative.get(low)! + marginals.get(low)!;
        return (between - (marginals.get(low)! + marginals.get(high)!) / 2) ** 2;
      };
    }
  }
}

export interface PairwiseAgreement {
  /** Share of rater pairs, over all items, that gave the same answer. */
  readonly agreement: number;
  /** Rater pairs compared. */
  readonly pairs: number;
  readonly items: number;
}

/**
 * Raw pairwise agreement: of all pairs of raters who judged the same item, the share that agree.
 * This is the figure the seed's preference-data rule states ("inter-annotator agreement > 80%").
 */
export function pairwiseAgreement(
  items: ReadonlyArray<ReadonlyArray<Category>>,
): PairwiseAgreement | null {
  let agreeing = 0;
  let pairs = 0;
  let counted = 0;
  for (const item of items) {
    if (item.length < 2) continue;
    counted += 1;
    const tally = new Map<Category, number>();
    for (const value of item) tally.set(value, (tally.get(value) ?? 0) + 1);
    for (const count of tally.values()) agreeing += (count * (count - 1)) / 2;
    pairs += (item.length * (item.length - 1)) / 2;
  }
  if (pairs === 0) return null;
  return { agreement: agreeing / pairs, pairs, items: counted };
}

function sum(values: ReadonlyArray<number>): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}
