import {
  alertLabels,
  allThresholds,
  metricNames,
  metricWindows,
  type Threshold,
  windowRefreshFailing,
} from "../thresholds.js";
import { badSideOperator, formatThreshold, recordedGauge, runbookUrl } from "./format.js";

/** Prometheus rule files as data (the YAML `groups:` document). */
export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
}
export interface AlertingRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}
export interface RuleGroup {
  readonly name: string;
  readonly interval: string;
  readonly rules: ReadonlyArray<RecordingRule | AlertingRule>;
}
export interface RuleFile {
  readonly groups: readonly RuleGroup[];
}

/** Window gauges every replica computes from the same database: identical series per instance. */
const windowGauges = [
  metricNames.positiveFeedbackRatio,
  metricNames.correctionRatio,
  metricNames.safetyFlagRatio,
  metricNames.feedbackCollectionRatio,
  metricNames.negativeFeedbackRatio,
  metricNames.windowInteractions,
  metricNames.windowJudgements,
] as const;
const modelGauges = [
  metricNames.knowledgeGaps7d,
  metricNames.preferencePairsSinceTraining,
  metricNames.timeToImprovementSeconds,
  metricNames.modelImprovementRatio,
] as const;

/** Counter rates per model that dashboards plot; recorded so each panel reads one small series. */
const modelCounters = [
  metricNames.interactionsRecorded,
  metricNames.safetyFlags,
  metricNames.corrections,
  metricNames.knowledgeGaps,
  metricNames.preferencePairs,
] as const;

/** `loopgate_corrections_total` → `job_model:loopgate_corrections:rate5m` (rules.md naming). */
export function recordedRate(counter: string, level = "job_model"): string {
  return `${level}:${counter.replace(/_total$/, "")}:rate5m`;
}

/**
 * The value the alert reports: the breaching gauge, only where enough items were counted. With
 * `recorded: false` it reads the raw gauges (for Grafana-managed rules, which must not depend on
 * Prometheus having loaded Loopgate's recording rules).
 */
export function alertValueExpr(threshold: Threshold, recorded = true): string {
  const windowed = threshold.window !== undefined;
  const selector = windowed ? `{window="${threshold.window}"}` : "";
  const series = (metric: string, isWindowed: boolean) =>
    recorded
      ? `${recordedGauge(metric, isWindowed)}${selector}`
      : `max by (job, model${isWindowed ? ", window" : ""}) (${metric}${selector})`;
  const value = series(threshold.metric, windowed);
  if (!threshold.guard) return value;
  const volume = series(threshold.guard.volumeMetric, true);
  return `${value}\nand on (job, model, window)\n${volume} >= ${threshold.guard.minVolume}`;
}

export function alertExpr(threshold: Threshold): string {
  const windowed = threshold.window !== undefined;
  const selector = windowed ? `{window="${threshold.window}"}` : "";
  const condition = `${recordedGauge(threshold.metric, windowed)}${selector} ${badSideOperator(threshold)} ${threshold.threshold}`;
  if (!threshold.guard) return condition;
  // The guard drops models whose window holds too few items, so 1 bad answer of 3 never fires.
  const volume = `${recordedGauge(threshold.guard.volumeMetric, true)}${selector}`;
  return `${condition}\nand on (job, model, window)\n${volume} >= ${threshold.guard.minVolume}`;
}

const humanize: Record<Threshold["unit"], string> = {
  ratio: "humanizePercentage",
  count: "humanize",
  seconds: "humanizeDuration",
};

const volumeNouns: Partial<Record<string, string>> = {
  [metricNames.windowInteractions]: "interactions",
  [metricNames.windowJudgements]: "binary and rating feedback items",
};

export function alertDescription(threshold: Threshold, valueTemplate: string): string {
  const over = threshold.window ? ` over the last ${threshold.window}` : "";
  const side = threshold.direction === "above" ? "above" : "below";
  const alertAt = `${threshold.inclusive ? "at or " : ""}${side} ${formatThreshold(threshold.unit, threshold.threshold)}`;
  const target =
    "target" in threshold && threshold.target !== undefined
      ? `, target ${threshold.direction === "above" ? "below" : "above"} ${formatThreshold(threshold.unit, threshold.target)}`
      : "";
  const guard = threshold.guard
    ? ` Evaluated only when the window holds at least ${threshold.guard.minVolume} ${volumeNouns[threshold.guard.volumeMetric] ?? "items"}.`
    : "";
  return `${threshold.title} of model {{ $labels.model }} is ${valueTemplate}${over} (alert ${alertAt}${target}).${guard}`;
}

export function alertLabelsOf(threshold: Threshold): Record<string, string> {
  const labels: Record<string, string> = {
    [alertLabels.severity]: threshold.severity,
    loopgate_metric: threshold.id,
  };
  if (threshold.trigger) {
    labels[alertLabels.action] = threshold.trigger.action;
    labels[alertLabels.requirement] = threshold.trigger.requirement;
  }
  return labels;
}

function alertingRule(threshold: Threshold, runbookBase: string): AlertingRule {
  return {
    alert: threshold.alert,
    expr: alertExpr(threshold),
    for: threshold.for,
    labels: alertLabelsOf(threshold),
    annotations: {
      summary: `${threshold.summary} (model {{ $labels.model }})`,
      description: alertDescription(threshold, `{{ $value | ${humanize[threshold.unit]} }}`),
      runbook_url: runbookUrl(runbookBase, threshold.runbook),
    },
  };
}

/**
 * Changes for end-to-end tests that must see an alert fire within seconds: the same rules from the
 * same thresholds, with shorter `for:` durations, evaluation intervals and minimum volumes.
 * Production files never use it.
 */
export interface RuleTiming {
  readonly for?: string;
  readonly interval?: string;
  /** Replaces every guard's minimum volume. */
  readonly minVolume?: number;
}

/**
 * Every Prometheus rule, from the thresholds in one place. Recording rules and the alerts that
 * read them share a group, so an alert always sees the value recorded in the same evaluation.
 */
export function buildPrometheusRules(runbookBase: string, timing: RuleTiming = {}): RuleFile {
  const thresholds = allThresholds.map(
    (threshold): Threshold => ({
      ...threshold,
      for: timing.for ?? threshold.for,
      ...(threshold.guard && timing.minVolume !== undefined
        ? { guard: { ...threshold.guard, minVolume: timing.minVolume } }
        : {}),
    }),
  );
  const interval = timing.interval ?? "1m";
  const gaugeRecords: RecordingRule[] = [
    ...windowGauges.map((metric) => ({
      record: recordedGauge(metric, true),
      expr: `max by (job, model, window) (${metric})`,
    })),
    ...modelGauges.map((metric) => ({
      record: recordedGauge(metric, false),
      expr: `max by (job, model) (${metric})`,
    })),
  ];
  const rateRecords: RecordingRule[] = [
    ...modelCounters.map((counter) => ({
      record: recordedRate(counter),
      expr: `sum by (job, model) (rate(${counter}[5m]))`,
    })),
    {
      record: recordedRate(metricNames.feedbackReceived, "job_model_kind_sentiment"),
      expr: `sum by (job, model, kind, sentiment) (rate(${metricNames.feedbackReceived}[5m]))`,
    },
  ];
  const stale = windowRefreshFailing;
  return {
    groups: [
      {
        name: "loopgate-feedback-windows",
        interval,
        rules: [
          ...gaugeRecords,
          ...thresholds.map((threshold) => alertingRule(threshold, runbookBase)),
          {
            alert: stale.alert,
            expr: `sum by (job) (increase(${stale.metric}[${stale.window}])) > ${stale.maxFailures}`,
            for: timing.for ?? stale.for,
            labels: { [alertLabels.severity]: stale.severity },
            annotations: {
              summary: "Window metrics are not refreshing",
              description: `{{ $value | humanize }} refreshes of the window gauges failed in the last ${stale.window} on job {{ $labels.job }}; the gauges (${metricWindows.join(", ")}) show their last good values and the feedback alerts may be stale.`,
              runbook_url: runbookUrl(runbookBase, stale.runbook),
            },
          },
        ],
      },
      { name: "loopgate-traffic", interval, rules: rateRecords },
    ],
  };
}
