import type { Threshold } from "../thresholds.js";

/** A threshold value as people read it: 0.005 → "0.5%", 1209600 s → "14 days", 5000 → "5,000". */
export function formatThreshold(unit: Threshold["unit"], value: number): string {
  if (unit === "ratio") return `${Number((value * 100).toPrecision(6))}%`;
  if (unit === "seconds") {
    const days = value / 86_400;
    return Number.isInteger(days) ? `${days} days` : `${value} s`;
  }
  return value.toLocaleString("en-US");
}

/** The PromQL comparison that is true on the bad side of the threshold. */
export function badSideOperator(threshold: Threshold): "<" | "<=" | ">" | ">=" {
  if (threshold.direction === "above") return threshold.inclusive ? ">=" : ">";
  return threshold.inclusive ? "<=" : "<";
}

/** The recording rule that de-duplicates a gauge every replica exports alike. */
export function recordedGauge(metric: string, windowed: boolean): string {
  return windowed ? `job_model_window:${metric}:max` : `job_model:${metric}:max`;
}

/** Where a runbook section lives; relative to the repository unless a base URL is given. */
export function runbookUrl(base: string, anchor: string): string {
  return `${base}#${anchor}`;
}
