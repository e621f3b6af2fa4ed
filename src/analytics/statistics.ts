import { errorFunction } from "simple-statistics";

/**
 * The statistics behind model-version comparisons, apart from the aggregation pipelines that
 * count the successes and trials: pure functions of numbers, testable without a database.
 */

/** A two-sided two-proportion z-test of candidate against baseline. */
export interface ProportionTest {
  /** candidate − baseline positive rate, in absolute terms (0.05 = five points better). */
  readonly positiveRateDifference: number | null;
  /** Two-sided two-proportion z-test (pooled standard error). */
  readonly zScore: number | null;
  readonly pValue: number | null;
  /** Interval for the difference at the confidence level (unpooled standard error). */
  readonly differenceLow: number | null;
  readonly differenceHigh: number | null;
  readonly significant: boolean;
}

/**
 * Standard normal CDF from simple-statistics' error function (accurate to ~1e-7); its
 * `cumulativeStdNormalProbability` is a two-decimal table and its `probit` is off in the third
 * decimal, both too coarse for p-values and interval bounds.
 */
export function normalCdf(z: number): number {
  return 0.5 * (1 + errorFunction(z / Math.SQRT2));
}

/** Inverse of the standard normal CDF by bisection. */
function normalQuantile(probability: number): number {
  let low = -10;
  let high = 10;
  for (let step = 0; step < 100; step++) {
    const middle = (low + high) / 2;
    if (normalCdf(middle) < probability) low = middle;
    else high = middle;
  }
  return (low + high) / 2;
}

export function twoProportionTest(
  baseline: { successes: number; trials: number },
  candidate: { successes: number; trials: number },
  confidenceLevel: number,
): ProportionTest {
  if (baseline.trials === 0 || candidate.trials === 0) {
    return {
      positiveRateDifference: null,
      zScore: null,
      pValue: null,
      differenceLow: null,
      differenceHigh: null,
      significant: false,
    };
  }
  const p1 = baseline.successes / baseline.trials;
  const p2 = candidate.successes / candidate.trials;
  const difference = p2 - p1;
  const pooled = (baseline.successes + candidate.successes) / (baseline.trials + candidate.trials);
  const pooledError = Math.sqrt(
    pooled * (1 - pooled) * (1 / baseline.trials + 1 / candidate.trials),
  );
  const zScore = pooledError === 0 ? 0 : difference / pooledError;
  const pValue =
    pooledError === 0 ? 1 : Math.min(1, Math.max(0, 2 * (1 - normalCdf(Math.abs(zScore)))));
  const unpooledError = Math.sqrt(
    (p1 * (1 - p1)) / baseline.trials + (p2 * (1 - p2)) / candidate.trials,
  );
  const critical = normalQuantile(1 - (1 - confidenceLevel) / 2);
  return {
    positiveRateDifference: difference,
    zScore,
    pValue,
    differenceLow: difference - critical * unpooledError,
    differenceHigh: difference + critical * unpooledError,
    significant: pValue < 1 - confidenceLevel,
  };
}
